/**
 * test_hmm's device page allocator (lib/test_hmm.c, Debian 6.1.192):
 * dmirror_devmem_alloc_page and the pgmap's page_free callback,
 * dmirror_devmem_free. A device page of a MEMORY_DEVICE_PRIVATE chunk has
 * a struct page and no memory the CPU can reach: the driver "simulates"
 * the device's memory with a system page it allocates beside it
 * (BACKING_PAGE), which holds the data and is freed with it.
 *
 * The page's life is machines/devicePage.machine.ts: free (on the stack or
 * never handed out) → allocated (dmirror_devmem_alloc_page) → mapped by
 * device-private entries (migrate_vma_insert_page / remove_migration_pte)
 * → freed when its last entry goes (put_page → free_zone_device_page →
 * page_free), pushed back unless its chunk is being removed. Every change
 * of a page here is a step of that machine's derived table (stepDevicePage),
 * recorded for coverage; a step the machine does not have is a model bug.
 * The machine's state is read off the record: no record is `free` (a
 * removed chunk's pages are no longer asked about), `maps` 0 `allocated`,
 * more `mapped`; chunk->remove is the callers' `removing`.
 */
import { devicePageContextKey, stepDevicePage, type DevicePageEvent, type DevicePageMachineState } from '../../../machines/index.js';
import type { Op } from '../op.js';
import { allocPages, freePages } from '../mm/pageAlloc.js';
import { withState } from '../state.js';
import { dmirrorAllocateChunk, withChunk } from './testHmm.js';
import type { DevicePage, DmirrorDevice, HmmState } from './types.js';

function setHmm(op: Op, h: Partial<HmmState>): void {
  op.state = withState(op.state, { hmm: { ...op.state.hmm, ...h } });
}

function setDevice(op: Op, index: number, d: DmirrorDevice): void {
  const devices = op.state.hmm.devices.slice();
  devices[index] = d;
  setHmm(op, { devices });
}

/** The machine state of a device page from its record (undefined: not allocated, so free). */
function machineOf(p: DevicePage | undefined): DevicePageMachineState {
  if (p === undefined) return { state: 'free', mapcount: 0, removing: false };
  return { state: p.maps > 0 ? 'mapped' : 'allocated', mapcount: p.maps, removing: false };
}

/** One step of the page's machine through the derived table, recorded as `devicePage:context:state:event`. */
function step(op: Op, pfn: number, from: DevicePageMachineState, event: DevicePageEvent['type']): DevicePageMachineState {
  const next = stepDevicePage(from, event);
  const key = devicePageContextKey(from);
  if (next === undefined) throw new Error(`model bug: device page 0x${pfn.toString(16)} is ${from.state} (${key}) and cannot take ${event}`);
  op.transition(`devicePage:${key}:${from.state}:${event}`);
  return next;
}

/** The allocated device page at `pfn`, or undefined. */
export function devicePageAt(op: Op, pfn: number): DevicePage | undefined {
  return op.state.hmm.pages.get(pfn);
}

/** Pop the device's free stack (the freed pages, then the newest chunk's fresh ones), or null when empty. */
function popFree(d: DmirrorDevice): { readonly pfn: number; readonly dev: DmirrorDevice } | null {
  if (d.free !== null) return { pfn: d.free.pfn, dev: { ...d, free: d.free.next } };
  if (d.fresh !== null) return { pfn: d.fresh.next, dev: { ...d, fresh: d.fresh.next > d.fresh.lo ? { lo: d.fresh.lo, next: d.fresh.next - 1 } : null } };
  return null;
}

/**
 * @kernel dmirror_devmem_alloc_page lib/test_hmm.c — the backing page first
 * (alloc_page(GFP_HIGHUSER): null when none), then the top of the free
 * stack, or a new chunk (dmirror_allocate_chunk with ppage) when the stack
 * is empty; a failed chunk frees the backing page. The page is allocated to
 * `dmirror` (the file whose migration asked) with no mapping yet; the
 * caller maps it or frees it. Returns the device page's pfn, or null.
 */
