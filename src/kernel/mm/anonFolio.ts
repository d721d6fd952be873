/**
 * Anonymous folios and the entries that map them (v6.1, Debian
 * linux-source-6.1): the folio table keyed by head frame (MmState.anon),
 * its mapping and device-exclusive counts moved as mm/rmap.c moves them
 * (page_add_new_anon_rmap, page_dup_rmap, page_remove_rmap) and the last
 * reference freeing the pages (put_page → free_pages); MM_ANONPAGES per
 * entry; the small helpers the fault paths (anon.ts) and the THP paths
 * (hugeMemory.ts) share.
 */
import type { Op } from '../op.js';
import { freePages, HPAGE_PMD_NR } from './pageAlloc.js';
import { setMm } from './process.js';
import { PAGE_SHIFT, withAnon, withProcess, type AnonPte, type Folio, type Process, type Pte, type Vma } from './types.js';

/** An anonymous entry at `level` holding `phys`. */
export function anonPte(level: 'pte' | 'pmd', phys: bigint, a: AnonPte): Pte {
  // The zero pages are pte_special (vm_normal_page is NULL for them); an anon page has a struct page.
  return { level, phys, special: a.kind === 'zero', anon: a };
}

/** The shared zero page's entry bits (read-only, never exclusive). */
export const ZERO: AnonPte = { kind: 'zero', write: false, exclusive: false };

/** The folio holding frame `pfn` and its head, or null. */
export function folioAt(op: Op, pfn: number): { readonly head: number; readonly folio: Folio } | null {
  const folios = op.state.mm.anon.folios;
  const f = folios.get(pfn);
  if (f !== undefined) return { head: pfn, folio: f };
  const head = pfn - (pfn % HPAGE_PMD_NR);
  const t = folios.get(head);
  return t !== undefined && t.order === 9 ? { head, folio: t } : null;
}

/** Folio `head` becomes `f`, or (null) is gone from the folio table (its pages are the caller's to free). */
export function setFolio(op: Op, head: number, f: Folio | null): void {
  const a = op.state.mm.anon;
  setMm(op, { anon: withAnon(a, { folios: f === null ? a.folios.delete(head) : a.folios.set(head, f) }) });
}

/** A new folio mapped once (page_add_new_anon_rmap). */
export function newFolio(op: Op, head: number, order: 0 | 9): void {
  setFolio(op, head, { order, maps: 1 });
}

/**
 * Order-0 folio `pfn` gains `delta` mappings, made with that many when new
 * (a migration's destination); at none it is freed. For migrate_device.c.
 */
export function addFolio(op: Op, pfn: number, delta: number): void {
  const f = op.state.mm.anon.folios.get(pfn);
  if (f === undefined) {
    if (delta <= 0) throw new Error(`model bug: no anon folio at pfn 0x${pfn.toString(16)}`);
    setFolio(op, pfn, { order: 0, maps: delta });
    return;
  }
  mapFolio(op, BigInt(pfn) << PAGE_SHIFT, delta);
}

/** Entries mapping the folio of `phys` change by `delta` (get_page / page_dup_rmap or put_page); the last reference frees it. */
export function mapFolio(op: Op, phys: bigint, delta: number): void {
  adjustFolio(op, phys, delta, 0);
}

/**
 * The folio of `phys` gains `maps` mappings and `devExclusive` references
 * of device-exclusive entries (either may be negative: page_remove_rmap
 * keeping the reference when an entry becomes device-exclusive is -1/+1,
 * restore_exclusive_pte's page_add_anon_rmap +1/-1, zap's put_page of an
 * exclusive entry 0/-1); it is freed when no reference is left
 * (folio_ref_count 0).
 */
export function adjustFolio(op: Op, phys: bigint, maps: number, devExclusive: number): void {
  const at = folioAt(op, Number(phys >> PAGE_SHIFT));
  if (at === null) throw new Error(`model bug: no anon folio at ${phys.toString(16)}`);
  const m = at.folio.maps + maps;
  const x = (at.folio.devExclusive ?? 0) + devExclusive;
  if (m < 0 || x < 0) throw new Error(`model bug: anon folio at ${phys.toString(16)} would count ${m} mappings and ${x} device-exclusive entries`);
  if (m + x > 0) {
    setFolio(op, at.head, x === 0 ? { order: at.folio.order, maps: m } : { order: at.folio.order, maps: m, devExclusive: x });
    return;
  }
  setFolio(op, at.head, null);
  freePages(op, at.head, at.folio.order);
}

/** 4 KiB pages an entry counts in MM_ANONPAGES. */
export function rssPages(pte: Pte): number {
  // copy_nonpresent_pte: "Update rss count even for unaddressable pages" — a device-private entry counts as its page;
  // a device-exclusive one keeps the count of the entry it replaced (page_make_device_exclusive_one leaves rss alone,
  // zap_pte_range decrements it).
  if (pte.anon === undefined || pte.anon.kind === 'zero') return 0;
  return pte.level === 'pmd' ? HPAGE_PMD_NR : 1;
}

/** The page index from the vma's start of `addr`: its key in the vma's page table. */
export function keyOf(v: Vma, addr: bigint): number {
  return Number((addr - v.start) >> PAGE_SHIFT);
}

/** `p` with vma `index` replaced by `v`, and MM_ANONPAGES moved by `rssDelta`. */
export function storeVma(p: Process, index: number, v: Vma, rssDelta: number): Process {
  const vmas = p.vmas.slice();
  vmas[index] = v;
  return withProcess(p, rssDelta === 0 ? { vmas } : { vmas, rssAnon: p.rssAnon + rssDelta });
}
