/**
 * The anonymous-memory invariants (properties/invariants/anon.ts): each
 * holds on real runs, incrementally and in full, and each fails on a state
 * broken by hand.
 */
import { describe, expect, it } from 'vitest';
import { contextOf, invariantByName, makeChecker } from '../../properties/invariants/index.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';
import { withAnon, withMm, withProcess, withVma, type Process, type Vma } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { withState } from '../../src/kernel/state.js';
import { boot, runChecked, type Json } from '../helpers/machine.js';
import { run, stepOf } from '../helpers/steps.js';
import { programVmas } from '../../src/kernel/mm/process.js';

const mmap = (map: string, length: string, pid = 'p1'): Json => ({ type: 'mmap', pid, map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'] });
const wr = (offset: string, value: string, pid = 'p1'): Json => ({ type: 'access', pid, map: 'm1', offset, op: 'write', value });
const machine = boot({ kernel: '6.1' }, { thp: 'never' });

function violations(name: string, before: KernelState, after: KernelState, full = false): readonly string[] {
  const inv = invariantByName(name);
  if (inv === undefined) throw new Error(name);
  return inv.check(contextOf(stepOf(before, after), full));
}

/** p1 writes two pages, forks p2: two folios each mapped twice, read-only. */
const forked = runChecked(machine, mmap('m1', '8K'), wr('0', '0x1'), wr('0x1000', '0x2'), { type: 'fork', pid: 'p1', child: 'p2' });
const before = forked.steps[2]!.after;
const s = forked.final;

function setProc(st: KernelState, pid: string, p: Process): KernelState {
  const procs = new Map(st.mm.procs);
  procs.set(pid, p);
  return withState(st, { mm: withMm(st.mm, { procs }) });
}
function editVma(st: KernelState, pid: string, f: (v: Vma) => Vma): KernelState {
  const p = st.mm.procs.get(pid)!;
  // The program's first vma (exec's own, src/kernel/mm/exec.ts, stay as they are).
  const i = p.vmas.indexOf(programVmas(p)[0]!);
  const vmas = p.vmas.slice();
  vmas[i] = f(p.vmas[i]!);
  return setProc(st, pid, withProcess(p, { vmas }));
}

describe('anonymous-memory invariants', () => {
  it('hold on a run with fork, COW, munmap and THP, incrementally and in full', () => {
    const r = runChecked(boot({ kernel: '6.1' }), mmap('m1', '8M'), wr('0x300000', '0x1'), wr('0x8', '0x2'), { type: 'fork', pid: 'p1', child: 'p2' }, wr('0x300000', '0x3', 'p2'), wr('0x8', '0x4'), { type: 'munmap', pid: 'p1', map: 'm1', offset: '0x200000', length: '0x401000' }, { type: 'exit', pid: 'p2' });
    expect(r.violations).toEqual([]);
    expect(forked.violations).toEqual([]);
    for (const name of ['anon-mapcount', 'anon-exclusive-write', 'anon-frames', 'anon-rss']) expect(violations(name, before, s, true)).toEqual([]);
  });

  it('anon-mapcount: a folio counting one mapping too many, and an entry mapping a frame no folio holds', () => {
    const pfn = Number(programVmas(s.mm.procs.get('p1')!)[0]!.ptes.get(0)!.phys >> 12n);
    const f = s.mm.anon.folios.get(pfn)!;
    const bad = withState(s, { mm: withMm(s.mm, { anon: withAnon(s.mm.anon, { folios: s.mm.anon.folios.set(pfn, { ...f, maps: 3 }) }) }) });
    expect(violations('anon-mapcount', s, bad)).toEqual([`anonymous folio at pfn 0x${pfn.toString(16)} counts 3 mappings, page tables hold 2`]);
    const orphan = editVma(s, 'p2', (v) => withVma(v, { ptes: v.ptes.set(1, { ...v.ptes.get(1)!, phys: 0x1000n }) }));
    expect(violations('anon-mapcount', s, orphan).join()).toMatch(/maps anonymous frame 0x1000 .* which is no allocated folio/);
  });

  it('anon-exclusive-write: a fork that left the parent writable and exclusive while the child maps the page', () => {
    const bad = editVma(s, 'p1', (v) => withVma(v, { ptes: v.ptes.set(0, { ...v.ptes.get(0)!, anon: { kind: 'page', write: true, exclusive: true } }) }));
    expect(violations('anon-exclusive-write', s, bad).join()).toMatch(/exclusive page mapped 2 times/);
    const shared = editVma(s, 'p1', (v) => withVma(v, { ptes: v.ptes.set(0, { ...v.ptes.get(0)!, anon: { kind: 'page', write: true, exclusive: false } }) }));
    expect(violations('anon-exclusive-write', s, shared).join()).toMatch(/writable shared entry in a rw vma/);
  });

  it('anon-frames: a folio outside the pool, one still on a free list, and a page count off by one', () => {
    const outside = withState(s, { mm: withMm(s.mm, { anon: withAnon(s.mm.anon, { folios: s.mm.anon.folios.set(0x10, { order: 0, maps: 1 }), pages: s.mm.anon.pages + 1 }) }) });
    expect(violations('anon-frames', s, outside)).toEqual(['anonymous folio at pfn 0x10 lies outside the online RAM anonymous pages come from']);
    const pfn = Number(programVmas(s.mm.procs.get('p1')!)[0]!.ptes.get(0)!.phys >> 12n);
    const freeToo = withState(s, { mm: withMm(s.mm, { anon: withAnon(s.mm.anon, { free4k: WideIntMap.empty<true>().set(pfn, true), folios: s.mm.anon.folios.set(pfn, { order: 0, maps: 2 }) }) }) });
    expect(violations('anon-frames', s, freeToo, true).join()).toMatch(/also on a free list \(double allocation\)/);
    const miscount = withState(s, { mm: withMm(s.mm, { anon: withAnon(s.mm.anon, { pages: s.mm.anon.pages + 1 }) }) });
    expect(violations('anon-frames', s, miscount)).toEqual([`the allocator counts ${s.mm.anon.pages + 1} anonymous pages, its folios hold ${s.mm.anon.pages}`]);
  });

  it('anon-rss: a fault that mapped a page without counting it', () => {
    const r = runChecked(machine, mmap('m1', '8K'), wr('0', '0x1'));
    const b = r.steps[0]!.after;
    const a = r.final;
    const bad = setProc(a, 'p1', withProcess(a.mm.procs.get('p1')!, { rssAnon: 0 }));
    expect(violations('anon-rss', b, bad)).toEqual(['p1: MM_ANONPAGES is 0, its page tables map 1 anonymous pages']);
    expect(violations('anon-rss', b, a)).toEqual([]);
  });

  it('run under the paranoid checker too', () => {
    const text = [machine, mmap('m1', '8K'), wr('0', '0x1'), { type: 'fork', pid: 'p1', child: 'p2' }, wr('0', '0x2', 'p2')].map((e) => JSON.stringify(e)).join('\n');
    expect(run(text, makeChecker({ paranoid: true })).violations).toEqual([]);
  });
});
