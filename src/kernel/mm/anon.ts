/**
 * Private anonymous memory, mirroring mm/memory.c and mm/huge_memory.c of
 * v6.1 (Debian linux-source-6.1, 6.1.192): the fault paths of an anonymous
 * vma (do_anonymous_page with the shared zero page, do_huge_pmd_anonymous_page
 * with the huge zero page, do_wp_page / wp_page_copy for copy-on-write,
 * do_huge_pmd_wp_page, which splits the PMD and falls back to 4 KiB COW),
 * __split_huge_pmd, zap_pte_range / zap_huge_pmd freeing the pages,
 * copy_page_range for fork (copy_present_pte / copy_huge_pmd) and
 * change_pte_range for mprotect.
 *
 * A page's identity is its frame: an entry holds the physical address of
 * the page it maps, the page's words live at that address (physmem.ts), and
 * the folio (its order and how many entries map it) is in MmState.anon keyed
 * by its head frame. HMM migration can replace such an entry by a
 * device-private one and back, moving the words with the page, and
 * test_hmm's EXCLUSIVE by a device-exclusive one (src/kernel/mm/deviceExclusive.ts),
 * which the page's data stays under.
 * Left out: swap, KSM, khugepaged collapse, deferred split of partially
 * unmapped THPs (a THP stays whole until its last entry goes, as it does on
 * a kernel under no memory pressure), userfaultfd, soft-dirty, GUP pins.
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Op } from '../op.js';
import { allocPages, freePages, HPAGE_PMD_NR } from './pageAlloc.js';
import { physCopyPage } from './physmem.js';
import { pidOfMm, processOf, setMm, setProcess } from './process.js';
import { rmapWalkAnon } from './rmap.js';
import { mapDevicePage } from '../hmm/devicePages.js';
import { migrateToRam } from '../hmm/dmirrorMigrate.js';
import { folioRefs, PAGE_SHIFT, SZ_2M, ZERO_PAGE_PHYS, withAnon, withProcess, withVma, type AnonPte, type Folio, type Process, type Pte, type Vma } from './types.js';
import { removeDeviceExclusiveEntry, restoredPte } from './deviceExclusive.js';
import type { Prot } from '../../log/programEvents.js';


/** An installed anonymous entry, or the fault's SIGBUS (VM_FAULT_OOM on a machine out of memory). */
export type AnonFaultOutcome = { readonly kind: 'installed'; readonly proc: Process; readonly vma: Vma; readonly pte: Pte; readonly unit: bigint } | { readonly kind: 'sigbus'; readonly proc: Process };

function anonPte(level: 'pte' | 'pmd', phys: bigint, a: AnonPte): Pte {
  // The zero pages are pte_special (vm_normal_page is NULL for them); an anon page has a struct page.
  return { level, phys, special: a.kind === 'zero', anon: a };
}

const ZERO: AnonPte = { kind: 'zero', write: false, exclusive: false };

/** The folio holding frame `pfn` and its head, or null. */
export function folioAt(op: Op, pfn: number): { readonly head: number; readonly folio: Folio } | null {
  const folios = op.state.mm.anon.folios;
  const f = folios.get(pfn);
  if (f !== undefined) return { head: pfn, folio: f };
  const head = pfn - (pfn % HPAGE_PMD_NR);
  const t = folios.get(head);
  return t !== undefined && t.order === 9 ? { head, folio: t } : null;
}

function setFolio(op: Op, head: number, f: Folio | null): void {
  const a = op.state.mm.anon;
  setMm(op, { anon: withAnon(a, { folios: f === null ? a.folios.delete(head) : a.folios.set(head, f) }) });
}

