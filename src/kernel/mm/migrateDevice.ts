/**
 * Migration of anonymous pages to device-private memory and back, mirroring
 * mm/migrate_device.c of v6.1 (Debian linux-source-6.1, 6.1.192):
 * migrate_vma_setup (its EINVALs, migrate_vma_collect, migrate_device_unmap),
 * migrate_vma_pages (__migrate_device_pages, migrate_vma_insert_page),
 * migrate_vma_finalize / migrate_device_finalize, and migrate_device_range
 * for a driver evicting its chunk.
 *
 * The model runs a migration as one step, so it keeps the source entries
 * in place between collect and finalize instead of writing migration
 * entries: nothing reads the page tables in between, and a page that does
 * not migrate gets back exactly the entry it had (remove_migration_pte with
 * the entry's write and exclusive bits). What the kernel does on the way
 * that others can see is done where the kernel does it: the THP splits, the
 * mmu notifiers (MMU_NOTIFY_MIGRATE with the driver as owner for the range,
 * MMU_NOTIFY_CLEAR from try_to_migrate for every other mapping), the
 * driver's allocations between setup and pages.
 *
 * Left out: pinned pages (migrate_vma_check_page's refcount rule: the model
 * has no pins), LRU isolation failures, file-backed and device-coherent
 * pages, userfaultfd, the trylock races.
 */
import type { Op } from '../op.js';
import { addFolio, folioAt } from './anonFolio.js';
import { splitHugePage, splitHugePmd } from './hugeMemory.js';
import { entryAt } from './fault.js';
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import { freePages } from './pageAlloc.js';
import { processOf, setProcess, vmaAt } from './process.js';
import { rmapWalkAnon, type Mapping } from './rmap.js';
import { LEVEL_SIZE, PAGE_SHIFT, withProcess, withVma, ZERO_PAGE_PHYS, type AnonPte, type Pte, type Vma } from './types.js';
import { devicePageAt, dmirrorDevmemFree, mapDevicePage } from '../hmm/devicePages.js';

const PAGE = 4096n;

/** migrate->flags: MIGRATE_VMA_SELECT_SYSTEM or MIGRATE_VMA_SELECT_DEVICE_PRIVATE. */
export type MigrateSelect = 'system' | 'device-private';

/** What collect put in migrate->src[i]. */
export type MigrateSrc =
  /** mpfn 0: the page is skipped. */
  | { readonly kind: 'none' }
  /** MIGRATE_PFN_MIGRATE without a page: pte_none in an anonymous vma, or the zero page with SELECT_SYSTEM (its entry stays until migrate_vma_insert_page). */
  | { readonly kind: 'hole' | 'zero' }
  /** A page (MIGRATE_PFN_VALID), a system frame or a device page, and MIGRATE_PFN_WRITE. */
  | { readonly kind: 'system' | 'device'; readonly pfn: number; readonly write: boolean };

/** migrate->dst[i]: the page the driver gave, and MIGRATE_PFN_WRITE. */
export interface MigrateDst {
  readonly pfn: number;
  readonly write: boolean;
  readonly device: boolean;
}

export interface MigratePage {
  readonly addr: bigint;
  src: MigrateSrc;
  /** MIGRATE_PFN_MIGRATE in src. */
  migrate: boolean;
  dst: MigrateDst | null;
  /** The entries mapping the source page once unmap ran (remove_migration_ptes' targets). */
  mappings: Mapping[];
}

/** struct migrate_vma, with the process the vma belongs to. */
export interface MigrateVma {
  readonly pid: string;
  readonly start: bigint;
  readonly end: bigint;
  /** pgmap_owner: the dmirror device's index. */
  readonly owner: number;
  /** The driver's migrating instance (the dmirror file), which alone erases its own entries of the pages. */
  readonly ownerFile: number;
  readonly select: MigrateSelect;
  /** fault_page: the device page a CPU fault is migrating, or null. */
  readonly faultPage: number | null;
  readonly pages: MigratePage[];
  cpages: number;
}

export type SetupResult = { readonly ok: true; readonly m: MigrateVma } | { readonly ok: false; readonly errno: 'EINVAL'; readonly why: string } | { readonly ok: false; readonly notModelled: string };

/**
 * @kernel migrate_vma_setup mm/migrate_device.c — EINVAL for no vma, a
 * hugetlb, VM_SPECIAL (the map=none RFC's VM_PFNMAP) or DAX vma, an empty
 * range, a range outside the vma, or a fault page that is not
 * device-private; then collect, and unmap when anything was collected.
 */
