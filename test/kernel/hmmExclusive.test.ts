/**
 * Device-exclusive entries and HMM_DMIRROR_EXCLUSIVE / CHECK_EXCLUSIVE
 * (src/kernel/mm/deviceExclusive.ts, src/kernel/hmm/dmirrorExclusive.ts)
 * against the three logs recorded on the custom 6.1.192 kernel
 * (test/traces-custom/hmm/dmirror-exclusive*.jsonl), the kernel paths they
 * take, the state they leave, and the invariants of
 * properties/invariants/hmmExclusive.ts failing on bad states.
 */
import { describe, expect, it } from 'vitest';
import { replay, type Step } from '../../src/replay/engine.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { MirrorEntry, OpenFile, Process, Pte, Vma } from '../../src/kernel/mm/types.js';
import type { WideIntMap } from '../../src/util/wideIntMap.js';
import { stepOf } from '../helpers/steps.js';
import { replayHmmLog, violationsOf } from '../helpers/hmmLogs.js';
import { boot, runChecked, type Json } from '../helpers/machine.js';

const load = replayHmmLog;
const violations = violationsOf;

const excl = load('dmirror-exclusive.jsonl');
const thp = load('dmirror-exclusive-thp.jsonl');
const mig = load('dmirror-exclusive-migrate.jsonl');

function at(r: ReturnType<typeof replay>, seq: number): Step {
  const s = r.steps.find((x) => x.seq === seq);
  if (s === undefined) throw new Error(`no step ${seq}`);
  return s;
}

/** p1's entries of kind `kind` (every vma). */
function entriesOf(s: KernelState, kind: string): Array<readonly [Vma, number, Pte]> {
  const p = s.mm.procs.get('p1') as Process;
  return p.vmas.flatMap((v) => [...v.ptes.entries()].filter(([, pte]) => pte.anon?.kind === kind).map(([k, pte]) => [v, k, pte] as const));
}

/** The device page table of the file opened first (f1, /dev/hmm_dmirror0). */
function mirrorOf(s: KernelState): WideIntMap<MirrorEntry> {
  const f = [...s.mm.files.values()].find((x) => x.path === '/dev/hmm_dmirror0') as OpenFile;
  return f.mirror as WideIntMap<MirrorEntry>;
}

