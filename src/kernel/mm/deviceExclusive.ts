/**
 * Device-exclusive entries (CONFIG_DEVICE_PRIVATE, Debian linux-source-6.1
 * 6.1.192): mm/rmap.c make_device_exclusive_range → folio_make_device_exclusive
 * → page_make_device_exclusive_one, the get_user_pages they start with
 * (mm/gup.c, FOLL_GET | FOLL_WRITE | FOLL_SPLIT_PMD), and mm/memory.c's
 * restore_exclusive_pte, which remove_device_exclusive_entry (do_swap_page)
 * and try_restore_exclusive_pte (copy_nonpresent_pte, at fork) call.
 *
 * A device-exclusive entry is AnonPte kind `exclusive` (src/kernel/mm/types.ts):
 * not present, naming the anon page itself. Making it removes the page's
 * mapping and keeps the reference (Folio.devExclusive); restoring it adds
 * the mapping back. The other rules live where the kernel has them:
 * zap_pte_range (put_page without page_remove_rmap), copy_nonpresent_pte,
 * change_pte_range (EXCLUSIVE_WRITE → EXCLUSIVE_READ) in anon.ts;
 * hmm_vma_handle_pte (faulted when a fault is required, not valid
 * otherwise) in hmmRangeFault.ts; migrate_vma_collect_pmd (skipped) in
 * migrateDevice.ts.
 *
 * What FOLL_SPLIT_PMD does to a THP matters (KERNEL-FACTS-HMM §2.4): it is
 * split_huge_pmd, not split_huge_page, so the folio stays one large folio,
 * PTE-mapped, and every page GUP hands back but its head is a tail page,
 * which make_device_exclusive_range skips. Only the head goes through
 * folio_make_device_exclusive, whose rmap walk turns every PTE of the folio
 * into a device-exclusive entry.
 */
import type { Op } from '../op.js';
import { adjustFolio, folioAt } from './anonFolio.js';
import { splitHugePmd } from './hugeMemory.js';
import { entryAt, handleMmFault, physOf } from './fault.js';
import { checkVmaFlags, getUserPage, type GupFlags } from './gup.js';
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import { processOf, setProcess, vmaAt } from './process.js';
import { rmapWalkAnon, type Mapping } from './rmap.js';
import { PAGE_SHIFT, SZ_2M, SZ_4K, withProcess, withVma, type Pte, type Vma } from './types.js';

/** get_user_pages_remote's flags here: FOLL_WRITE without FOLL_FORCE (FOLL_GET and FOLL_SPLIT_PMD are the walk's). */
const WRITE: GupFlags = { write: true, force: false };

/**
 * The present entry restore_exclusive_pte makes of device-exclusive `entry`
 * in `v`: mk_pte with the vma's page protection (never writable for a
 * private vma), made writable (and dirty) by maybe_mkwrite only for an
 * EXCLUSIVE_WRITE entry in a VM_WRITE vma; PageAnonExclusive as the page
 * kept it.
 */
export function restoredPte(v: Vma, entry: Pte): Pte {
  const a = entry.anon;
  if (a?.kind !== 'exclusive' || entry.level !== 'pte') throw new Error('model bug: restoring an entry that is not device-exclusive');
  return { level: 'pte', phys: entry.phys, special: false, anon: { kind: 'page', write: a.write && v.prot === 'rw', exclusive: a.exclusive } };
}

function setPte(op: Op, pid: string, index: number, key: number, pte: Pte): void {
  const p = processOf(op, pid);
  const v = p.vmas[index] as Vma;
  const vmas = p.vmas.slice();
  vmas[index] = withVma(v, { ptes: v.ptes.set(key, pte) });
  setProcess(op, pid, withProcess(p, { vmas }));
}

/**
 * @kernel remove_device_exclusive_entry mm/memory.c — folio_try_get and the
 * folio lock (they cannot fail: the entry holds a reference and nothing
 * runs beside the model's step), the MMU_NOTIFY_EXCLUSIVE invalidation of
 * the page with owner NULL (test_hmm's dmirror_interval_invalidate skips
 * only MMU_NOTIFY_MIGRATE of its own device, so every dmirror of the mm
 * forgets [page, page + 4 KiB], ATOMIC entries included), then, the PTE
 * being the same, restore_exclusive_pte: the page is mapped again
 * (page_add_anon_rmap, no new reference).
 */