export function migrateVmaSetup(op: Op, pid: string, start: bigint, end: bigint, select: MigrateSelect, owner: number, ownerFile: number, faultPage: number | null = null): SetupResult {
  const p = processOf(op, pid);
  const at = vmaAt(p, start);
  if (at === null) return bad(op, 'no-vma');
  const v = at.vma;
  if (v.flags.pfnmap) return bad(op, 'VM_SPECIAL');
  const file = v.file === null ? undefined : op.state.mm.files.get(v.file);
  if (file?.driver === 'dax') return bad(op, 'vma_is_dax');
  if (end <= start) return bad(op, 'nr_pages');
  if (end > v.end) return bad(op, 'range');
  if (faultPage !== null && devicePageAt(op, faultPage) === undefined) return bad(op, 'fault_page');
  // Another driver's file vma (the kmem disk's): its pages have a mapping and would be skipped; not modelled.
  if (v.file !== null) return { ok: false, notModelled: 'file-vma' };
  const m: MigrateVma = { pid, start, end, owner, ownerFile, select, faultPage, pages: [], cpages: 0 };
  migrateVmaCollect(op, m);
  if (m.cpages > 0) migrateVmaUnmap(op, m);
  return { ok: true, m };
}

function bad(op: Op, why: string): SetupResult {
  op.branch('migrate_vma_setup', `EINVAL(${why})`);
  return { ok: false, errno: 'EINVAL', why };
}

/** The vma of `pid` at `addr` and its index (the caller checked it exists). */
function vmaOf(op: Op, pid: string, addr: bigint): { readonly vma: Vma; readonly index: number } {
  const at = vmaAt(processOf(op, pid), addr);
  if (at === null) throw new Error(`model bug: no vma at 0x${addr.toString(16)} during a migration`);
  return at;
}

/**
 * @kernel migrate_vma_collect mm/migrate_device.c (migrate_vma_collect_pmd,
 * migrate_vma_collect_hole) — an MMU_NOTIFY_MIGRATE invalidation owned by
 * the driver over the range, then per page: a huge zero PMD is split, a THP
 * split (split_huge_page) and walked as PTEs; pte_none migrates without a
 * page (anonymous vmas only); a device-private entry only with
 * SELECT_DEVICE_PRIVATE and this owner (a device-exclusive entry never); the zero page only with
 * SELECT_SYSTEM, without a page; a system page only with SELECT_SYSTEM and
 * not when part of a large folio (PageTransCompound: "FIXME support THP");
 * a collected page loses this mapping (page_remove_rmap; the model keeps
 * the entry as said above).
 */
function migrateVmaCollect(op: Op, m: MigrateVma): void {
  mmuNotifierInvalidate(op, processOf(op, m.pid).mm, m.start, m.end, { device: m.owner, file: m.ownerFile });
  for (let addr = m.start; addr < m.end; ) {
    const { vma, index } = vmaOf(op, m.pid, addr);
    const have = entryAt(vma, addr);
    if (have !== null && have.pte.level !== 'pte') {
      if (have.pte.anon?.kind === 'zero') {
        op.branch('migrate_vma_collect_pmd', 'split-huge-zero-pmd');
        setProcess(op, m.pid, splitHugePmd(op, processOf(op, m.pid), index, have.unit));
      } else {
        op.branch('migrate_vma_collect_pmd', 'split_huge_page');
        splitHugePage(op, Number(have.pte.phys >> PAGE_SHIFT));
      }
      continue; // walk the PTEs the split left
    }
    m.pages.push({ addr, src: collectPte(op, m, have?.pte ?? null), migrate: false, dst: null, mappings: [] });
    const pg = m.pages[m.pages.length - 1] as MigratePage;
    pg.migrate = pg.src.kind !== 'none';
    if (pg.migrate) m.cpages++;
    if (pg.src.kind === 'system' || pg.src.kind === 'device') pg.mappings = [mappingAt(op, m.pid, addr)];
    addr += PAGE;
  }
}

