/**
 * Transparent huge pages of private anonymous memory, mirroring
 * mm/huge_memory.c of v6.1 (Debian linux-source-6.1): whether a fault may
 * use a THP (hugepage_vma_check), do_huge_pmd_anonymous_page with the huge
 * zero page, do_huge_pmd_wp_page, __split_huge_pmd and split_huge_page. The
 * 4 KiB fault paths that call them are anon.ts (mm/memory.c).
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Op } from '../op.js';
import { allocPages, freePages, HPAGE_PMD_NR } from './pageAlloc.js';
import { processOf, setMm, setProcess } from './process.js';
import { rmapWalkAnon } from './rmap.js';
import { anonPte, folioAt, keyOf, mapFolio, newFolio, setFolio, storeVma, ZERO } from './anonFolio.js';
import { folioRefs, PAGE_SHIFT, SZ_2M, ZERO_PAGE_PHYS, withAnon, withProcess, withVma, type Process, type Pte, type Vma } from './types.js';

/**
 * @kernel hugepage_vma_check mm/huge_memory.c (in_pf, for an anonymous vma)
 * with transhuge_vma_suitable include/linux/huge_mm.h — VM_NOHUGEPAGE says
 * no; /sys/kernel/mm/transparent_hugepage/enabled `always` allows any vma,
 * `madvise` only VM_HUGEPAGE ones, `never` none; and the 2 MiB-aligned
 * range around the address must lie inside the vma.
 */
export function thpApplies(op: Op, v: Vma, addr: bigint): boolean {
  if (v.flags.nohugepage) return false;
  const mode = op.state.thp;
  if (mode === 'never' || (mode === 'madvise' && !v.flags.hugepage)) return false;
  const haddr = addr & ~(SZ_2M - 1n);
  return haddr >= v.start && haddr + SZ_2M <= v.end;
}

/**
 * @kernel do_huge_pmd_anonymous_page mm/huge_memory.c — a read fault maps
 * the huge zero page (transparent_hugepage_use_zero_page: on by default;
 * mm_get_huge_zero_page allocates it on first use, and it stays); a write
 * allocates a THP (vma_alloc_folio of HPAGE_PMD_ORDER, cleared), writable
 * if VM_WRITE (__do_huge_pmd_anonymous_page), exclusive. No 2 MiB block: VM_FAULT_FALLBACK (null) to 4 KiB.
 */
export function doHugePmdAnonymousPage(op: Op, v: Vma, write: boolean): Pte | null {
  if (!write) {
    let head = op.state.mm.anon.hugeZero;
    if (head === null) {
      head = allocPages(op, 9);
      if (head === null) {
        op.branch('do_huge_pmd_anonymous_page', 'fallback');
        return null;
      }
      setMm(op, { anon: withAnon(op.state.mm.anon, { hugeZero: head }) });
    }
    op.branch('do_huge_pmd_anonymous_page', 'huge-zero-page');
    return anonPte('pmd', BigInt(head) << PAGE_SHIFT, ZERO);
  }
  const head = allocPages(op, 9);
  if (head === null) {
    op.branch('do_huge_pmd_anonymous_page', 'fallback');
    return null;
  }
  op.branch('do_huge_pmd_anonymous_page', 'thp');
  newFolio(op, head, 9);
  // maybe_pmd_mkwrite: a forced write (FOLL_FORCE) to a vma without VM_WRITE leaves the PMD read-only.
  return anonPte('pmd', BigInt(head) << PAGE_SHIFT, { kind: 'page', write: v.prot === 'rw', exclusive: true });
}

/**
 * @kernel do_huge_pmd_wp_page mm/huge_memory.c — the huge zero page goes
 * straight to the fallback; an exclusive THP, or one whose page_count is 1,
 * is reused (page_move_anon_rmap, maybe_pmd_mkwrite); otherwise null: the
 * caller splits the PMD and the 4 KiB COW runs (VM_FAULT_FALLBACK).
 */
export function doHugePmdWpPage(op: Op, v: Vma, pmd: Pte): Pte | null {
  const a = pmd.anon;
  if (a === undefined || a.kind === 'zero') {
    op.branch('do_huge_pmd_wp_page', 'huge-zero-fallback');
    return null;
  }
  const at = folioAt(op, Number(pmd.phys >> PAGE_SHIFT));
  if (a.exclusive || (at !== null && folioRefs(at.folio) === 1)) {
    op.branch('do_huge_pmd_wp_page', 'reuse');
    return anonPte('pmd', pmd.phys, { kind: 'page', write: v.prot === 'rw', exclusive: true });
  }
  op.branch('do_huge_pmd_wp_page', 'split');
  return null;
}

