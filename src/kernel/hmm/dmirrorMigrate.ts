/**
 * test_hmm's side of migration (lib/test_hmm.c, Debian 6.1.192): the
 * MIGRATE_TO_DEV and MIGRATE_TO_SYS commands (dmirror_migrate_to_device,
 * dmirror_migrate_to_system with their alloc-and-copy and map steps), the
 * device pages' migrate_to_ram (dmirror_devmem_fault, run by do_swap_page
 * when the CPU touches a device-private entry), and the eviction of a chunk
 * (dmirror_device_evict_chunk) at close and at RELEASE. The mm side is
 * src/kernel/mm/migrateDevice.ts.
 */
import type { Op } from '../op.js';
import { migrateDeviceFinalize, migrateDevicePages, migrateDeviceRange, migrateVmaFinalize, migrateVmaPages, migrateVmaSetup, type MigrateVma } from '../mm/migrateDevice.js';
import { allocPages } from '../mm/pageAlloc.js';
import { physCopyPage } from '../mm/physmem.js';
import { processOf, setFile, vmaAt } from '../mm/process.js';
import { PAGE_SHIFT, type MirrorEntry } from '../mm/types.js';
import { WideIntMap } from '../../util/wideIntMap.js';
import type { DaxRange } from '../state.js';
import { devicePageAt, devicePagesIn, dmirrorDevmemAllocPage } from './devicePages.js';

const PAGE = 4096n;
/** ARRAY_SIZE(src_pfns): 64 pages per migrate_vma. */
const WINDOW = 64n << PAGE_SHIFT;

/** The device page table of file `id` changes at `addr` (xa_store / xa_erase); a file already gone is left alone. */
function setMirror(op: Op, id: number, addr: bigint, entry: MirrorEntry | null): void {
  const f = op.state.mm.files.get(id);
  if (f === undefined) return;
  const mirror = f.mirror ?? WideIntMap.empty<MirrorEntry>();
  const key = Number(addr >> PAGE_SHIFT);
  setFile(op, id, { ...f, mirror: entry === null ? mirror.delete(key) : mirror.set(key, entry) });
}

/** A command's windows: done (cpages moved, for MIGRATE_TO_SYS), EINVAL from vma_lookup (`why`) or from migrate_vma_setup (`setup`, its branch taken there), or not modelled. */
export type MigrateCmdResult = { readonly ok: true; readonly cpages: number } | { readonly ok: false; readonly errno: 'EINVAL'; readonly why: string; readonly setup: boolean } | { readonly ok: false; readonly notModelled: string };

/**
 * The windows of dmirror_migrate_to_device / _to_system over [start, end)
 * of the mirrored process `pid`: vma_lookup (no vma, or no VM_READ: EINVAL),
 * the window cut at 64 pages and at the vma's end, migrate_vma_setup
 * (its EINVAL ends the command), then `each` runs the driver's steps.
 */
function forEachWindow(op: Op, pid: string, start: bigint, end: bigint, select: 'system' | 'device-private', device: number, fileId: number, each: (m: MigrateVma) => void): MigrateCmdResult {
  for (let addr = start; addr < end; ) {
    const at = vmaAt(processOf(op, pid), addr);
    if (at === null || at.vma.prot === 'none') return { ok: false, errno: 'EINVAL', why: at === null ? 'no-vma' : '!VM_READ', setup: false };
    let next = addr + WINDOW < end ? addr + WINDOW : end;
    if (next > at.vma.end) next = at.vma.end;
    const setup = migrateVmaSetup(op, pid, addr, next, select, device, fileId);
    if (!setup.ok) return 'errno' in setup ? { ok: false, errno: 'EINVAL', why: setup.why, setup: true } : setup;
    each(setup.m);
    addr = next;
  }
  return { ok: true, cpages: 0 };
}

/**
 * @kernel dmirror_migrate_to_device lib/test_hmm.c — per window:
 * migrate_vma_setup (MIGRATE_VMA_SELECT_SYSTEM, owner the device),
 * dmirror_migrate_alloc_and_copy, migrate_vma_pages,
 * dmirror_migrate_finalize_and_map, migrate_vma_finalize. The caller then
 * reads the range back through the device page table (dmirror_do_read).
 */
export function dmirrorMigrateToDevice(op: Op, fileId: number, device: number, pid: string, start: bigint, end: bigint): MigrateCmdResult {
  return forEachWindow(op, pid, start, end, 'system', device, fileId, (m) => {
    dmirrorMigrateAllocAndCopy(op, m, device, fileId);
    migrateVmaPages(op, m);
    dmirrorMigrateFinalizeAndMap(op, m, fileId);
    migrateVmaFinalize(op, m);
  });
}

/**
 * @kernel dmirror_migrate_alloc_and_copy lib/test_hmm.c — for each page
 * collect kept: a device page already (cannot be with SELECT_SYSTEM: the
 * driver WARNs and skips), else a new device page (none: skipped), its
 * backing page a copy of the source (a hole or the zero page: the new page
 * is already zero); the destination is writable if the source was, or, with
 * no source page, if the vma has VM_WRITE.
 */
function dmirrorMigrateAllocAndCopy(op: Op, m: MigrateVma, device: number, fileId: number): void {
  const vmaWrite = vmaAt(processOf(op, m.pid), m.start)?.vma.prot === 'rw';
  for (const pg of m.pages) {
    if (!pg.migrate) continue;
    if (pg.src.kind === 'device') {
      op.print(`WARNING: page already in device spage pfn: 0x${pg.src.pfn.toString(16)}`);
      continue;
    }
    const dpage = dmirrorDevmemAllocPage(op, device, fileId);
    if (dpage === null) continue;
    if (pg.src.kind === 'system') physCopyPage(op, pg.src.pfn, (devicePageAt(op, dpage) as { rpage: number }).rpage);
    const write = pg.src.kind === 'system' ? pg.src.write : vmaWrite;
    pg.dst = { pfn: dpage, write, device: true };
  }
}