/** A new folio mapped once (page_add_new_anon_rmap). */
function newFolio(op: Op, head: number, order: 0 | 9): void {
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
function mapFolio(op: Op, phys: bigint, delta: number): void {
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

function keyOf(v: Vma, addr: bigint): number {
  return Number((addr - v.start) >> PAGE_SHIFT);
}

function storeVma(p: Process, index: number, v: Vma, rssDelta: number): Process {
  const vmas = p.vmas.slice();
  vmas[index] = v;
  return withProcess(p, rssDelta === 0 ? { vmas } : { vmas, rssAnon: p.rssAnon + rssDelta });
}

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
 * @kernel __handle_mm_fault mm/memory.c for an anonymous vma: create_huge_pud
 * falls back (vma_is_anonymous), pmd_alloc, then with pmd_none and THP
 * allowed do_huge_pmd_anonymous_page, else handle_pte_fault →
 * do_anonymous_page; a write to a present entry without write permission
 * goes to do_huge_pmd_wp_page / do_wp_page. `write` is FAULT_FLAG_WRITE
 * (a FOLL_FORCE write to a vma without VM_WRITE faults as a write too).
 */
export function anonFault(op: Op, p: Process, index: number, addr: bigint, write: boolean): AnonFaultOutcome {
  let proc = p;
  const vma = p.vmas[index] as Vma;
  const pudRegion = Number(addr >> 30n);
  const pmdRegion = Number(addr >> 21n);
  const have = findEntry(vma, addr);
  if (have !== null && have.pte.anon?.kind === 'device') return doSwapPageDevice(op, p, index, addr, write, have.pte);
  if (have !== null && have.pte.anon?.kind === 'exclusive') return doSwapPageExclusive(op, p, index, addr, write);
  if (have === null) {
    if (!proc.pmdTables.has(pudRegion)) proc = withProcess(proc, { pmdTables: proc.pmdTables.set(pudRegion, true) });
    if (!proc.pteTables.has(pmdRegion) && thpApplies(op, vma, addr)) {
      if (hasPtesIn(vma, addr)) throw new Error('model bug: pmd_none with PTEs in the 2 MiB range (a PTE table not recorded)');
      const pmd = doHugePmdAnonymousPage(op, vma, write);
      if (pmd !== null) {
        const unit = addr & ~(SZ_2M - 1n);
        const next = withVma(vma, { ptes: vma.ptes.set(keyOf(vma, unit), pmd) });
        proc = storeVma(proc, index, next, rssPages(pmd));
        return { kind: 'installed', proc, vma: next, pte: pmd, unit };
      }
    }
    proc = withProcess(proc, { pteTables: proc.pteTables.set(pmdRegion, true) });
    return doAnonymousPage(op, proc, index, addr, write);
  }
  if (have.pte.level === 'pmd') {
    const r = doHugePmdWpPage(op, vma, have.pte);
    if (r !== null) {
      const next = withVma(vma, { ptes: vma.ptes.set(keyOf(vma, have.unit), r) });
      proc = storeVma(proc, index, next, 0);
      return { kind: 'installed', proc, vma: next, pte: r, unit: have.unit };
    }
    // VM_FAULT_FALLBACK after __split_huge_pmd: the PTE fault runs on the PTEs the split left.
    proc = splitHugePmd(op, proc, index, have.unit);
  }
  return doWpPage(op, proc, index, addr & ~0xfffn);
}

/**
 * @kernel do_swap_page mm/memory.c (a device-private entry) — get_page under
 * the PTE lock, then the page's pgmap->ops->migrate_to_ram (test_hmm's
 * dmirror_devmem_fault: the page comes back to a system page), VM_FAULT_SIGBUS
 * when that fails; the fault returns and the CPU retries the access, which
 * finds the system page (a write to a read-only one: do_wp_page).
 */
function doSwapPageDevice(op: Op, p: Process, index: number, addr: bigint, write: boolean, pte: Pte): AnonFaultOutcome {
  const pid = pidOfMm(op, p.mm);
  setProcess(op, pid, p);
  const r = migrateToRam(op, pid, addr & ~0xfffn, Number(pte.phys >> PAGE_SHIFT));
  let proc = processOf(op, pid);
  if (r === 'sigbus') {
    op.branch('do_swap_page', 'VM_FAULT_SIGBUS');
    return { kind: 'sigbus', proc };
  }
  const v = proc.vmas[index] as Vma;
  const now = findEntry(v, addr);
  if (now === null || now.pte.anon?.kind === 'device') {
    // migrate_to_ram left the entry (no system page): the kernel returns 0 and the CPU faults again, forever.
    op.branch('do_swap_page', 'no-progress');
    return { kind: 'sigbus', proc };
  }
  op.branch('do_swap_page', 'device-private');
  if (write && now.pte.anon !== undefined && !now.pte.anon.write) return doWpPage(op, proc, index, addr & ~0xfffn);
  proc = processOf(op, pid);
  return { kind: 'installed', proc, vma: proc.vmas[index] as Vma, pte: now.pte, unit: now.unit };
}

/**
 * @kernel do_swap_page mm/memory.c (a device-exclusive entry) →
 * remove_device_exclusive_entry: the MMU_NOTIFY_EXCLUSIVE invalidation of
 * the page (owner NULL: every dmirror drops it, ATOMIC entries included),
 * then restore_exclusive_pte (src/kernel/mm/deviceExclusive.ts). The fault
 * returns 0 and the CPU retries: a write through a restored read-only entry
 * (EXCLUSIVE_READ, or a vma without VM_WRITE) is then do_wp_page's.
 */
function doSwapPageExclusive(op: Op, p: Process, index: number, addr: bigint, write: boolean): AnonFaultOutcome {
  const unit = addr & ~0xfffn;
  const pid = pidOfMm(op, p.mm);
  setProcess(op, pid, p);
  removeDeviceExclusiveEntry(op, pid, index, unit);
  op.branch('do_swap_page', 'device-exclusive');
  const proc = processOf(op, pid);
  const v = proc.vmas[index] as Vma;
  const pte = v.ptes.get(keyOf(v, unit));
  if (pte?.anon?.kind !== 'page') throw new Error('model bug: restore_exclusive_pte left no present page');
  if (write && !pte.anon.write) return doWpPage(op, proc, index, unit);
  return { kind: 'installed', proc, vma: v, pte, unit };
}

/** Whether the 2 MiB range around `addr` holds any entry of `v` (which pmd_none would deny). */
function hasPtesIn(v: Vma, addr: bigint): boolean {
  const unit = addr & ~(SZ_2M - 1n);
  return !v.ptes.range(keyOf(v, unit), keyOf(v, unit + SZ_2M) - 1).next().done;
}

/** The anonymous entry mapping `addr` (PTE or PMD) and its unit's address. */
function findEntry(v: Vma, addr: bigint): { readonly pte: Pte; readonly unit: bigint } | null {
  const pte = v.ptes.get(keyOf(v, addr & ~0xfffn));
  if (pte !== undefined && pte.level === 'pte') return { pte, unit: addr & ~0xfffn };
  const unit = addr & ~(SZ_2M - 1n);
  if (unit < v.start) return null;
  const pmd = v.ptes.get(keyOf(v, unit));
  return pmd !== undefined && pmd.level === 'pmd' ? { pte: pmd, unit } : null;
}

/**
 * @kernel do_anonymous_page mm/memory.c — a read maps the shared zero page
 * (pte_mkspecial, read-only, not counted in RSS); a write allocates a zeroed
 * page (alloc_zeroed_user_highpage_movable), writable if VM_WRITE,
 * exclusive (page_add_new_anon_rmap), MM_ANONPAGES + 1. No memory:
 * VM_FAULT_OOM, which the model ends as SIGBUS (the kernel's OOM killer
 * would pick a task: not modelled).
 */
function doAnonymousPage(op: Op, p: Process, index: number, addr: bigint, write: boolean): AnonFaultOutcome {
  const vma = p.vmas[index] as Vma;
  const unit = addr & ~0xfffn;
  let pte: Pte;
  if (!write) {
    op.branch('do_anonymous_page', 'zero-page');
    pte = anonPte('pte', ZERO_PAGE_PHYS, ZERO);
  } else {
    const pfn = allocPages(op, 0);
    if (pfn === null) {
      op.branch('do_anonymous_page', 'VM_FAULT_OOM');
      return { kind: 'sigbus', proc: p };
    }
    op.branch('do_anonymous_page', 'new-page');
    newFolio(op, pfn, 0);
    pte = anonPte('pte', BigInt(pfn) << PAGE_SHIFT, { kind: 'page', write: vma.prot === 'rw', exclusive: true });
  }
  const next = withVma(vma, { ptes: vma.ptes.set(keyOf(vma, unit), pte) });
  return { kind: 'installed', proc: storeVma(p, index, next, rssPages(pte)), vma: next, pte, unit };
}

/**
 * @kernel do_huge_pmd_anonymous_page mm/huge_memory.c — a read fault maps
 * the huge zero page (transparent_hugepage_use_zero_page: on by default;
 * mm_get_huge_zero_page allocates it on first use, and it stays); a write
 * allocates a THP (vma_alloc_folio of HPAGE_PMD_ORDER, cleared), writable
 * if VM_WRITE (__do_huge_pmd_anonymous_page), exclusive. No 2 MiB block: VM_FAULT_FALLBACK (null) to 4 KiB.
 */
function doHugePmdAnonymousPage(op: Op, v: Vma, write: boolean): Pte | null {
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
function doHugePmdWpPage(op: Op, v: Vma, pmd: Pte): Pte | null {
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

/**
 * @kernel do_wp_page mm/memory.c — the zero page is copied (wp_page_copy
 * allocates a zeroed page); an anon page is reused when PageAnonExclusive,
 * or when its folio has no other reference (folio_ref_count == 1: the
 * page_move_anon_rmap path, which makes it exclusive again), and copied
 * otherwise (a subpage of a THP mapped 512 times is always copied).
 */
function doWpPage(op: Op, p: Process, index: number, unit: bigint): AnonFaultOutcome {
  const v = p.vmas[index] as Vma;
  const key = keyOf(v, unit);
  const old = v.ptes.get(key);
  if (old === undefined || old.anon === undefined) throw new Error('model bug: do_wp_page without an anonymous PTE');
  const a = old.anon;
  if (a.kind === 'page') {
    const at = folioAt(op, Number(old.phys >> PAGE_SHIFT));
    if (a.exclusive || (at !== null && folioRefs(at.folio) === 1)) {
      // wp_page_reuse: pte_mkdirty, maybe_mkwrite.
      if (a.exclusive) op.branch('do_wp_page', 'reuse-exclusive');
      else op.branch('do_wp_page', 'reuse-last-ref');
      const pte = anonPte('pte', old.phys, { kind: 'page', write: v.prot === 'rw', exclusive: true });
      const next = withVma(v, { ptes: v.ptes.set(key, pte) });
      return { kind: 'installed', proc: storeVma(p, index, next, 0), vma: next, pte, unit };
    }
  }
  return wpPageCopy(op, p, index, unit, old);
}

/**
 * @kernel wp_page_copy mm/memory.c — a new page, zeroed for the zero page or
 * a copy of the old one (__wp_page_copy_user), mapped writable if VM_WRITE
 * and exclusive; the old page loses this mapping (page_remove_rmap,
 * put_page: freed if it was the last). MM_ANONPAGES + 1 only when the old
 * page was the zero page.
 */
function wpPageCopy(op: Op, p: Process, index: number, unit: bigint, old: Pte): AnonFaultOutcome {
  const v = p.vmas[index] as Vma;
  const pfn = allocPages(op, 0);
  if (pfn === null) {
    op.branch('wp_page_copy', 'VM_FAULT_OOM');
    return { kind: 'sigbus', proc: p };
  }
  newFolio(op, pfn, 0);
  // wp_page_copy: MMU_NOTIFY_CLEAR over the page before its entry changes.
  mmuNotifierInvalidate(op, p.mm, unit, unit + 4096n);
  const fromZero = old.anon?.kind !== 'page';
  if (fromZero) op.branch('wp_page_copy', 'zero-page');
  else {
    op.branch('wp_page_copy', 'copy');
    physCopyPage(op, Number(old.phys >> PAGE_SHIFT), pfn);
    mapFolio(op, old.phys, -1);
  }
  const pte = anonPte('pte', BigInt(pfn) << PAGE_SHIFT, { kind: 'page', write: v.prot === 'rw', exclusive: true });
  const next = withVma(v, { ptes: v.ptes.set(keyOf(v, unit), pte) });
  return { kind: 'installed', proc: storeVma(p, index, next, fromZero ? 1 : 0), vma: next, pte, unit };
}

/**
 * @kernel zap_pte_range / zap_huge_pmd mm/memory.c, mm/huge_memory.c — the
 * anonymous entries of vma `index` overlapping [lo, hi) go; a PMD only
 * partly inside is split first (zap_pmd_range's __split_huge_pmd); each
 * page loses a mapping (page_remove_rmap, put_page: the last frees the
 * folio) and MM_ANONPAGES drops. Page-table pages stay.
 */
export function zapAnonRange(op: Op, p: Process, index: number, lo: bigint, hi: bigint): Process {
  let proc = p;
  let v = proc.vmas[index] as Vma;
  if (v.ptes.size === 0) return proc;
  const first = keyOf(v, lo > v.start ? lo : v.start);
  const last = keyOf(v, hi < v.end ? hi : v.end) - 1;
  // A PMD starting up to 511 pages before `lo` may cover it.
  for (const [k, pte] of v.ptes.range(Math.max(0, first - (HPAGE_PMD_NR - 1)), first)) {
    if (pte.level === 'pmd' && k < first && k + HPAGE_PMD_NR > first) proc = splitHugePmd(op, proc, index, v.start + (BigInt(k) << PAGE_SHIFT));
  }
  v = proc.vmas[index] as Vma;
  const endPmd = v.ptes.range(Math.max(0, last - (HPAGE_PMD_NR - 1)), last);
  for (const [k, pte] of endPmd) {
    if (pte.level === 'pmd' && k + HPAGE_PMD_NR - 1 > last) proc = splitHugePmd(op, proc, index, v.start + (BigInt(k) << PAGE_SHIFT));
  }
  v = proc.vmas[index] as Vma;
  let ptes = v.ptes;
  let rss = 0;
  for (const [k, pte] of v.ptes.range(first, last)) {
    ptes = ptes.delete(k);
    if (pte.anon?.kind === 'page') {
      rss -= rssPages(pte);
      mapFolio(op, pte.phys, -1);
    } else if (pte.anon?.kind === 'exclusive') {
      // zap_pte_range, a device-exclusive entry: rss--, put_page and no page_remove_rmap (the mapping went when the
      // entry was made); the last reference frees the folio.
      op.branch('zap_pte_range', 'device-exclusive');
      rss -= 1;
      adjustFolio(op, pte.phys, 0, -1);
    } else if (pte.anon?.kind === 'device') {
      // zap_pte_range, a device-private entry: rss--, page_remove_rmap, put_page (the last one: page_free).
      op.branch('zap_pte_range', 'device-private');
      rss -= 1;
      // Variant B9: no page_remove_rmap / put_page, the device page keeps a mapping that is gone.
      if (!op.state.profile.hmmZapSkipsPut) mapDevicePage(op, Number(pte.phys >> PAGE_SHIFT), -1);
    }
  }
  if (ptes === v.ptes) return proc;
  op.branch('zap_pte_range', 'anon');
  return storeVma(proc, index, withVma(v, { ptes }), rss);
}

/**
 * @kernel copy_page_range mm/memory.c (copy_present_pte, copy_huge_pmd) for
 * an anonymous vma at fork — each anon page gains a mapping
 * (page_try_dup_anon_rmap, which clears PageAnonExclusive), a writable entry
 * is write-protected in parent and child alike (is_cow_mapping), zero-page
 * entries are copied as they are. Returns the parent's and the child's vma,
 * the child's RSS, and the regions where the child gets page-table pages.
 */
export function copyAnonVma(op: Op, v: Vma): { readonly parent: Vma; readonly child: Vma; readonly rss: number; readonly pteRegions: readonly number[]; readonly pmdRegions: readonly number[] } {
  if (v.ptes.size === 0) return { parent: v, child: v, rss: 0, pteRegions: [], pmdRegions: [] };
  let parent = v.ptes;
  let rss = 0;
  const childOnly = new Map<number, Pte>();
  const pteRegions = new Set<number>();
  const pmdRegions = new Set<number>();
  for (const [k, entry] of v.ptes.entries()) {
    const at = v.start + (BigInt(k) << PAGE_SHIFT);
    pmdRegions.add(Number(at >> 30n));
    if (entry.level === 'pte') pteRegions.add(Number(at >> 21n));
    let pte = entry;
    if (entry.anon?.kind === 'exclusive') {
      // copy_nonpresent_pte: try_restore_exclusive_pte (the trylock cannot fail here) makes the parent's entry
      // present again, then -ENOENT sends it through copy_present_pte like any present page (below).
      op.branch('copy_nonpresent_pte', 'device-exclusive');
      pte = restoredPte(v, entry);
      adjustFolio(op, pte.phys, 1, -1);
      parent = parent.set(k, pte);
    }
    const a = pte.anon;
    if (a === undefined || a.kind === 'zero') continue;
    if (a.kind === 'device') {
      // copy_nonpresent_pte: get_page, rss++, page_try_dup_anon_rmap (cannot fail: no pins), and a writable
      // entry of a COW mapping becomes SWP_DEVICE_READ in the parent as in the child.
      op.branch('copy_nonpresent_pte', a.write ? 'device-private-write' : 'device-private-read');
      mapDevicePage(op, Number(pte.phys >> PAGE_SHIFT), 1);
      rss += 1;
      if (op.state.profile.hmmForkKeepsWrite) {
        // Variant B7: the parent's entry is left as it was; only the child's copy is read-only.
        childOnly.set(k, anonPte('pte', pte.phys, { kind: 'device', write: false, exclusive: false }));
        continue;
      }
      if (a.write || a.exclusive) parent = parent.set(k, anonPte('pte', pte.phys, { kind: 'device', write: false, exclusive: false }));
      continue;
    }
    mapFolio(op, pte.phys, 1);
    rss += rssPages(pte);
    if (a.write || a.exclusive) parent = parent.set(k, anonPte(pte.level as 'pte' | 'pmd', pte.phys, { kind: 'page', write: false, exclusive: false }));
  }
  op.branch('copy_page_range', 'anon');
  const out = withVma(v, { ptes: parent });
  let child = out;
  if (childOnly.size > 0) {
    let cp = parent;
    for (const [k, pte] of childOnly) cp = cp.set(k, pte);
    child = withVma(v, { ptes: cp });
  }
  return { parent: out, child, rss, pteRegions: [...pteRegions], pmdRegions: [...pmdRegions] };
}

/**
 * @kernel change_pte_range / change_huge_pmd mm/mprotect.c — a private
 * vma's entries never get write permission from vm_page_prot (PAGE_COPY);
 * dropping VM_WRITE write-protects every entry; gaining it makes an
 * exclusive anon page's PTE writable (MM_CP_TRY_CHANGE_WRITABLE with
 * can_change_pte_writable, v5.19), not a PMD's (that came in v6.2). The
 * model keeps no dirty bit: a clean exclusive PTE (a forced write into a
 * read-only vma) would wait for its write fault on the kernel, which reuses
 * the page all the same.
 */
export function changeProtection(v: Vma, prot: Prot, keepsDeviceWrite = false): Vma {
  if (v.file !== null || v.ptes.size === 0) return v;
  let ptes = v.ptes;
  for (const [k, pte] of v.ptes.entries()) {
    const a = pte.anon;
    if (a?.kind === 'exclusive') {
      // change_pte_range: SWP_DEVICE_EXCLUSIVE_WRITE becomes SWP_DEVICE_EXCLUSIVE_READ, whatever the new protection.
      if (a.write) ptes = ptes.set(k, anonPte('pte', pte.phys, { ...a, write: false }));
      continue;
    }
    if (a?.kind === 'device') {
      // change_pte_range: SWP_DEVICE_WRITE becomes SWP_DEVICE_READ whatever the new protection; nothing upgrades it.
      // (Variant B8, `keepsDeviceWrite`, leaves it writable.)
      if (a.write && !keepsDeviceWrite) ptes = ptes.set(k, anonPte('pte', pte.phys, { ...a, write: false }));
      continue;
    }
    if (a === undefined || a.kind !== 'page') continue;
    const write = prot === 'rw' ? a.write || (a.exclusive && pte.level === 'pte') : false;
    if (write !== a.write) ptes = ptes.set(k, anonPte(pte.level as 'pte' | 'pmd', pte.phys, { ...a, write }));
  }
  return ptes === v.ptes ? v : withVma(v, { ptes });
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
