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
   * The 2020 RFC "device-dax: Support devices without PFN metadata" (Joao
   * Martins, 10 Jan 2020), as posted: a pmem namespace with map=none has a
   * PFN_DEV|PFN_SPECIAL region (8/10); dev_dax_probe skips
   * devm_memremap_pages, dax_mmap sets VM_PFNMAP, faults insert special
   * entries and never touch a struct page (7/10); huge special entries exist
   * (1/10, 3/10) and follow_pfn walks them (2/10, 4/10).
   */
  readonly devdaxMapNone: boolean;
}

export const PATCHES = {
  'dax-cdev-init-once': { daxCdevInitOnce: true },
  'dax-mapping-store-checks-bound': { daxMappingStoreChecksBound: true },
  'dax-check-vma-pgoff': { daxCheckVmaPgoff: true },
  'devdax-map-none': { devdaxMapNone: true },
} as const satisfies Record<string, Partial<PatchSwitches>>;

export type PatchName = keyof typeof PATCHES;
export const PATCH_NAMES = Object.keys(PATCHES) as PatchName[];

export const NO_PATCHES: PatchSwitches = {
  daxCdevInitOnce: false,
  daxMappingStoreChecksBound: false,
  daxCheckVmaPgoff: false,
  devdaxMapNone: false,
};

/** The switches of a list of series, applied in order. */
export function patchSwitches(names: readonly PatchName[]): PatchSwitches {
  let s: PatchSwitches = NO_PATCHES;
  for (const n of names) s = { ...s, ...PATCHES[n] };
  return s;
}