describe('HMM_DMIRROR_EXCLUSIVE on the recorded logs', () => {
  it.each([
    ['dmirror-exclusive', excl],
    ['dmirror-exclusive-thp', thp],
    ['dmirror-exclusive-migrate', mig],
  ])('%s replays with no divergence and no violation', (_name, r) => {
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
  });

  it('dmirror-exclusive: two windows of 4 KiB pages become exclusive and ATOMIC; each page keeps its reference, not its mapping', () => {
    const s = at(excl, 14);
    expect(s.outcome).toEqual({ ok: true, out: { cpages: 128, faults: 0 } });
    expect(s.branches).toEqual(expect.arrayContaining(['folio_make_device_exclusive:exclusive', 'dmirror_exclusive:ok']));
    const e = entriesOf(s.after, 'exclusive');
    expect(e).toHaveLength(128);
    // GUP wrote every page (FOLL_WRITE): each entry is EXCLUSIVE_WRITE on an AnonExclusive page.
    expect(e.every(([, , pte]) => pte.anon?.write === true && pte.anon.exclusive)).toBe(true);
    for (const [, , pte] of e) expect(s.after.mm.anon.folios.get(Number(pte.phys >> 12n))).toEqual({ order: 0, maps: 0, devExclusive: 1 });
    const atomic = [...mirrorOf(s.after).entries()].filter(([, x]) => x.tag === 'atomic');
    expect(atomic).toHaveLength(128);
    // MM_ANONPAGES still counts the exclusive pages (page_make_device_exclusive_one leaves it; zap_pte_range drops it).
    expect(s.after.mm.procs.get('p1')?.rssAnon).toBe(entriesOf(s.after, 'page').length + e.length);
  });

  it('dmirror-exclusive: the CPU side — a touch restores (do_swap_page), READ faults (hmm_vma_handle_pte), the partial window, fork, mprotect, munmap', () => {
    expect(at(excl, 19).branches).toContain('hmm_vma_handle_pte:device-exclusive');
    expect(at(excl, 21).outcome).toEqual({ ok: false, errno: 'EPERM' });
    expect(at(excl, 26).branches).toContain('do_swap_page:device-exclusive');
    expect(at(excl, 31).branches).toEqual(expect.arrayContaining(['hmm_vma_handle_pte:device-exclusive-fault', 'do_swap_page:device-exclusive']));
    // A window cut short by the read-only vma: 8 pages exclusive, none ATOMIC, EBUSY.
    const partial = at(excl, 45);
    expect(partial.outcome).toEqual({ ok: false, errno: 'EBUSY' });
    expect(partial.branches).toEqual(expect.arrayContaining(['make_device_exclusive_range:gup-partial', 'dmirror_exclusive:EBUSY']));
    expect(entriesOf(partial.after, 'exclusive').length - entriesOf(partial.before as KernelState, 'exclusive').length).toBe(8);
    expect([...mirrorOf(partial.after).entries()].filter(([, x]) => x.tag === 'atomic').length).toBe([...mirrorOf(partial.before as KernelState).entries()].filter(([, x]) => x.tag === 'atomic').length);
    // fork: try_restore_exclusive_pte, then the COW copy: no exclusive entry is left in either process.
    const fork = at(excl, 51);
    expect(fork.branches).toContain('copy_nonpresent_pte:device-exclusive');
    expect(entriesOf(fork.after, 'exclusive')).toEqual([]);
    // mprotect(PROT_READ): EXCLUSIVE_WRITE → EXCLUSIVE_READ.
    const ro = at(excl, 62);
    expect(ro.event.type).toBe('mprotect');
    const lo = entriesOf(ro.after, 'exclusive').filter(([v]) => v.prot === 'r');
    expect(lo.length).toBe(32);
    expect(lo.every(([, , pte]) => pte.anon?.write === false)).toBe(true);
    expect(at(excl, 65).outcome).toEqual({ ok: false, errno: 'EPERM' });
    // munmap: put_page without page_remove_rmap frees each order-0 folio.
    const un = at(excl, 70);
    expect(un.branches).toContain('zap_pte_range:device-exclusive');
    expect(excl.final.mm.anon.folios.size).toBe(0);
  });

  it('dmirror-exclusive-thp: FOLL_SPLIT_PMD leaves tail pages (EBUSY); the head makes all 512 PTEs of its THP exclusive, only the head ATOMIC', () => {
    const tails = at(thp, 9);
    expect(tails.outcome).toEqual({ ok: false, errno: 'EBUSY' });
    expect(tails.branches).toEqual(expect.arrayContaining(['follow_pmd_mask:FOLL_SPLIT_PMD', 'make_device_exclusive_range:PageTail']));
    expect(tails.branches).not.toContain('folio_make_device_exclusive:exclusive');
    expect(entriesOf(tails.after, 'exclusive')).toEqual([]);
    const head = at(thp, 13);
    expect(head.outcome).toEqual({ ok: false, errno: 'EBUSY' });
    const e = entriesOf(head.after, 'exclusive');
    expect(e).toHaveLength(512);
    const folio = head.after.mm.anon.folios.get(Number((e[0]?.[2].phys ?? 0n) >> 12n));
    expect(folio).toEqual({ order: 9, maps: 0, devExclusive: 512 });
    expect([...mirrorOf(head.after).entries()].map(([, x]) => x.tag)).toEqual(['atomic']);
    expect(at(thp, 14).outcome).toEqual({ ok: false, errno: 'EPERM' });
    // The same window again: the rmap walk stops at the first PTE past the window still exclusive.
    expect(at(thp, 21).branches).toContain('page_make_device_exclusive_one:not-present');
    // The huge zero page is split and copied: 4 KiB pages, which become exclusive.
    expect(at(thp, 28).branches).toEqual(expect.arrayContaining(['follow_pmd_mask:FOLL_SPLIT_PMD-huge-zero', 'dmirror_exclusive:ok']));
    // After the fork and the child's exit the window COWs into order-0 pages and succeeds.
    expect(at(thp, 41).outcome).toEqual({ ok: true, out: { cpages: 64, faults: 0 } });
    // A page restored past the window keeps the THP mapped: the head is refused too, nothing ATOMIC.
    expect(at(thp, 54).branches).toEqual(expect.arrayContaining(['page_make_device_exclusive_one:not-present', 'folio_make_device_exclusive:still-mapped', 'dmirror_exclusive:EBUSY']));
    expect(at(thp, 55).outcome).toEqual({ ok: true, out: { cpages: 0, faults: 0 } });
  });

  it('dmirror-exclusive-migrate: collect skips exclusive entries, GUP failing at once, a device-dax page', () => {
    expect(at(mig, 23).branches).toContain('migrate_vma_collect_pmd:skip-device-exclusive');
    // MIGRATE_TO_DEV of its own device keeps the ATOMIC entries (MMU_NOTIFY_MIGRATE of the owner is skipped).
    expect(at(mig, 23).outcome).toEqual({ ok: true, out: { cpages: 8, faults: 0 } });
    expect(at(mig, 28).outcome).toEqual({ ok: false, errno: 'ENOENT' });
    expect(at(mig, 29).outcome).toEqual({ ok: true, out: { cpages: 0, faults: 0 } });
    expect(entriesOf(at(mig, 29).after, 'exclusive')).toHaveLength(8);
    expect(at(mig, 43).branches).toEqual(expect.arrayContaining(['make_device_exclusive_range:gup-error', 'dmirror_exclusive:EBUSY']));
    expect(at(mig, 51).branches).toContain('folio_make_device_exclusive:not-anon');
  });
});

