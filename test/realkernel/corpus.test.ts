/**
 * The corpora of traces recorded on real kernels under QEMU (`memhp kernel
 * record`; harness/record-corpus.sh [--kernel-version V] re-records them):
 * test/traces/ on Debian's 6.1 cloud kernel (the mapping sequences map-*,
 * oops-* and the generated ones with program events on 6.1.0-57),
 * test/traces-6.12/ on Debian's 6.12 cloud kernel (its mapping sequences
 * start with harness/sequences/prelude-6.12-hmem.jsonl, which hands dax0.0
 * from kmem to device_dax, and its gen-61xx with program events come from
 * kernel fuzz --programs on 6.12.118). Every sequence replays
 * under its kernel's profile with no divergence from what the kernel did and
 * no invariant violated, except that a trace of a kernel bug names the
 * invariants that must flag it. No QEMU is needed here.
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

/** The invariants a `// findings: ...` comment of the trace names, sorted (none for most traces). */
function declaredFindings(path: string): string[] {
  const m = /^\/\/ findings: ([a-z0-9 -]+?)(?: \(|$)/m.exec(readFileSync(path, 'utf8'));
  return m?.[1] === undefined ? [] : m[1].split(' ').sort();
}

/** A trace of log format 2 (program events): compared apart from the sysfs-only ones. */
function hasPrograms(path: string): boolean {
  return readFileSync(path, 'utf8').includes('"pid"');
}

const generated = (files: readonly string[], m: string) => files.filter((f) => f.startsWith(`${m}/gen-`)).length;
const scripted = (files: readonly string[], m: string) => files.filter((f) => f.startsWith(`${m}/`) && !f.startsWith(`${m}/gen-`)).length;
const base = filesOf(CORPORA[0].dir).filter((f) => !hasPrograms(join(CORPORA[0].dir, f)));
const baseMapping = filesOf(CORPORA[0].dir).filter((f) => hasPrograms(join(CORPORA[0].dir, f)));

describe.each(CORPORA)('real-kernel traces of $kernel', ({ kernel, dir }) => {
  const files = filesOf(dir);
  const sysfsOnly = files.filter((f) => !hasPrograms(join(dir, f)));

  it('holds at least 40 sequences, scripted and generated, on both machines, and at least as many of each per machine as the 6.1 corpus, mapping sequences apart', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    const mapping = files.filter((f) => hasPrograms(join(dir, f)));
    expect(scripted(mapping, 'hmem'), 'hmem scripted mapping vs 6.1').toBeGreaterThanOrEqual(scripted(baseMapping, 'hmem'));
    expect(generated(mapping, 'hmem'), 'hmem generated mapping vs 6.1').toBeGreaterThanOrEqual(generated(baseMapping, 'hmem'));
    for (const m of MACHINES) {
      expect(generated(files, m), `${m} generated`).toBeGreaterThan(0);
      expect(scripted(files, m), `${m} scripted`).toBeGreaterThan(0);
      expect(generated(sysfsOnly, m), `${m} generated vs 6.1`).toBeGreaterThanOrEqual(generated(base, m));
      expect(scripted(sysfsOnly, m), `${m} scripted vs 6.1`).toBeGreaterThanOrEqual(scripted(base, m));
    }
  });

  it('bug traces are flagged: each `// findings:` trace names at least one invariant', () => {
    const bugs = files.filter((f) => declaredFindings(join(dir, f)).length > 0);
    for (const f of bugs) expect(declaredFindings(join(dir, f)).every((i) => /^[a-z][a-z0-9-]+$/.test(i)), f).toBe(true);
    expect(bugs.length).toBeGreaterThanOrEqual(4);
  });

  it.each(files)(`%s replays under ${kernel} with zero divergences and zero violations (or exactly its declared findings)`, (file) => {
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
    // A trace of a kernel bug the real kernel showed names the invariants that must flag it
    // (`// findings: a b`): exactly those fire; every other trace violates none.
    const findings = declaredFindings(join(dir, file));
    if (findings.length === 0) expect(r.violations.map((v) => `seq ${v.seq}: ${v.invariant}: ${v.message}`)).toEqual([]);
    else expect([...new Set(r.violations.map((v) => v.invariant))].sort()).toEqual(findings);
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