/**
 * @kernel dmirror_migrate_finalize_and_map lib/test_hmm.c — each page still
 * migrating enters the device page table as its backing page, tagged
 * DPT_XA_TAG_WRITE when the destination is writable.
 */
function dmirrorMigrateFinalizeAndMap(op: Op, m: MigrateVma, fileId: number): void {
  for (const pg of m.pages) {
    if (!pg.migrate || pg.dst === null) continue;
    const page = devicePageAt(op, pg.dst.pfn);
    if (page === undefined) throw new Error('model bug: a migrated device page is not allocated');
    setMirror(op, fileId, pg.addr, { phys: BigInt(page.rpage) << PAGE_SHIFT, tag: pg.dst.write ? 'write' : 'read' });
  }
}

/**
 * @kernel dmirror_migrate_to_system lib/test_hmm.c — per window:
 * migrate_vma_setup (MIGRATE_VMA_SELECT_DEVICE_PRIVATE, owner the device),
 * dmirror_devmem_fault_alloc_and_copy, migrate_vma_pages, cpages += the
 * pages still VALID and MIGRATE (dmirror_successful_migrated_pages),
 * migrate_vma_finalize.
 */
export function dmirrorMigrateToSystem(op: Op, fileId: number, device: number, pid: string, start: bigint, end: bigint): MigrateCmdResult {
  let cpages = 0;
  const r = forEachWindow(op, pid, start, end, 'device-private', device, fileId, (m) => {
    dmirrorDevmemFaultAllocAndCopy(op, m, fileId);
    migrateVmaPages(op, m);
    for (const pg of m.pages) if (pg.migrate && (pg.src.kind === 'device' || pg.src.kind === 'system')) cpages++;
    migrateVmaFinalize(op, m);
  });
  return r.ok ? { ok: true, cpages } : r;
}

/**
 * @kernel dmirror_devmem_fault_alloc_and_copy lib/test_hmm.c — for each
 * device page collect kept: a system page (alloc_page_vma; none: skipped),
 * the entry at that address erased from the dmirror's page table, the
 * backing page copied in; writable if the source entry was.
 */
function dmirrorDevmemFaultAllocAndCopy(op: Op, m: MigrateVma, fileId: number): void {
  for (const pg of m.pages) {
    if (!pg.migrate || pg.src.kind !== 'device') continue;
    const page = devicePageAt(op, pg.src.pfn);
    if (page === undefined) throw new Error('model bug: a collected device page is not allocated');
    const pfn = allocPages(op, 0);
    if (pfn === null) {
      op.branch('dmirror_devmem_fault_alloc_and_copy', 'no-page');
      continue;
    }
    setMirror(op, fileId, pg.addr, null);
    physCopyPage(op, page.rpage, pfn);
    pg.dst = { pfn, write: pg.src.write, device: false };
  }
}

/**
 * @kernel dmirror_devmem_fault lib/test_hmm.c (dev_pagemap_ops.migrate_to_ram)
 * — the dmirror that migrated the page (rpage->zone_device_data), one page
 * at the faulting address with the page as fault_page; a setup failure is
 * VM_FAULT_SIGBUS; then alloc-and-copy (which erases that dmirror's entry
 * at this address, whichever mm faults), pages, finalize.
 */
export function migrateToRam(op: Op, pid: string, addr: bigint, dpfn: number): 'ok' | 'sigbus' {
  const page = devicePageAt(op, dpfn);
  if (page === undefined) throw new Error(`model bug: a device-private entry for pfn 0x${dpfn.toString(16)}, which is not allocated`);
  const setup = migrateVmaSetup(op, pid, addr, addr + PAGE, 'device-private', page.device, page.dmirror, dpfn);
  if (!setup.ok) return 'sigbus';
  dmirrorDevmemFaultAllocAndCopy(op, setup.m, page.dmirror);
  migrateVmaPages(op, setup.m);
  migrateVmaFinalize(op, setup.m);
  return 'ok';
}

/**
 * @kernel dmirror_device_evict_chunk lib/test_hmm.c — migrate_device_range
 * over the chunk's pfns, a system page for each (GFP_HIGHUSER_MOVABLE |
 * __GFP_NOFAIL) holding a copy of the backing page, migrate_device_pages,
 * migrate_device_finalize: every entry of the chunk's pages, in any
 * process, becomes a present system page. `removing`: the chunk is going
 * (dmirror_device_remove_chunks), so its pages are not put back on the
 * free stack.
 */
export function dmirrorDeviceEvictChunk(op: Op, chunk: DaxRange, removing: boolean): void {
  const pfns = devicePagesIn(op, Number(chunk.start >> PAGE_SHIFT), Number(chunk.end >> PAGE_SHIFT));
  if (pfns.length === 0) return;
  op.branch('dmirror_device_evict_chunk', removing ? 'remove' : 'release');
  const pages = migrateDeviceRange(op, pfns);
  for (const pg of pages) {
    if (pg.src.kind !== 'device') continue;
    const page = devicePageAt(op, pg.src.pfn);
    if (page === undefined) throw new Error('model bug: an evicted device page is not allocated');
    const pfn = allocPages(op, 0);
    if (pfn === null) throw new Error('not modelled: no system memory left for a __GFP_NOFAIL allocation (the kernel would loop in the allocator)');
    physCopyPage(op, page.rpage, pfn);
    pg.dst = { pfn, write: false, device: false };
  }
  migrateDevicePages(pages);
  migrateDeviceFinalize(op, pages, removing);
}