describe('exclusive-entry invariants can fail', () => {
  /** After dmirror-exclusive-thp seq 13: a THP all device-exclusive, its head ATOMIC. */
  const s = at(thp, 13).after;
  const p1 = s.mm.procs.get('p1') as Process;
  const vIndex = p1.vmas.findIndex((v) => [...v.ptes.entries()].some(([, pte]) => pte.anon?.kind === 'exclusive'));
  const v = p1.vmas[vIndex] as Vma;
  const ex = [...v.ptes.entries()].filter(([, pte]) => pte.anon?.kind === 'exclusive');
  const [k0, e0] = ex[0] as [number, Pte];
  const [k1] = ex[1] as [number, Pte];

  function withPtes(change: (t: Vma['ptes']) => Vma['ptes']): KernelState {
    const vmas = p1.vmas.slice();
    vmas[vIndex] = { ...v, ptes: change(v.ptes) };
    const procs = new Map(s.mm.procs);
    procs.set('p1', { ...p1, vmas });
    return { ...s, mm: { ...s.mm, procs } };
  }

  it('hold on the recorded state', () => {
    for (const name of ['hmm-exclusive-entry', 'hmm-exclusive-atomic', 'anon-mapcount']) expect(violations(name, stepOf(s, s))).toEqual([]);
  });

  it('hmm-exclusive-entry: a page mapped while exclusive, an entry on no folio, a folio that does not count it, a PMD-level entry', () => {
    const mapped = withPtes((t) => t.set(k1, { level: 'pte', phys: e0.phys, special: false, anon: { kind: 'page', write: false, exclusive: false } }));
    expect(violations('hmm-exclusive-entry', stepOf(s, mapped)).join()).toMatch(/is device-exclusive at p1 0x[0-9a-f]+ and mapped at p1 0x[0-9a-f]+ \(its mapcount is not 0\)/);
    const orphan = withPtes((t) => t.set(k0, { ...e0, phys: 0x10000n }));
    expect(violations('hmm-exclusive-entry', stepOf(s, orphan)).join()).toMatch(/which is no allocated anonymous folio/);
    const head = Number(e0.phys >> 12n) - (Number(e0.phys >> 12n) % 512);
    const f = s.mm.anon.folios.get(head);
    if (f === undefined) throw new Error('no folio');
    const uncounted: KernelState = { ...s, mm: { ...s.mm, anon: { ...s.mm.anon, folios: s.mm.anon.folios.set(head, { order: 9, maps: 0 }) } } };
    expect(violations('hmm-exclusive-entry', stepOf(s, uncounted)).join()).toMatch(/whose folio counts no device-exclusive reference/);
    expect(violations('anon-mapcount', stepOf(s, uncounted)).join()).toMatch(/counts 0 device-exclusive references, page tables hold 512 device-exclusive entries/);
    const pmd = withPtes((t) => t.set(k0, { ...e0, level: 'pmd' }));
    expect(violations('hmm-exclusive-entry', stepOf(s, pmd)).join()).toMatch(/a device-exclusive entry at pmd level/);
  });

  it('hmm-exclusive-atomic: an ATOMIC entry over a page the CPU got back without the invalidation, a READ entry over an exclusive one', () => {
    const mirror = mirrorOf(s);
    const [vpfn, atomic] = [...mirror.entries()][0] as [number, MirrorEntry];
    const key = Number(((BigInt(vpfn) << 12n) - v.start) >> 12n);
    const e = v.ptes.get(key) as Pte;
    // restore_exclusive_pte without remove_device_exclusive_entry's MMU_NOTIFY_EXCLUSIVE (the ATOMIC entry stays).
    const restored = withPtes((t) => t.set(key, { ...e, anon: { kind: 'page', write: true, exclusive: true } }));
    expect(violations('hmm-exclusive-atomic', stepOf(s, restored)).join()).toMatch(/ATOMIC entry at 0x[0-9a-f]+, where the CPU's entry is a present page entry, not device-exclusive/);
    const setMirror = (m: WideIntMap<MirrorEntry>): KernelState => {
      const files = new Map(s.mm.files);
      for (const [id, f] of files) if (f.path === '/dev/hmm_dmirror0') files.set(id, { ...f, mirror: m });
      return { ...s, mm: { ...s.mm, files } };
    };
    expect(violations('hmm-exclusive-atomic', stepOf(s, setMirror(mirror.set(vpfn, { ...atomic, tag: 'read' })))).join()).toMatch(/a READ entry at 0x[0-9a-f]+, over a device-exclusive entry/);
    expect(violations('hmm-exclusive-atomic', stepOf(s, setMirror(mirror.set(vpfn, { ...atomic, phys: atomic.phys + 0x1000n })))).join()).toMatch(/names 0x[0-9a-f]+, the device-exclusive entry there/);
    // An ATOMIC entry where nothing is mapped (what variant B12 leaves).
    expect(violations('hmm-exclusive-atomic', stepOf(s, setMirror(mirror.set(1, atomic)))).join()).toMatch(/where the CPU's entry is none/);
  });
});

describe('variant hmm-exclusive-maps-partial (B12: dmirror_atomic_map for a partial result)', () => {
  // 65 pages of 4 KiB and EXCLUSIVE of 66: the first window of 64 is all exclusive; in the second, get_user_pages
  // gets page 64 and stops at the hole after the buffer (npages 1 of 2).
  const log = (variant: string | null): ReturnType<typeof runChecked> => {
    const hmm = boot({ kernel: '6.1', ...(variant === null ? {} : { variant }) }, { thp: 'never', devicePrivate: true, testHmm: 'y', physAddrBits: 40 });
    const anon = (map: string, length: string): Json => ({ type: 'mmap', pid: 'p1', map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'] });
    const cmd = (c: string, npages: string, offset = '0'): Json => ({ type: 'ioctl', pid: 'p1', fd: 'f1', cmd: c, args: { addr: { map: 'm1', offset }, npages, ptr: { map: 'm2', offset: '0' } } });
    return runChecked(
      hmm,
      { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/hmm_dmirror0', flags: 'rdwr' },
      anon('m2', '1M'),
      // A page between m1 and m2 that stays unmapped: the hole after the buffer (the kernel puts m1 right below m3).
      anon('m3', '4K'),
      anon('m1', '0x41000'),
      { type: 'munmap', pid: 'p1', map: 'm3', offset: '0', length: '4K' },
      cmd('HMM_DMIRROR_EXCLUSIVE', '0x42'),
      cmd('HMM_DMIRROR_CHECK_EXCLUSIVE', '1', '0x41000'),
    );
  };

  it('without it: the second window maps nothing, EBUSY; the first stays exclusive and ATOMIC; nothing past the buffer', () => {
    const r = log(null);
    expect(r.results.slice(5)).toEqual(['EBUSY', 'ok']);
    expect(r.steps[5]?.branches).toEqual(expect.arrayContaining(['make_device_exclusive_range:gup-partial', 'dmirror_exclusive:EBUSY']));
    expect(r.violations).toEqual([]);
  });

  it('with it: pages[1] left by the first window is mapped ATOMIC past the buffer, the ioctl succeeds, CHECK_EXCLUSIVE is -EPERM where nothing is mapped; caught at the EXCLUSIVE', () => {
    const r = log('hmm-exclusive-maps-partial');
    expect(r.results.slice(5)).toEqual(['ok', 'EPERM']);
    expect(r.steps[5]?.outcome).toEqual({ ok: true, out: { cpages: 66, faults: 0 } });
    expect(r.steps[5]?.branches).toContain('dmirror_exclusive:B12-map-partial');
    const caught = r.violations.filter((v) => v.startsWith('hmm-exclusive-atomic'));
    expect(caught.length).toBeGreaterThan(0);
    expect(r.violations.every((v) => v.startsWith('hmm-exclusive-atomic') || v.startsWith('hmm-mirror-coherent'))).toBe(true);
  });
});