/**
 * @kernel __split_huge_pmd mm/huge_memory.c (__split_huge_pmd_locked; for
 * the huge zero page __split_huge_zero_page_pmd) — the PMD at `unit`
 * becomes 512 PTEs in a new PTE table: the zero page's, or the THP's
 * subpages with the PMD's write and AnonExclusive bits (page_ref_add of
 * HPAGE_PMD_NR - 1). RSS is unchanged.
 */
export function splitHugePmd(op: Op, p: Process, index: number, unit: bigint): Process {
  const v = p.vmas[index] as Vma;
  const key = keyOf(v, unit);
  const pmd = v.ptes.get(key);
  if (pmd === undefined || pmd.level !== 'pmd' || pmd.anon === undefined) throw new Error('model bug: no anonymous PMD to split');
  // __split_huge_pmd: MMU_NOTIFY_CLEAR over the 2 MiB before the PMD becomes PTEs.
  mmuNotifierInvalidate(op, p.mm, unit, unit + SZ_2M);
  let ptes = v.ptes.delete(key);
  const a = pmd.anon;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    ptes = ptes.set(key + i, a.kind === 'zero' ? anonPte('pte', ZERO_PAGE_PHYS, ZERO) : anonPte('pte', pmd.phys + (BigInt(i) << PAGE_SHIFT), a));
  }
  if (a.kind === 'page') mapFolio(op, pmd.phys, HPAGE_PMD_NR - 1);
  if (a.kind === 'zero') op.branch('__split_huge_pmd', 'huge-zero');
  else op.branch('__split_huge_pmd', 'thp');
  const out = storeVma(p, index, withVma(v, { ptes }), 0);
  return withProcess(out, { pteTables: out.pteTables.set(Number(unit >> 21n), true) });
}

/** A huge anonymous entry straddles `addr` in vma `index`: split it (vma_adjust_trans_huge before __split_vma). */
export function splitPmdAt(op: Op, p: Process, index: number, addr: bigint): Process {
  const v = p.vmas[index] as Vma;
  if (v.file !== null || !v.ptes.hasLevel('pmd')) return p;
  const unit = addr & ~(SZ_2M - 1n);
  if (unit === addr || unit < v.start) return p;
  const pmd = v.ptes.get(keyOf(v, unit));
  return pmd !== undefined && pmd.level === 'pmd' ? splitHugePmd(op, p, index, unit) : p;
}

/**
 * @kernel split_huge_page mm/huge_memory.c (anonymous, as
 * migrate_vma_collect_pmd calls it) — every PMD mapping the THP is split
 * (unmap_folio's split_huge_pmd_address, with its MMU_NOTIFY_CLEAR), the
 * folio becomes 512 order-0 folios counting the PTEs that map each
 * (remap_page), and a subpage nothing maps is freed. The model has no pins,
 * so the split never fails.
 */
export function splitHugePage(op: Op, head: number): void {
  const lo = BigInt(head) << PAGE_SHIFT;
  for (const x of rmapWalkAnon(op, lo, lo + SZ_2M)) {
    if (x.pte.level === 'pmd') setProcess(op, x.pid, splitHugePmd(op, processOf(op, x.pid), x.index, x.addr));
    else mmuNotifierInvalidate(op, processOf(op, x.pid).mm, x.addr, x.addr + 4096n);
  }
  // Each subpage becomes a folio of its own, counting the present entries that map it and the device-exclusive
  // entries that hold it.
  const counts = new Map<number, { maps: number; devExclusive: number }>();
  for (const x of rmapWalkAnon(op, lo, lo + SZ_2M)) {
    const pfn = Number(x.pte.phys >> PAGE_SHIFT);
    const c = counts.get(pfn) ?? { maps: 0, devExclusive: 0 };
    if (x.pte.anon?.kind === 'exclusive') c.devExclusive++;
    else c.maps++;
    counts.set(pfn, c);
  }
  setFolio(op, head, null);
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const c = counts.get(head + i);
    if (c === undefined) freePages(op, head + i, 0);
    else setFolio(op, head + i, c.devExclusive === 0 ? { order: 0, maps: c.maps } : { order: 0, maps: c.maps, devExclusive: c.devExclusive });
  }
}