export function removeDeviceExclusiveEntry(op: Op, pid: string, index: number, unit: bigint): void {
  const p = processOf(op, pid);
  const v = p.vmas[index] as Vma;
  const key = Number((unit - v.start) >> PAGE_SHIFT);
  const entry = v.ptes.get(key);
  if (entry === undefined) throw new Error('model bug: no device-exclusive entry to remove');
  mmuNotifierInvalidate(op, p.mm, unit, unit + SZ_4K);
  const pte = restoredPte(v, entry);
  setPte(op, pid, index, key, pte);
  adjustFolio(op, pte.phys, 1, -1);
}

/** What get_user_pages_remote handed back for one page: the 4 KiB page's frame, or why it stopped. */
type Got = { readonly ok: true; readonly phys: bigint } | { readonly ok: false; readonly why: string };

/**
 * @kernel __get_user_pages mm/gup.c for one page with FOLL_GET | FOLL_WRITE |
 * FOLL_SPLIT_PMD — find_extend_vma (none: -EFAULT), check_vma_flags (a
 * write needs VM_WRITE: -EFAULT), then follow_page_mask: a huge anonymous
 * PMD is split first (follow_pmd_mask's FOLL_SPLIT_PMD: split_huge_pmd, the
 * huge zero page's too), and follow_page_pte hands out only a page mapped
 * writable; otherwise faultin_page (handle_mm_fault with
 * FAULT_FLAG_WRITE: a new page or THP, a COW copy or reuse, a
 * device-private page migrated back, a device-exclusive entry restored)
 * and the follow again. A file vma's page (a device-dax page, no anon
 * folio) is followed as get_user_pages does (its devmap PMD is not split).
 */
function gupForExclusive(op: Op, comm: string, pid: string, addr: bigint): Got {
  for (let guard = 0; guard < 8; guard++) {
    const p = processOf(op, pid);
    const at = vmaAt(p, addr);
    if (at === null) return { ok: false, why: 'no-vma' };
    const bad = checkVmaFlags(at.vma, WRITE);
    if (bad !== null) return { ok: false, why: bad };
    if (at.vma.file !== null) {
      const r = getUserPage(op, comm, pid, addr, WRITE);
      return r.ok ? { ok: true, phys: r.phys & ~0xfffn } : r;
    }
    const have = entryAt(at.vma, addr);
    if (have !== null && have.pte.level === 'pmd') {
      if (have.pte.anon?.kind === 'zero') op.branch('follow_pmd_mask', 'FOLL_SPLIT_PMD-huge-zero');
      else op.branch('follow_pmd_mask', 'FOLL_SPLIT_PMD');
      setProcess(op, pid, splitHugePmd(op, p, at.index, have.unit));
      continue;
    }
    if (have !== null && have.pte.anon?.kind === 'page' && have.pte.anon.write) return { ok: true, phys: physOf(have.pte, have.unit, addr) & ~0xfffn };
    const r = handleMmFault(op, comm, p, at.index, addr, true);
    setProcess(op, pid, r.proc);
    if (r.kind === 'sigbus') return { ok: false, why: 'fault' };
  }
  throw new Error(`model bug: get_user_pages for make_device_exclusive_range makes no progress at 0x${addr.toString(16)}`);
}

/**
 * make_device_exclusive_range's answer: `npages`, what get_user_pages_remote
 * returned (the pages it got, or -1 for its error when it got none), and
 * `pages[i]` the frame of each page made exclusive (null: a tail page or
 * one folio_make_device_exclusive refused).
 */
export interface ExclusiveRange {
  readonly npages: number;
  readonly pages: ReadonlyArray<bigint | null>;
}

/**
 * @kernel make_device_exclusive_range mm/rmap.c — get_user_pages_remote
 * over [start, end) of the process `pid` (the mirrored mm; `comm` the
 * caller), stopping at the first page it cannot get; then for each page
 * got: a tail page (PageTail) is dropped, the folio trylock succeeds (one
 * step at a time), and folio_make_device_exclusive decides. The pages are
 * returned locked with their reference; test_hmm drops both.
 */
export function makeDeviceExclusiveRange(op: Op, comm: string, pid: string, start: bigint, end: bigint): ExclusiveRange {
  const n = Number((end - start) >> PAGE_SHIFT);
  const got: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const g = gupForExclusive(op, comm, pid, start + (BigInt(i) << PAGE_SHIFT));
    if (!g.ok) {
      if (got.length === 0) op.branch('make_device_exclusive_range', 'gup-error');
      else op.branch('make_device_exclusive_range', 'gup-partial');
      break;
    }
    got.push(g.phys);
  }
  if (got.length === 0) return { npages: -1, pages: [] };
  const pages = got.map((phys, i): bigint | null => {
    const pfn = Number(phys >> PAGE_SHIFT);
    const at = folioAt(op, pfn);
    if (at !== null && at.folio.order === 9 && at.head !== pfn) {
      op.branch('make_device_exclusive_range', 'PageTail');
      return null;
    }
    return folioMakeDeviceExclusive(op, pid, phys, start + (BigInt(i) << PAGE_SHIFT)) ? phys : null;
  });
  return { npages: got.length, pages };
}

