/**
 * The corpus of traces recorded on a real kernel (Debian 6.1.0-56-cloud-amd64
 * under QEMU, `memhp kernel record`; harness/record-corpus.sh re-records it):
 * every sequence replays under the 6.1 profile with no divergence from what
 * the kernel did and no invariant violated. No QEMU is needed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { parseLogText, shellCommand } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

const TRACES = fileURLToPath(new URL('../traces/', import.meta.url));
const MACHINES = ['hmem', 'pmem'] as const;
const files = MACHINES.flatMap((m) =>
  readdirSync(join(TRACES, m))
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => `${m}/${f}`),
).sort();

function load(file: string) {
  return parseLogText(readFileSync(join(TRACES, file), 'utf8'), file).map((l) => l.event);
}

describe('test/traces: real-kernel traces', () => {
  it('holds at least 40 sequences, scripted and generated, on both machines', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const m of MACHINES) {
      expect(files.filter((f) => f.startsWith(`${m}/gen-`)).length, `${m} generated`).toBeGreaterThan(0);
      expect(files.filter((f) => f.startsWith(`${m}/`) && !f.startsWith(`${m}/gen-`)).length, `${m} scripted`).toBeGreaterThan(0);
    }
  });

  it.each(files)('%s replays under 6.1 with zero divergences and zero violations', (file) => {
    const events = load(file);
    const [boot, ...steps] = events;
    expect(boot?.type).toBe('boot');
    if (boot?.type !== 'boot') return;
    expect(boot.kernel).toBe('6.1');
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
