/**
 * The state of lib/test_hmm.c (Debian 6.1.192): whether the module is live,
 * its device-private dmirror devices (dmirror_devices[0..1]) and each
 * device's chunks (struct dmirror_chunk: one pgmap range each, in
 * mdevice->devmem_chunks order). Device-coherent devices (module parameters
 * spm_addr_dev0/1) are left out.
 */
import type { DaxRange } from '../state.js';
import { WideIntMap } from '../../util/wideIntMap.js';

/** mdevice->free_pages: a stack threaded through page->zone_device_data, the last freed page on top. */
export type FreeStack = { readonly pfn: number; readonly next: FreeStack } | null;

/** struct dmirror_device, the part the model keeps: its chunks' pgmap ranges and its page allocator. */
export interface DmirrorDevice {
  readonly chunks: readonly DaxRange[];
  /** Pages dmirror_devmem_free pushed back, above `fresh`. */
  readonly free: FreeStack;
  /**
   * The newest chunk's pages never handed out, [lo, next]: dmirror_allocate_chunk
   * pushes a chunk's pfns in ascending order, so they come off the stack from
   * the top down, and a new chunk is only made when the stack is empty. Null: none.
   */
  readonly fresh: { readonly lo: number; readonly next: number } | null;
}

/**
 * An allocated device-private page (a ZONE_DEVICE struct page of a chunk,
 * zone_device_page_init'ed by dmirror_devmem_alloc_page), keyed in
 * HmmState.pages by its pfn.
 */
export interface DevicePage {
  /** dmirror_page_to_device: the index of the device whose chunk holds it. */
  readonly device: number;
  /** BACKING_PAGE: page->zone_device_data, the system page (alloc_page(GFP_HIGHUSER)) that holds its data. */
  readonly rpage: number;
  /** rpage->zone_device_data: the struct dmirror (open file id) whose migration allocated it; migrate_to_ram erases in that file's page table. */
  readonly dmirror: number;
  /** Device-private entries mapping it: page_mapcount and, as the model has no pins, the refcount beyond the allocation. */
  readonly maps: number;
}

export interface HmmState {
  /** test_hmm is live: hmm_dmirror_init returned 0 (at boot when built in, at modprobe as a module) and no rmmod since. */
  readonly loaded: boolean;
  /** The device-private devices while loaded (two: hmm_dmirror_init always creates dmirror0 and dmirror1); [] otherwise. */
  readonly devices: readonly DmirrorDevice[];
  /** Allocated device pages of every device, by pfn (src/kernel/hmm/devicePages.ts). */
  readonly pages: WideIntMap<DevicePage>;
}

export const HMM_UNLOADED: HmmState = { loaded: false, devices: [], pages: WideIntMap.empty() };

/** DEVMEM_CHUNK_SIZE (lib/test_hmm.c): 256 MiB per chunk. */
export const DEVMEM_CHUNK_SIZE = 256n << 20n;

/** DMIRROR_NDEVICES less the two device-coherent ones: the device-private devices hmm_dmirror_init creates. */
export const DMIRROR_PRIVATE_DEVICES = 2;
