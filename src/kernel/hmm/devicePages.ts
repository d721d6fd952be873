/**
 * test_hmm's device page allocator (lib/test_hmm.c, Debian 6.1.192):
 * dmirror_devmem_alloc_page and the pgmap's page_free callback,
 * dmirror_devmem_free. A device page of a MEMORY_DEVICE_PRIVATE chunk has
 * a struct page and no memory the CPU can reach: the driver "simulates"
 * the device's memory with a system page it allocates beside it
 * (BACKING_PAGE), which holds the data and is freed with it.
 *
 * The page's life (machines/devicePage.machine.ts): free (on the stack or
 * never handed out) → allocated (dmirror_devmem_alloc_page) → mapped by
 * device-private entries (migrate_vma_insert_page / remove_migration_pte)
 * → freed when its last entry goes (put_page → free_zone_device_page →
 * page_free), pushed back unless its chunk is being removed.
 */
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
  setDevice(op, device, got.dev);
  setHmm(op, { pages: op.state.hmm.pages.set(got.pfn, { device, rpage, dmirror, maps: 0 }) });
  return got.pfn;
}

/** The page gains (delta > 0) or loses device-private entries; at none it is freed (put_page → page_free). */
export function mapDevicePage(op: Op, pfn: number, delta: number): void {
  const p = devicePageAt(op, pfn);
  if (p === undefined) throw new Error(`model bug: no device page at pfn 0x${pfn.toString(16)}`);
  const maps = p.maps + delta;
  if (maps < 0) throw new Error(`model bug: device page 0x${pfn.toString(16)} mapcount underflow`);
  if (maps > 0) {
    setHmm(op, { pages: op.state.hmm.pages.set(pfn, { ...p, maps }) });
    return;
  }
  dmirrorDevmemFree(op, pfn);
}

/**
 * @kernel dmirror_devmem_free lib/test_hmm.c (dev_pagemap_ops.page_free,
 * from free_zone_device_page when the last reference goes) — the backing
 * page is freed; the device page goes back on top of the free stack unless
 * its chunk is being removed (dmirror_device_remove_chunks sets `remove`
 * before evicting: `removing` here).
 */
export function dmirrorDevmemFree(op: Op, pfn: number, removing = false): void {
  const p = devicePageAt(op, pfn);
  if (p === undefined) throw new Error(`model bug: freeing device page 0x${pfn.toString(16)}, which is not allocated`);
  freePages(op, p.rpage, 0);
  setHmm(op, { pages: op.state.hmm.pages.delete(pfn) });
  if (removing) {
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
