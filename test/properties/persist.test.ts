/**
 * The kmem persistence series under the fuzzer (issue 13, SPEC §10-11):
 * generated machines with `--patches kmem-persist` find every finding of the
 * series from scratch within a fixed budget, the zero-shift semantics finds
 * P3, and with every fix applied the same budget runs clean.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../properties/campaign.js';
import { findingOf, KNOWN_FINDINGS } from '../../properties/findings.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { checkAll } from '../../properties/sequence.js';
import { makeChecker } from '../../properties/invariants/index.js';
import { signatureOf } from '../../properties/findings.js';
import type { PatchName } from '../../src/kernel/patches.js';
import { allTransitions } from '../../properties/coverage.js';

const FIXES: readonly PatchName[] = [
  'kmem-persist-fix-shift',
  'kmem-persist-fix-probe-errors',
  'kmem-persist-fix-unbind',
  'kmem-persist-fix-movable',
  'kmem-persist-fix-ranges',
  'kmem-persist-fix-node-check',
];

describe('the series as posted (seed 2, 2500 runs of up to 40 steps)', () => {
  const r = runCampaign({ seed: 2, runs: 2500, steps: 40, variant: null, outDir: null, patches: ['kmem-persist'] });
  const ids = new Set(r.known.map((k) => findingOf(k.signature)?.id));

  it('finds P1, P2, P4, P5, P6 and P7 from scratch, and nothing unknown', () => {
    expect(r.failures.map((f) => `${f.invariant}: ${f.message}`)).toEqual([]);
    for (const id of ['P1', 'P2', 'P4', 'P5', 'P6', 'P7']) expect(ids.has(id), id).toBe(true);
    // Each with its shortest log, which replays to the same signature.
    for (const k of r.known.filter((x) => findingOf(x.signature)?.id.startsWith('P') === true)) {
      const again = replay(parseLogText(k.log, 'known.jsonl').map((l) => l.event), { check: checkAll(makeChecker()) });
      expect(again.violations.map(signatureOf), k.signature).toContain(k.signature);
      expect(k.firstRun).toBeLessThan(2500);
    }
  });

  it('takes every transition of the kmem_blk block machine (machines/kmemBlock.machine.ts)', () => {
    const blk = allTransitions().filter((t) => t.startsWith('kmemBlock:'));
    expect(blk).toHaveLength(7);
    expect(r.coverage.transitions.missing.filter((t) => t.startsWith('kmemBlock:'))).toEqual([]);
  });

  it('names each finding of the series with a fix patch that exists', () => {
    for (const f of KNOWN_FINDINGS.filter((x) => x.patches?.includes('kmem-persist') === true)) {
      expect('patch' in f.fix && FIXES.includes(f.fix.patch), f.id).toBe(true);
    }
  });
});

describe('where a 32-bit shift by 32..63 is 0 (kmem-persist-zero-shift; seed 4, 3500 runs)', () => {
  it('finds P3: mapped pages freed at probe, then given to another block', () => {
    const r = runCampaign({ seed: 4, runs: 3500, steps: 40, variant: null, outDir: null, patches: ['kmem-persist', 'kmem-persist-zero-shift'] });
    expect(r.failures.map((f) => `${f.invariant}: ${f.message}`)).toEqual([]);
    expect(r.known.map((k) => findingOf(k.signature)?.id)).toContain('P3');
  });
});

describe('with every fix (the same budget, seed 2)', () => {
  it('runs clean: no finding of the series, no failure', () => {
    const r = runCampaign({ seed: 2, runs: 2500, steps: 40, variant: null, outDir: null, patches: ['kmem-persist', 'kmem-persist-zero-shift', ...FIXES] });
    expect(r.failures.map((f) => `${f.invariant}: ${f.message}`)).toEqual([]);
    expect(r.known.map((k) => findingOf(k.signature)?.id).filter((id) => id?.startsWith('P') === true)).toEqual([]);
  });
});
