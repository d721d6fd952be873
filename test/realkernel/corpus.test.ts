/**
 * The corpus of traces recorded on a real kernel (Debian 6.1.0-56-cloud-amd64,
 * the mapping sequences map-*, oops-* on 6.1.0-57, under QEMU, `memhp kernel
 * record`; harness/record-corpus.sh re-records it): every sequence replays
 * under the 6.1 profile with no divergence from what the kernel did and no
 * invariant violated, except that a trace of a kernel bug names the
 * invariants that must flag it. No QEMU is needed here.
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

/** The invariants a `// findings: ...` comment of the trace names, sorted (none for most traces). */
function declaredFindings(file: string): string[] {
  const m = /^\/\/ findings: ([a-z0-9 -]+?)(?: \(|$)/m.exec(readFileSync(join(TRACES, file), 'utf8'));
  return m?.[1] === undefined ? [] : m[1].split(' ').sort();
}

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

  it('bug traces are flagged: each `// findings:` trace names at least one invariant', () => {
    const bugs = files.filter((f) => declaredFindings(f).length > 0);
    expect(bugs.length).toBeGreaterThanOrEqual(4);
    for (const f of bugs) expect(declaredFindings(f).every((i) => /^[a-z][a-z0-9-]+$/.test(i)), f).toBe(true);
  });

  it.each(files)('%s replays under 6.1 with zero divergences and zero violations (or exactly its declared findings)', (file) => {
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
    // A trace of a kernel bug the real kernel showed names the invariants that must flag it
    // (`// findings: a b`): exactly those fire; every other trace violates none.
    const findings = declaredFindings(file);
    if (findings.length === 0) expect(r.violations.map((v) => `seq ${v.seq}: ${v.invariant}: ${v.message}`)).toEqual([]);
    else expect([...new Set(r.violations.map((v) => v.invariant))].sort()).toEqual(findings);
  });
});
