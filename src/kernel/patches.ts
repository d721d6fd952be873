/**
 * Proposed patch series (SPEC §11), applied on top of a profile by
 * `boot.patches`: each is a set of named switches in this one place, citing
 * the posting or the fix it models. A fix for a kernel finding is a series
 * like any other, so a reviewer fuzzes the kernel as it is, then with the fix.
 */

export interface PatchSwitches {
  /**
   * Fix for finding B1 (KERNEL-FACTS-DEVDAX §5.2; proposed here, not posted):
   * dev_dax_probe initialises the embedded cdev once (at device creation)
   * instead of on every bind, and chrdev_open of a device without a live
   * cdev fails with -ENXIO whatever older files still hold.
   */
  readonly daxCdevInitOnce: boolean;
  /**
   * Fix for finding B2: mapping_store refuses a device bound to a driver with
   * -EBUSY, as size_store and align_store do (drivers/dax/bus.c).
   */
  readonly daxMappingStoreChecksBound: boolean;
  /**
   * Fix for finding B3: check_vma refuses a vma whose file offset is not a
   * multiple of the device's align (as hugetlbfs does), so no huge entry is
   * inserted with an unaligned pfn.
   */
  readonly daxCheckVmaPgoff: boolean;
  /**
   * Fix (proposed here) for finding H-kmap: dmirror_do_fault stores
   * BACKING_PAGE(page) for a device-private page of its own device, as
   * dmirror_migrate_finalize_and_map does, so dmirror_do_read/_write copy
   * through memory the kernel maps instead of kmap'ing a device-private page.
   */
  readonly dmirrorFaultStoresBacking: boolean;
  /**
   * Fix (proposed here) for finding H3: dmirror_interval_invalidate ignores a
   * MMU_NOTIFY_MIGRATE event only when this dmirror runs the migration (the
   * owner cookie names the dmirror, not the device), so another file of the
   * device erases its entries of the pages moving instead of keeping pointers
   * to backing pages about to be freed.
   */
  readonly dmirrorInvalidateOtherFiles: boolean;
  /**
   * The 2020 RFC "device-dax: Support devices without PFN metadata" (Joao
   * Martins, 10 Jan 2020), as posted: a pmem namespace with map=none has a
   * PFN_DEV|PFN_SPECIAL region (8/10); dev_dax_probe skips
   * devm_memremap_pages, dax_mmap sets VM_PFNMAP, faults insert special
   * entries and never touch a struct page (7/10); huge special entries exist
   * (1/10, 3/10) and follow_pfn walks them (2/10, 4/10).
   */
  readonly devdaxMapNone: boolean;
  /**
   * The 2022 RFC "Allow persistent data on DAX device being used as KMEM"
   * (Srinivas Aji, 2 Aug 2022, 4 patches, never merged), as posted
   * (KERNEL-FACTS-PERSIST §1): MHP_ALLOCATE (1/4), the kmem persistence
   * framework with its node check and module parameters (2/4), type NONE
   * (3/4) and type BLK with the disk kmem<node> (4/4).
   */
  readonly kmemPersist: boolean;
  /**
   * How `1 << (page_num % 64)` on an int behaves in kmem_blk_free_unused
   * (4/4, KERNEL-FACTS-PERSIST §3.1): 'x86' = shl masks the count to 5 bits
   * and cltq sign-extends (pages alias in pairs {k, k+32}; an unmapped
   * partner of a mapped page is leaked), 'zero' = an architecture whose
   * 32-bit shift by 32..63 gives 0 (mapped pages with k >= 32 are freed),
   * 'u64' = the fix, 1ULL << (page_num % 64).
   */
  readonly kmemBlkShift: 'x86' | 'zero' | 'u64';
  /**
   * Fix (proposed here): a failed kmem_persist_probe no longer leaves every
   * page held with no owner: dev_dax_kmem_probe frees them all to the page
   * allocator (plain kmem), and kmem_persist_cleanup skips a NULL ops.
   */
  readonly kmemPersistProbeFallback: boolean;
  /**
   * Fix (proposed here): dev_dax_kmem_remove leaves a persistent device's
   * superblock, index and data pages held instead of freeing them into
   * memory that stays online (the on-media index would name free pages).
   */
  readonly kmemPersistUnbindKeepsData: boolean;
  /**
   * Fix (proposed here): kmem onlines MHP_ALLOCATE memory to a kernel zone
   * (MMOP_ONLINE_KERNEL) whatever the default online type, so GFP_NOIO
   * allocations of kmem_blk writes can use it.
   */
  readonly kmemPersistOnlineKernel: boolean;
  /**
   * Fix (proposed here): total_len and dax_kmem_index_to_page count only the
   * ranges kmem added, so a device with a range too small to add (or whose
   * add failed) is numbered over its added ranges instead of dereferencing
   * the NULL res.
   */
  readonly kmemPersistAddedRangesOnly: boolean;
  /**
   * Fix (proposed here): the node check also refuses a node another device
   * bound to kmem under the series already uses, so a device whose memory
   * failed to online does not let a second one onto its node.
   */
  readonly kmemPersistNodeCheckDevices: boolean;
}

export const PATCHES = {
  'dax-cdev-init-once': { daxCdevInitOnce: true },
  'dax-mapping-store-checks-bound': { daxMappingStoreChecksBound: true },
  'dax-check-vma-pgoff': { daxCheckVmaPgoff: true },
  'dmirror-fault-backing-page': { dmirrorFaultStoresBacking: true },
  'dmirror-invalidate-other-files': { dmirrorInvalidateOtherFiles: true },
  'devdax-map-none': { devdaxMapNone: true },
  'kmem-persist': { kmemPersist: true, kmemBlkShift: 'x86' },
  'kmem-persist-zero-shift': { kmemBlkShift: 'zero' },
  'kmem-persist-fix-shift': { kmemBlkShift: 'u64' },
  'kmem-persist-fix-probe-errors': { kmemPersistProbeFallback: true },
  'kmem-persist-fix-unbind': { kmemPersistUnbindKeepsData: true },
  'kmem-persist-fix-movable': { kmemPersistOnlineKernel: true },
  'kmem-persist-fix-ranges': { kmemPersistAddedRangesOnly: true },
  'kmem-persist-fix-node-check': { kmemPersistNodeCheckDevices: true },
} as const satisfies Record<string, Partial<PatchSwitches>>;

export type PatchName = keyof typeof PATCHES;
export const PATCH_NAMES = Object.keys(PATCHES) as PatchName[];

export const NO_PATCHES: PatchSwitches = {
  daxCdevInitOnce: false,
  daxMappingStoreChecksBound: false,
  daxCheckVmaPgoff: false,
  dmirrorFaultStoresBacking: false,
  dmirrorInvalidateOtherFiles: false,
  devdaxMapNone: false,
  kmemPersist: false,
  kmemBlkShift: 'x86',
  kmemPersistProbeFallback: false,
  kmemPersistUnbindKeepsData: false,
  kmemPersistOnlineKernel: false,
  kmemPersistAddedRangesOnly: false,
  kmemPersistNodeCheckDevices: false,
};

/** The switches of a list of series, applied in order. */
export function patchSwitches(names: readonly PatchName[]): PatchSwitches {
  let s: PatchSwitches = NO_PATCHES;
  for (const n of names) s = { ...s, ...PATCHES[n] };
  return s;
}
