/**
 * Mirrors mm/memremap.c (Debian 6.1.192) memremap_pages / memunmap_pages for
 * MEMORY_DEVICE_PRIVATE, and arch/x86/mm/init_64.c add_pages, the part
 * device-private memory takes: struct pages only (no direct map, no memory
 * blocks, no System RAM resource, max_pfn not raised).
 *
 * Left out: the other pgmap types (device-dax's pgmap is in
 * src/kernel/dax/device.ts), the percpu refcount and its wait at unmap, the
 * region_intersects(System RAM) check of pagemap_range (a range
 * request_free_mem_region returned never intersects anything), the missing
 * ops/owner WARNs (test_hmm always sets them), and zone-device page init.
 */
import { physmemEnd } from '../config.js';
import { err, OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import type { DaxRange } from '../state.js';

const PAGE_SHIFT = 12n;

/**
 * @kernel add_pages arch/x86/mm/init_64.c
 * 6.1.192 (and v6.11+): WARN and -ERANGE when the last byte of the pfn range
 * lies above PHYSMEM_END; v6.8 has no such check (profile
 * addPagesChecksPhysmemEnd), so there the B10 variant's range is placed.
 */
export function addPages(op: Op, startPfn: bigint, nrPages: bigint): Ret {
  const end = ((startPfn + nrPages) << PAGE_SHIFT) - 1n;
  if (op.state.profile.addPagesChecksPhysmemEnd && end > physmemEnd(op.state.config)) {
    op.print('WARNING: at arch/x86/mm/init_64.c:974 add_pages');
    op.branch('add_pages', 'ERANGE');
    return err('ERANGE');
  }
  return OK;
}

/**
 * @kernel memremap_pages mm/memremap.c (MEMORY_DEVICE_PRIVATE)
 * WARN + -EINVAL without CONFIG_DEVICE_PRIVATE; then pagemap_range, whose
 * arch_add_memory step is add_pages for device-private memory. A fault
 * injected at memremap_pages fails it as a failed allocation would.
 */
export function memremapPagesPrivate(op: Op, range: DaxRange): Ret {
  if (!op.state.config.devicePrivate) {
    op.print('Device private memory not supported');
    op.print('WARNING: at mm/memremap.c:307 memremap_pages');
    op.branch('memremap_pages', 'EINVAL');
    return err('EINVAL');
  }
  const injected = op.inject('memremap_pages');
  if (injected !== null) return err(injected);
  return addPages(op, range.start >> PAGE_SHIFT, (range.end - range.start + 1n) >> PAGE_SHIFT);
}

/**
 * @kernel memunmap_pages mm/memremap.c
 * Frees the struct pages (arch_remove_memory); the chunk's iomem range is
 * the driver's to release (release_mem_region in test_hmm). Nothing the
 * model keeps changes here.
 */
export function memunmapPages(_op: Op, _range: DaxRange): void {}
