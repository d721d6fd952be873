/**
 * The corpora of traces recorded on real kernels under QEMU (`memhp kernel
 * record`; harness/record-corpus.sh [--kernel-version V] re-records them):
 * test/traces/ on Debian's 6.1 cloud kernel, test/traces-6.12/ on Debian's
 * 6.12 cloud kernel. Every sequence replays under its kernel's profile with
 * no divergence from what the kernel did and no invariant violated. No QEMU
 * is needed here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { parseLogText, shellCommand } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

const MACHINES = ['hmem', 'pmem'] as const;
const CORPORA = [
  { kernel: '6.1', dir: fileURLToPath(new URL('../traces/', import.meta.url)) },
  { kernel: '6.12', dir: fileURLToPath(new URL('../traces-6.12/', import.meta.url)) },
] as const;

function filesOf(dir: string): string[] {
  return MACHINES.flatMap((m) =>
    existsSync(join(dir, m))
      ? readdirSync(join(dir, m))
          .filter((f) => f.endsWith('.jsonl'))
          .map((f) => `${m}/${f}`)
      : [],
  ).sort();
}

const generated = (files: readonly string[], m: string) => files.filter((f) => f.startsWith(`${m}/gen-`)).length;
const scripted = (files: readonly string[], m: string) => files.filter((f) => f.startsWith(`${m}/`) && !f.startsWith(`${m}/gen-`)).length;
const base = filesOf(CORPORA[0].dir);

describe.each(CORPORA)('real-kernel traces of $kernel', ({ kernel, dir }) => {
  const files = filesOf(dir);

  it('holds at least 40 sequences, scripted and generated, on both machines, and at least as many of each per machine as the 6.1 corpus', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const m of MACHINES) {
      expect(generated(files, m), `${m} generated`).toBeGreaterThan(0);
      expect(scripted(files, m), `${m} scripted`).toBeGreaterThan(0);
      expect(generated(files, m), `${m} generated vs 6.1`).toBeGreaterThanOrEqual(generated(base, m));
      expect(scripted(files, m), `${m} scripted vs 6.1`).toBeGreaterThanOrEqual(scripted(base, m));
    }
  });

  it.each(files)(`%s replays under ${kernel} with zero divergences and zero violations`, (file) => {
    const events = parseLogText(readFileSync(join(dir, file), 'utf8'), file).map((l) => l.event);
    const [boot, ...steps] = events;
    expect(boot?.type).toBe('boot');
    if (boot?.type !== 'boot') return;
    expect(boot.kernel).toBe(kernel);
    // A recorded trace: every step carries what the kernel did.
    expect(steps.filter((e) => e.result === undefined).map((e) => e.seq)).toEqual([]);
    expect(steps.length).toBeGreaterThanOrEqual(10);
    const r = replay(events, { check: checkStep });
    const show = (i: number) => {
      const e = events[i];
      return e === undefined ? `#${i}` : shellCommand(e);
    };
    expect(r.divergences.map((d) => `seq ${d.seq}: ${show(d.index)}: kernel ${JSON.stringify(d.recorded)}, model ${JSON.stringify(d.model)}`)).toEqual([]);
    expect(r.violations.map((v) => `seq ${v.seq}: ${v.invariant}: ${v.message}`)).toEqual([]);
  });
});

/**
 * Recordings with extra kernel arguments (harness/experiments/): the harness machines booted with a parameter
 * the corpus machines leave at Debian's default. test/traces-6.12/param/hmem-memmap-on-memory.jsonl has
 * memory_hotplug.memmap_on_memory=1, where the v6.8 per-block memmap_on_memory shows: kmem's 1 GiB add spans
 * eight blocks and each block still holds its own 2 MiB memmap.
 */
describe('6.12 recordings with kernel parameters', () => {
  const dir = fileURLToPath(new URL('../traces-6.12/param/', import.meta.url));
  const file = 'hmem-memmap-on-memory.jsonl';

  it(`${file} replays under 6.12 with zero divergences; onlining a block adds 126 MiB (2 MiB of memmap stay on it)`, () => {
    const events = parseLogText(readFileSync(join(dir, file), 'utf8'), file).map((l) => l.event);
    const [boot] = events;
    if (boot?.type !== 'boot') throw new Error('no boot');
    expect(boot.kernel).toBe('6.12');
    expect(boot.config.memmapOnMemory).toBe(true);
    const r = replay(events, { check: checkStep });
    expect(r.divergences.map((d) => `seq ${d.seq}: kernel ${JSON.stringify(d.recorded)}, model ${JSON.stringify(d.model)}`)).toEqual([]);
    expect(r.violations).toEqual([]);
    const totals = events.flatMap((e) => (e.type === 'read' && e.path === '/proc/meminfo' && e.result?.ok === true ? [Number(/MemTotal:\s+(\d+)/.exec(e.result.value ?? '')?.[1])] : []));
    // Before kmem's add, after it (offline), after onlining block 48: one block less its memmap.
    expect((totals[2] ?? 0) - (totals[1] ?? 0)).toBe(131072 - 2048);
  });
});
