/**
 * The parts of mm a step changed (properties/invariants/mmParts.ts), by
 * which the checker skips the anonymous-memory and device-page invariants:
 * each part is seen where it changed, and a broken state of each kind still
 * reaches the invariant that judges it through the whole checker.
 */
import { describe, expect, it } from 'vitest';
import { FIELD_KEYS, fieldMask, makeChecker } from '../../properties/invariants/index.js';
import { changedMmParts, MM_PART_BITS } from '../../properties/invariants/mmParts.js';
import { withAnon, withMm, withProcess, withVma, type Process, type Vma } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { withState } from '../../src/kernel/state.js';
import { programVmas } from '../../src/kernel/mm/process.js';
import { boot, runChecked, type Json } from '../helpers/machine.js';
import { stepOf } from '../helpers/steps.js';

const anonMap = (map: string): Json => ({ type: 'mmap', pid: 'p1', map, fd: null, length: '8K', offset: '0', prot: 'rw', flags: ['private'] });
const wr = (map: string, offset: string, value: string): Json => ({ type: 'access', pid: 'p1', map, offset, op: 'write', value });
const hmem = boot({ kernel: '6.1', daxRegions: [{ id: 0, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 0, devices: [{ name: 'dax0.0', start: '0x180000000', size: '1G', driver: 'device_dax' }] }] }, { thp: 'never' });

/** p1 maps the dax device and an anonymous range, faults one page of each, forks p2, and p2 exits. */
const r = runChecked(
  hmem,
  { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', flags: 'rdwr' },
  { type: 'mmap', pid: 'p1', map: 'd', fd: 'f1', length: '2M', offset: '0', prot: 'rw', flags: ['shared'] },
  wr('d', '0', '0x1'),
  anonMap('a'),
  wr('a', '0', '0x2'),
  { type: 'mprotect', pid: 'p1', map: 'a', offset: '0', length: '8K', prot: 'r' },
  { type: 'fork', pid: 'p1', child: 'p2' },
  { type: 'exit', pid: 'p2' },
);
const stepAt = (i: number) => r.steps[i]!;
const parts = (i: number) => changedMmParts(stepAt(i).before!, stepAt(i).after);
const { anonVmas, anon, rss } = MM_PART_BITS;

function setProc(st: KernelState, pid: string, p: Process): KernelState {
  const procs = new Map(st.mm.procs);
  procs.set(pid, p);
  return withState(st, { mm: withMm(st.mm, { procs }) });
}

describe('changedMmParts', () => {
  it('has bits of its own, above every KernelState field\'s (a field added to the state must not take one)', () => {
    const parts = Object.values(MM_PART_BITS);
    expect(new Set(parts).size).toBe(parts.length);
    for (const b of parts) expect(b & fieldMask(FIELD_KEYS)).toBe(0);
    expect(Math.max(...parts)).toBeLessThan(2 ** 30);
  });

  it('sees no part in a device-dax fault or a file mmap, and each part where a step changed it', () => {
    expect(r.violations).toEqual([]);
    expect(parts(0)).toBe(anonVmas | rss); // the open: p1 comes to life with exec's vmas ([stack], [vvar], [vdso], its text)
    expect(parts(1)).toBe(0); // mmap of the device
    expect(parts(2)).toBe(0); // the device-dax fault
    expect(parts(3)).toBe(anonVmas); // the anonymous mmap
    expect(parts(4)).toBe(anonVmas | anon | rss); // the anonymous fault: a new vma object with its entry, a folio, RSS
    expect(parts(5)).toBe(anonVmas); // mprotect: a new vma, its entry write-protected; the folio and RSS stay
    expect(parts(6)).toBe(anonVmas | anon | rss); // fork: a new process holding anonymous vmas, the folio mapped twice
    expect(parts(7)).toBe(anonVmas | anon | rss); // exit: a process and its vmas gone, the folio mapped once again
  });
});

describe('the checker skips by parts, and still judges every broken part', () => {
  const check = makeChecker();
  const a = stepAt(4).after;
  const anonVma = (st: KernelState): Vma => programVmas(st.mm.procs.get('p1')!).find((v) => v.file === null)!;

  it('a folio count changed alone (part anon) reaches anon-mapcount', () => {
    const pfn = Number(anonVma(a).ptes.get(0)!.phys >> 12n);
    const f = a.mm.anon.folios.get(pfn)!;
    const bad = withState(a, { mm: withMm(a.mm, { anon: withAnon(a.mm.anon, { folios: a.mm.anon.folios.set(pfn, { ...f, maps: 2 }) }) }) });
    expect(check(stepOf(a, bad)).map((v) => v.invariant)).toContain('anon-mapcount');
  });

  it('an anonymous entry changed alone (part anonVmas) reaches anon-exclusive-write', () => {
    const p = a.mm.procs.get('p1')!;
    const v = anonVma(a);
    const vmas = p.vmas.map((x) => (x === v ? withVma(v, { prot: 'r', ptes: v.ptes.set(0, { ...v.ptes.get(0)!, anon: { kind: 'page', write: true, exclusive: true } }) }) : x));
    const bad = setProc(a, 'p1', withProcess(p, { vmas }));
    expect(changedMmParts(a, bad)).toBe(anonVmas);
    expect(check(stepOf(a, bad)).map((v) => v.invariant)).toContain('anon-exclusive-write');
  });

  it('a counter changed alone (part rss) reaches anon-rss', () => {
    const bad = setProc(a, 'p1', withProcess(a.mm.procs.get('p1')!, { rssAnon: 7 }));
    expect(changedMmParts(a, bad)).toBe(rss);
    expect(check(stepOf(a, bad)).map((v) => `${v.invariant}: ${v.message}`)).toContain('anon-rss: p1: MM_ANONPAGES is 7, its page tables map 1 anonymous pages');
  });

  it('a device-dax entry changed with a corrupt counter is no part of the anonymous invariants but rss', () => {
    const dax = stepAt(2);
    const p = dax.after.mm.procs.get('p1')!;
    const bad = setProc(dax.after, 'p1', withProcess(p, { rssAnon: p.rssAnon + 1 }));
    expect(changedMmParts(dax.before!, bad)).toBe(rss);
    expect(check(stepOf(dax.before, bad)).map((v) => v.invariant)).toEqual(['anon-rss']);
  });
});
