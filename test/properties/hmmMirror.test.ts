/**
 * The device page-table invariants fail on bad states: an entry left behind
 * where the CPU unmapped the page, an entry naming another page, a WRITE tag
 * over a read-only CPU entry, entries of a gone mm, and counters that do not
 * add up. The states come from the recorded log (dmirror-anon.jsonl), edited.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { parseLogText } from '../../src/log/index.js';
import { replay, type Step } from '../../src/replay/engine.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { MirrorEntry, OpenFile } from '../../src/kernel/mm/types.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';
import { stepOf } from '../helpers/steps.js';

const LOG = 'test/traces-custom/hmm/dmirror-anon.jsonl';
const events = parseLogText(readFileSync(LOG, 'utf8'), LOG).map((l) => l.event);
const r = replay(events, { check: makeChecker() });
/** After seq 9: READ of m1's first 4 pages filled the device page table. */
const afterRead = r.steps.find((s) => s.seq === 9)?.after as KernelState;
const only = (name: string) => makeChecker({ only: [name], paranoid: true });

function dmirrorFile(s: KernelState): [number, OpenFile] {
  for (const [id, f] of s.mm.files) if (f.driver === 'dmirror') return [id, f];
  throw new Error('no dmirror file');
}

function withMirror(s: KernelState, edit: (m: WideIntMap<MirrorEntry>) => WideIntMap<MirrorEntry>, more: Partial<OpenFile> = {}): KernelState {
  const [id, f] = dmirrorFile(s);
  const files = new Map(s.mm.files).set(id, { ...f, ...more, mirror: edit(f.mirror ?? WideIntMap.empty()) });
  return { ...s, mm: { ...s.mm, files } };
}

describe('hmm-mirror-coherent', () => {
  const check = only('hmm-mirror-coherent');
  const first = () => [...(dmirrorFile(afterRead)[1].mirror?.entries() ?? [])][0] as [number, MirrorEntry];

  it('holds on the recorded log', () => {
    expect(r.violations).toEqual([]);
    expect(check(stepOf(null, afterRead)).map((v) => v.message)).toEqual([]);
    expect(dmirrorFile(afterRead)[1].mirror?.size).toBe(4);
  });

  it('fails for an entry where the CPU maps nothing, one naming another page, a WRITE tag over a read-only entry, and entries of a gone mm', () => {
    const [vpfn, e] = first();
    const addr = `0x${(BigInt(vpfn) << 12n).toString(16)}`;
    const stray = withMirror(afterRead, (m) => m.set(vpfn + 1000, e));
    expect(check(stepOf(afterRead, stray)).map((v) => v.message)).toEqual([`/dev/hmm_dmirror0: the device maps 0x${(BigInt(vpfn + 1000) << 12n).toString(16)} to 0x${e.phys.toString(16)}, where the CPU maps nothing`]);
    const moved = withMirror(afterRead, (m) => m.set(vpfn, { ...e, phys: e.phys + 0x1000n }));
    expect(check(stepOf(afterRead, moved)).map((v) => v.message)[0]).toMatch(new RegExp(`^/dev/hmm_dmirror0: the device maps ${addr} to 0x[0-9a-f]+, the CPU to 0x${e.phys.toString(16)}$`));
    // Page 1 was read through the zero page: a read-only CPU entry.
    const [zpfn, z] = [...(dmirrorFile(afterRead)[1].mirror?.entries() ?? [])][1] as [number, MirrorEntry];
    const writable = withMirror(afterRead, (m) => m.set(zpfn, { ...z, tag: 'write' }));
    expect(check(stepOf(afterRead, writable)).map((v) => v.message)).toEqual([`/dev/hmm_dmirror0: the device may write 0x${(BigInt(zpfn) << 12n).toString(16)}, whose CPU entry is read-only`]);
    const gone = withMirror(afterRead, (m) => m, { mm: null });
    expect(check(stepOf(afterRead, gone)).map((v) => v.message)).toEqual(['/dev/hmm_dmirror0: 4 device page-table entries, but the mm it mirrors is gone']);
  });
});

describe('hmm-dmirror-counters', () => {
  const check = only('hmm-dmirror-counters');
  const read = r.steps.find((s) => s.seq === 9) as Step;

  it('holds for the recorded READ and fails when cpages or faults do not add up', () => {
    expect(check(read)).toEqual([]);
    expect(check({ ...read, outcome: { ok: true, out: { cpages: 3, faults: 1 } } }).map((v) => v.message)).toEqual(['HMM_DMIRROR_READ of 4 pages answered cpages=3']);
    expect(check({ ...read, outcome: { ok: true, out: { cpages: 4, faults: 5 } } }).map((v) => v.message)).toEqual(['HMM_DMIRROR_READ of 4 pages counted 5 fault passes']);
  });
});