function collectPte(op: Op, m: MigrateVma, pte: Pte | null): MigrateSrc {
  const NONE: MigrateSrc = { kind: 'none' };
  if (pte === null) {
    op.branch('migrate_vma_collect_pmd', 'pte_none');
    return { kind: 'hole' };
  }
  const a = pte.anon;
  if (a === undefined) throw new Error('model bug: a non-anonymous entry in an anonymous vma');
  const pfn = Number(pte.phys >> PAGE_SHIFT);
  if (a.kind === 'exclusive') {
    // !pte_present and not a device-private entry: "Other special swap entries are not migratable".
    op.branch('migrate_vma_collect_pmd', 'skip-device-exclusive');
    return NONE;
  }
  if (a.kind === 'device') {
    const page = devicePageAt(op, pfn);
    if (m.select !== 'device-private' || page?.device !== m.owner) {
      op.branch('migrate_vma_collect_pmd', 'skip-device-private-other');
      return NONE;
    }
    op.branch('migrate_vma_collect_pmd', 'device-private');
    return { kind: 'device', pfn, write: a.write };
  }
  if (a.kind === 'zero') {
    if (m.select !== 'system') {
      op.branch('migrate_vma_collect_pmd', 'skip-zero-page');
      return NONE;
    }
    op.branch('migrate_vma_collect_pmd', 'zero-page');
    return { kind: 'zero' };
  }
  if (m.select !== 'system') {
    op.branch('migrate_vma_collect_pmd', 'skip-system-page');
    return NONE;
  }
  if (folioAt(op, pfn)?.folio.order === 9) {
    op.branch('migrate_vma_collect_pmd', 'skip-PageTransCompound');
    return NONE;
  }
  op.branch('migrate_vma_collect_pmd', a.exclusive ? 'system-page-exclusive' : 'system-page');
  return { kind: 'system', pfn, write: a.write };
}

function mappingAt(op: Op, pid: string, addr: bigint): Mapping {
  const { vma, index } = vmaOf(op, pid, addr);
  const key = Number((addr - vma.start) >> PAGE_SHIFT);
  const pte = vma.ptes.get(key);
  if (pte === undefined) throw new Error('model bug: no entry to migrate');
  return { pid, index, key, addr, pte };
}

/** How many entries map the page: its folio's count, or the device page's. */
function mapcountOf(op: Op, src: MigrateSrc): number {
  if (src.kind === 'system') return folioAt(op, src.pfn)?.folio.maps ?? 0;
  if (src.kind === 'device') return devicePageAt(op, src.pfn)?.maps ?? 0;
  return 0;
}

/**
 * @kernel migrate_device_unmap mm/migrate_device.c — a page mapped
 * elsewhere too (after fork) is unmapped there by try_to_migrate
 * (try_to_migrate_one: MMU_NOTIFY_CLEAR over the page in that mm, for every
 * subscriber, the owner's devices too); cpages becomes the pages still
 * migrating, holes and zero pages included.
 */
function migrateVmaUnmap(op: Op, m: MigrateVma): void {
  m.cpages = migrateDeviceUnmap(op, m.pages);
}

function migrateDeviceUnmap(op: Op, pages: MigratePage[]): number {
  let unmapped = 0;
  // The pages mapped elsewhere too, walked together up front: nothing below changes a page table (the notifiers
  // erase device page-table entries only), so each finds what a walk of its own at its turn would.
  const shared: number[] = [];
  for (const pg of pages) if (pg.migrate && (pg.src.kind === 'system' || pg.src.kind === 'device') && mapcountOf(op, pg.src) > pg.mappings.length) shared.push(pg.src.pfn);
  const walked = rmapWalkPages(op, shared);
  for (const pg of pages) {
    if (!pg.migrate) continue;
    unmapped++;
    if (pg.src.kind !== 'system' && pg.src.kind !== 'device') continue;
    if (mapcountOf(op, pg.src) <= pg.mappings.length) continue;
    const self = pg.mappings[0];
    const known = new Set(pg.mappings.map((x) => `${x.pid}@${x.addr}`));
    const others = (walked.get(pg.src.pfn) ?? []).filter((x) => !known.has(`${x.pid}@${x.addr}`));
    // try_to_migrate → rmap_walk_anon visits the vmas of the page's anon_vma tree in order: the process that
    // made the page first, then those forked from it (the model's process table is in that order). Each visit
    // starts try_to_migrate_one's MMU_NOTIFY_CLEAR over the page, also in the collecting process, whose entry
    // collect already took (`kernel fuzz --hmm` seed 1215 run 0: the parent's own device table lost the page
    // and, by the inclusive end, the next one); the walk stops once nothing maps the page (folio_not_mapped).
    let left = others.length;
    for (const pid of op.state.mm.procs.keys()) {
      if (left === 0) break;
      if (self !== undefined && pid === self.pid) {
        op.branch('try_to_migrate_one', 'own-vma');
        mmuNotifierInvalidate(op, processOf(op, pid).mm, self.addr, self.addr + PAGE);
      }
      for (const other of others) {
        if (other.pid !== pid) continue;
        op.branch('try_to_migrate_one', 'other-mapping');
        mmuNotifierInvalidate(op, processOf(op, other.pid).mm, other.addr, other.addr + PAGE);
        pg.mappings.push(other);
        left--;
      }
    }
  }
  return unmapped;
}