export function dmirrorDevmemAllocPage(op: Op, device: number, dmirror: number): number | null {
  const rpage = allocPages(op, 0);
  if (rpage === null) {
    op.branch('dmirror_devmem_alloc_page', 'no-backing-page');
    return null;
  }
  let dev = op.state.hmm.devices[device] as DmirrorDevice;
  let got = popFree(dev);
  if (got === null) {
    const chunk = dmirrorAllocateChunk(op, dev.chunks.length);
    if (!chunk.ok) {
      freePages(op, rpage, 0);
      op.branch('dmirror_devmem_alloc_page', 'no-chunk');
      return null;
    }
    op.branch('dmirror_devmem_alloc_page', 'new-chunk');
    dev = withChunk(op.state.hmm.devices[device] as DmirrorDevice, chunk.value);
    got = popFree(dev);
    if (got === null) throw new Error('model bug: a new chunk with no free page');
  } else op.branch('dmirror_devmem_alloc_page', 'free-list');
  if (step(op, got.pfn, machineOf(devicePageAt(op, got.pfn)), 'devpage.allocated').state !== 'allocated') throw new Error('model bug: devpage.allocated does not allocate');
  setDevice(op, device, got.dev);
  setHmm(op, { pages: op.state.hmm.pages.set(got.pfn, { device, rpage, dmirror, maps: 0 }) });
  return got.pfn;
}

/**
 * The page gains `delta` device-private entries (devpage.mapped each:
 * migrate_vma_insert_page, remove_migration_pte, copy_nonpresent_pte) or
 * loses -delta (devpage.unmapped each: zap_pte_range's page_remove_rmap +
 * put_page). The machine frees it at the last unmap, and taking one more
 * (an underflow) is a step it does not have.
 */
export function mapDevicePage(op: Op, pfn: number, delta: number): void {
  const p = devicePageAt(op, pfn);
  if (p === undefined) throw new Error(`model bug: no device page at pfn 0x${pfn.toString(16)}`);
  const event = delta > 0 ? 'devpage.mapped' : 'devpage.unmapped';
  let m = machineOf(p);
  for (let i = 0; i < Math.abs(delta); i++) m = step(op, pfn, m, event);
  if (m.state === 'free' || m.state === 'gone') release(op, pfn, p, m.state);
  else if (m.mapcount !== p.maps) setHmm(op, { pages: op.state.hmm.pages.set(pfn, { ...p, maps: m.mapcount }) });
}

/**
 * The put of a device page's last reference that no entry holds, in
 * migrate_device_finalize (folio_put of a migrated source page, or of a
 * destination nobody mapped), through free_zone_device_page to
 * dmirror_devmem_free: devpage.freed. `removing`: its chunk is being
 * removed (dmirror_device_remove_chunks set chunk->remove before evicting
 * it: chunk.removing first), so it is gone rather than free.
 *
 * A migrated source page still counts its entries here: the model keeps
 * them in place from collect to finalize (src/kernel/mm/migrateDevice.ts),
 * where the kernel made them migration entries under the migration's
 * reference (migrate_vma_collect_pmd, try_to_migrate_one), and
 * remove_migration_ptes has just given them to the destination. That
 * unmapping is stepped first (devpage.isolated), so the free is from a
 * page no entry maps, as in the kernel.
 */
export function dmirrorDevmemFree(op: Op, pfn: number, removing = false): void {
  const p = devicePageAt(op, pfn);
  if (p === undefined) throw new Error(`model bug: freeing device page 0x${pfn.toString(16)}, which is not allocated`);
  let m = machineOf(p);
  if (removing) m = step(op, pfn, m, 'chunk.removing');
  if (m.state === 'mapped') m = step(op, pfn, m, 'devpage.isolated');
  m = step(op, pfn, m, 'devpage.freed');
  if (m.state !== 'free' && m.state !== 'gone') throw new Error(`model bug: devpage.freed leaves device page 0x${pfn.toString(16)} ${m.state}`);
  release(op, pfn, p, m.state);
}

/**
 * @kernel dmirror_devmem_free lib/test_hmm.c (dev_pagemap_ops.page_free,
 * from free_zone_device_page when the last reference goes) — the backing
 * page is freed; the device page goes back on top of the free stack
 * (`free`) unless its chunk is being removed (`gone`: chunk->remove).
 */
function release(op: Op, pfn: number, p: DevicePage, to: 'free' | 'gone'): void {
  freePages(op, p.rpage, 0);
  setHmm(op, { pages: op.state.hmm.pages.delete(pfn) });
  if (to === 'gone') {
    op.branch('dmirror_devmem_free', 'chunk-removed');
    return;
  }
  op.branch('dmirror_devmem_free', 'free-list');
  const dev = op.state.hmm.devices[p.device] as DmirrorDevice;
  setDevice(op, p.device, { ...dev, free: { pfn, next: dev.free } });
}

/** The device pages of [lo, hi] (a chunk's pfns) in ascending order. */
export function devicePagesIn(op: Op, lo: number, hi: number): number[] {
  const h = op.state.hmm.pages;
  if (h.size === 0) return [];
  return [...h.range(lo, hi)].map(([pfn]) => pfn);
}