/**
 * @kernel folio_make_device_exclusive mm/rmap.c — only an anonymous,
 * non-hugetlb folio (a device-dax page is neither: false); then rmap_walk
 * over every vma mapping it (rmap_walk_anon, stopped when an rmap_one
 * returns false or, the `done` callback page_not_mapped, when nothing maps
 * the folio any more), page_make_device_exclusive_one in each. True when
 * the walk saw `address` of this mm mapped writable (args.valid) and the
 * folio's mapcount is 0 after it.
 */
function folioMakeDeviceExclusive(op: Op, pid: string, page: bigint, address: bigint): boolean {
  const at = folioAt(op, Number(page >> PAGE_SHIFT));
  if (at === null) {
    op.branch('folio_make_device_exclusive', 'not-anon');
    return false;
  }
  const lo = BigInt(at.head) << PAGE_SHIFT;
  const size = at.folio.order === 9 ? SZ_2M : SZ_4K;
  const args = { mm: processOf(op, pid).mm, address, valid: false };
  const byVma = new Map<string, Mapping[]>();
  for (const x of rmapWalkAnon(op, lo, lo + size)) {
    const k = `${x.pid}\u0000${x.index}`;
    const list = byVma.get(k);
    if (list === undefined) byVma.set(k, [x]);
    else list.push(x);
  }
  for (const list of byVma.values()) {
    if (!pageMakeDeviceExclusiveOne(op, list, lo, size, args)) break;
    if ((folioAt(op, at.head)?.folio.maps ?? 0) === 0) break;
  }
  const maps = folioAt(op, at.head)?.folio.maps ?? 0;
  if (args.valid && maps === 0) {
    op.branch('folio_make_device_exclusive', 'exclusive');
    return true;
  }
  // !args.valid: the walk never saw `address` writable, which get_user_pages(FOLL_WRITE) just made it (and the
  // walk starts at the folio's first page, `address` for a head): the kernel's check, not reached in the model.
  if (args.valid) op.branch('folio_make_device_exclusive', 'still-mapped');
  return false;
}

/**
 * @kernel page_make_device_exclusive_one mm/rmap.c — in one vma: the
 * MMU_NOTIFY_EXCLUSIVE invalidation (owner NULL) of the folio's extent
 * there, [vma_address, min(vm_end, vma_address + folio_size)), then
 * page_vma_mapped_walk over the entries mapping the folio in address
 * order: a PMD mapping is a VM_BUG_ON; a non-present one (a device-exclusive
 * entry already) ends the walk with false; a present one is cleared
 * (ptep_clear_flush) and replaced by SWP_DEVICE_EXCLUSIVE_WRITE if it was
 * writable, else _READ, and the page loses the mapping but not the
 * reference (page_remove_rmap). args.valid when this was `address` in the
 * caller's mm, writable.
 */
function pageMakeDeviceExclusiveOne(op: Op, list: readonly Mapping[], lo: bigint, size: bigint, args: { readonly mm: number; readonly address: bigint; valid: boolean }): boolean {
  const sorted = [...list].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const first = sorted[0] as Mapping;
  const p = processOf(op, first.pid);
  const v = p.vmas[first.index] as Vma;
  // vma_address: where the folio's first page is (or would be) mapped in this vma.
  const base = first.addr - (first.pte.phys - lo);
  const from = base > v.start ? base : v.start;
  const to = base + size < v.end ? base + size : v.end;
  mmuNotifierInvalidate(op, p.mm, from, to);
  for (const x of sorted) {
    if (x.pte.level !== 'pte') throw new Error('model bug: page_make_device_exclusive_one met a PMD-mapped THP (VM_BUG_ON_FOLIO)');
    const a = x.pte.anon;
    if (a?.kind !== 'page') {
      op.branch('page_make_device_exclusive_one', 'not-present');
      return false;
    }
    if (p.mm === args.mm && x.addr === args.address && a.write) args.valid = true;
    setPte(op, x.pid, x.index, x.key, { level: 'pte', phys: x.pte.phys, special: false, anon: { kind: 'exclusive', write: a.write, exclusive: a.exclusive } });
    adjustFolio(op, x.pte.phys, -1, 1);
  }
  return true;
}