/**
 * rmap_walk_anon of each page of `pfns`, by one walk over the frames from
 * the lowest to the highest: the model's walk scans every anonymous entry
 * whatever the range, so a walk per page costs pages × entries. Each page
 * gets the entries a walk of that page alone returns (an entry mapping
 * several frames, a PMD, counts for each), in the walk's order.
 */
function rmapWalkPages(op: Op, pfns: readonly number[]): Map<number, Mapping[]> {
  const out = new Map<number, Mapping[]>();
  if (pfns.length === 0) return out;
  let lo = Infinity;
  let hi = -Infinity;
  for (const pfn of pfns) {
    out.set(pfn, []);
    if (pfn < lo) lo = pfn;
    if (pfn > hi) hi = pfn;
  }
  for (const x of rmapWalkAnon(op, BigInt(lo) << PAGE_SHIFT, BigInt(hi + 1) << PAGE_SHIFT)) {
    const first = Math.max(lo, Number(x.pte.phys >> PAGE_SHIFT));
    const last = Math.min(hi, Number((x.pte.phys + LEVEL_SIZE[x.pte.level] - 1n) >> PAGE_SHIFT));
    for (let pfn = first; pfn <= last; pfn++) out.get(pfn)?.push(x);
  }
  return out;
}

/**
 * @kernel migrate_vma_pages mm/migrate_device.c (__migrate_device_pages) —
 * no destination: not migrated; no source page: migrate_vma_insert_page,
 * after one MMU_NOTIFY_MIGRATE invalidation (owned by the driver) from the
 * first such page to the end; a source page: migrate_folio, which succeeds
 * for an unpinned anonymous page.
 */
export function migrateVmaPages(op: Op, m: MigrateVma): void {
  let notified = false;
  for (const pg of m.pages) {
    if (!pg.migrate) continue;
    if (pg.dst === null) {
      pg.migrate = false;
      continue;
    }
    if (pg.src.kind === 'hole' || pg.src.kind === 'zero') {
      if (!notified) {
        notified = true;
        mmuNotifierInvalidate(op, processOf(op, m.pid).mm, pg.addr, m.end, { device: m.owner, file: m.ownerFile });
      }
      pg.migrate = migrateVmaInsertPage(op, m.pid, pg.addr, pg.dst);
    }
  }
}

/**
 * @kernel migrate_vma_insert_page mm/migrate_device.c — the new page where
 * there was none or the zero page: a device-private entry (SWP_DEVICE_WRITE
 * with VM_WRITE, else SWP_DEVICE_READ) or a present page (writable with
 * VM_WRITE); the page tables down to a PTE table are allocated (a huge PMD
 * there aborts); MM_ANONPAGES + 1, page_add_new_anon_rmap (exclusive).
 */
function migrateVmaInsertPage(op: Op, pid: string, addr: bigint, dst: MigrateDst): boolean {
  let p = processOf(op, pid);
  const { vma, index } = vmaOf(op, pid, addr);
  const have = entryAt(vma, addr);
  if (have !== null && (have.pte.level !== 'pte' || have.pte.phys !== ZERO_PAGE_PHYS)) {
    op.branch('migrate_vma_insert_page', 'abort');
    return false;
  }
  const write = vma.prot === 'rw';
  const a: AnonPte = { kind: dst.device ? 'device' : 'page', write, exclusive: true };
  const pte: Pte = { level: 'pte', phys: BigInt(dst.pfn) << PAGE_SHIFT, special: false, anon: a };
  if (dst.device) mapDevicePage(op, dst.pfn, 1);
  else addFolio(op, dst.pfn, 1);
  op.branch('migrate_vma_insert_page', have === null ? 'pte_none' : 'zero-page');
  p = processOf(op, pid);
  const vmas = p.vmas.slice();
  vmas[index] = withVma(vma, { ptes: vma.ptes.set(Number((addr - vma.start) >> PAGE_SHIFT), pte) });
  setProcess(op, pid, withProcess(p, { vmas, rssAnon: p.rssAnon + 1, pteTables: p.pteTables.set(Number(addr >> 21n), true), pmdTables: p.pmdTables.set(Number(addr >> 30n), true) }));
  return true;
}

/** @kernel migrate_vma_finalize mm/migrate_device.c */
export function migrateVmaFinalize(op: Op, m: MigrateVma): void {
  migrateDeviceFinalize(op, m.pages, false);
}

