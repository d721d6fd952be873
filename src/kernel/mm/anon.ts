/**
 * Private anonymous memory, mirroring mm/memory.c of v6.1 (Debian
 * linux-source-6.1, 6.1.192): the fault paths of an anonymous vma
 * (do_anonymous_page with the shared zero page, do_wp_page / wp_page_copy
 * for copy-on-write; a THP's do_huge_pmd_anonymous_page, do_huge_pmd_wp_page
 * and __split_huge_pmd are mm/huge_memory.c's, in hugeMemory.ts),
 * zap_pte_range / zap_huge_pmd freeing the pages, copy_page_range for fork
 * (copy_present_pte / copy_huge_pmd) and change_pte_range for mprotect.
 * Folio accounting: anonFolio.ts.
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
import { allocPages, HPAGE_PMD_NR } from './pageAlloc.js';
import { physCopyPage } from './physmem.js';
import { pidOfMm, processOf, setProcess } from './process.js';
import { mapDevicePage } from '../hmm/devicePages.js';
import { migrateToRam } from '../hmm/dmirrorMigrate.js';
import { folioRefs, PAGE_SHIFT, SZ_2M, ZERO_PAGE_PHYS, withProcess, withVma, type Process, type Pte, type Vma } from './types.js';
import { removeDeviceExclusiveEntry, restoredPte } from './deviceExclusive.js';
import type { Prot } from '../../log/programEvents.js';
import { adjustFolio, anonPte, folioAt, keyOf, mapFolio, newFolio, rssPages, storeVma, ZERO } from './anonFolio.js';
import { doHugePmdAnonymousPage, doHugePmdWpPage, splitHugePmd, thpApplies } from './hugeMemory.js';

/** An installed anonymous entry, or the fault's SIGBUS (VM_FAULT_OOM on a machine out of memory). */
export type AnonFaultOutcome = { readonly kind: 'installed'; readonly proc: Process; readonly vma: Vma; readonly pte: Pte; readonly unit: bigint } | { readonly kind: 'sigbus'; readonly proc: Process };

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