/**
 * @kernel migrate_device_finalize mm/migrate_device.c — a migrated page's
 * entries (every mapping unmap found) become entries of the destination
 * (remove_migration_pte: a device-private entry for a device page,
 * writable if the entry was, exclusive if it was or is writable), the
 * destination counts them and the source is freed (a device page through
 * page_free; `removing`: its chunk is going, so it is not put back on the
 * free stack); a page that did not migrate keeps its entries, and a
 * destination nobody took is freed.
 */
export function migrateDeviceFinalize(op: Op, pages: readonly MigratePage[], removing: boolean): void {
  for (const pg of pages) {
    const src = pg.src;
    const moved = pg.migrate && pg.dst !== null;
    if (src.kind === 'system' || src.kind === 'device') {
      if (moved && pg.dst !== null) {
        remapTo(op, pg.mappings, pg.dst);
        if (src.kind === 'system') {
          const at = folioAt(op, src.pfn);
          if (at === null || at.folio.order !== 0) throw new Error('model bug: migrated a system page that is no order-0 folio');
          addFolio(op, src.pfn, -at.folio.maps);
        } else dmirrorDevmemFree(op, src.pfn, removing);
        continue;
      }
    } else if (moved) continue; // inserted by migrate_vma_insert_page
    if (pg.dst !== null) freeDst(op, pg.dst);
  }
}

/** The mappings of a migrated page now map `dst` (remove_migration_ptes → remove_migration_pte). */
function remapTo(op: Op, mappings: readonly Mapping[], dst: MigrateDst): void {
  for (const x of mappings) {
    const p = processOf(op, x.pid);
    const v = p.vmas[x.index];
    const old = v?.ptes.get(x.key);
    if (v === undefined || old?.anon === undefined) throw new Error('model bug: a migrating entry went away');
    // remove_migration_pte: maybe_mkwrite for a writable migration entry; RMAP_EXCLUSIVE unless it was a readable one.
    const write = old.anon.write && v.prot === 'rw';
    const pte: Pte = { level: 'pte', phys: BigInt(dst.pfn) << PAGE_SHIFT, special: false, anon: { kind: dst.device ? 'device' : 'page', write, exclusive: old.anon.exclusive || old.anon.write } };
    const vmas = p.vmas.slice();
    vmas[x.index] = withVma(v, { ptes: v.ptes.set(x.key, pte) });
    setProcess(op, x.pid, withProcess(p, { vmas }));
  }
  if (mappings.length === 0) {
    // A page nothing maps (only a leaked reference held it): the destination's last reference goes at finalize.
    freeDst(op, dst);
    return;
  }
  if (dst.device) mapDevicePage(op, dst.pfn, mappings.length);
  else addFolio(op, dst.pfn, mappings.length);
}

function freeDst(op: Op, dst: MigrateDst): void {
  op.branch('migrate_device_finalize', 'dst-unused');
  if (dst.device) dmirrorDevmemFree(op, dst.pfn);
  else freePages(op, dst.pfn, 0);
}

/**
 * @kernel migrate_device_range mm/migrate_device.c — every allocated page
 * of the device pfns [lo, hi] (get_page_unless_zero), with
 * MIGRATE_PFN_MIGRATE and no write flag, unmapped from every process
 * (migrate_device_unmap). The driver then gives destinations,
 * migrate_device_pages and migrate_device_finalize run.
 */
export function migrateDeviceRange(op: Op, pfns: readonly number[]): MigratePage[] {
  const pages: MigratePage[] = pfns.map((pfn) => ({ addr: 0n, src: { kind: 'device', pfn, write: false }, migrate: true, dst: null, mappings: [] }));
  // One walk for the chunk (the notifiers below change no page table): a walk per page cost pages × entries.
  const walked = rmapWalkPages(op, pfns);
  for (const pg of pages) {
    if (pg.src.kind !== 'device') continue;
    for (const x of walked.get(pg.src.pfn) ?? []) {
      op.branch('try_to_migrate_one', 'evict');
      mmuNotifierInvalidate(op, processOf(op, x.pid).mm, x.addr, x.addr + PAGE);
      pg.mappings.push(x);
    }
  }
  return pages;
}

/** @kernel migrate_device_pages mm/migrate_device.c — without a migrate_vma: no destination, not migrated. */
export function migrateDevicePages(pages: readonly MigratePage[]): void {
  for (const pg of pages) if (pg.migrate && pg.dst === null) pg.migrate = false;
}
