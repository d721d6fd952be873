/**
 * Kernel profiles: every behaviour that differs between the modelled kernels
 * is one named switch here, with the version (and commit where known) that
 * changed it. test/kernel/profile.test.ts exercises each switch.
 *
 * Profile "5.1" is v5.1 with the stable fixes tagged for it (notably
 * 31e4ca92a7dd, the kmem probe leak fix); "6.1" is the 6.1.y stable series
 * as Debian ships it (6.1.192-3, linux-source-6.1: it carries the v6.2 leak
 * fix e686c32590f4 and the 2026 kmem never-added-range fix as backports);
 * "6.8" is v6.8 as released; "6.12" is the 6.12.y stable series as Debian
 * bookworm ships it (6.12.118-1~deb12u1, linux-source-6.12), read in
 * drivers/dax/{bus,device,kmem,hmem}, mm/memory_hotplug.c,
 * drivers/base/memory.c and kernel/resource.c of that source.
 */

import { DEVDAX_PROFILES, type DevdaxSwitches } from './dax/deviceProfile.js';
import { patchSwitches, type PatchName, type PatchSwitches } from './patches.js';

export const KERNEL_VERSIONS = ['5.1', '6.1', '6.8', '6.12'] as const;
export type KernelVersion = (typeof KERNEL_VERSIONS)[number];

export interface ProfileSwitches {
  /** v5.14 "driver core: Flow the return code from ->probe() through to sysfs bind": bind reports -EBUSY for a bound device and the probe's errno; before, both became -ENODEV. */
  readonly bindReportsProbeErrno: boolean;
  /** v6.3 "dax: Assign RAM regions to memory-hotplug by default": dax_bus_match by id then by type (IORESOURCE_DAX_KMEM); before, device_dax had match_always. */
  readonly daxMatchByType: boolean;
  /** v5.8 add_memory_driver_managed: kmem memory is "System RAM (kmem)", IORESOURCE_SYSRAM_DRIVER_MANAGED; before, add_memory with "System RAM". */
  readonly kmemDriverManaged: boolean;
  /** v5.10 dax_kmem_range: per-range loop with the `mapped` counter; before, the whole region's aligned range in one add. */
  readonly kmemPerRange: boolean;
  /** v5.3 9f960da72b25: kmem remove calls remove_memory; before, remove did nothing. */
  readonly kmemRemoveHotRemoves: boolean;
  /** v6.2 e686c32590f4 (in 6.1.y): kmem remove uses remove_resource and release_mem_region_adjustable no longer stops at a non-SYSRAM parent. */
  readonly kmemRemoveLeakFixed: boolean;
  /** v5.15 memory groups: kmem registers a static group per device (MHP_NID_IS_MGID). */
  readonly memoryGroups: boolean;
  /** memmap_on_memory support test: v5.12–v6.7 only single-block adds; v6.8 per-block altmaps for any add. */
  readonly memmapOnMemory: 'single-block' | 'per-block';
  /** v6.8: dax devices have a memmap_on_memory attribute and kmem passes MHP_MEMMAP_ON_MEMORY when it is set. */
  readonly daxMemmapOnMemory: boolean;
  /** v5.1 online_pages onlines only what walk_system_ram_range finds; the walk was dropped later (by v5.7 [unconfirmed]). */
  readonly onlineWalksSystemRam: boolean;
  /** ~v5.9 "mm/memory_hotplug: allow to specify a default online_type": auto_online_blocks takes online_kernel/online_movable; v5.1 took online/offline only. */
  readonly autoOnlineTypes: boolean;
  /** v5.10 dax device sub-division: `size`, `align` (and `mapping`) attributes are writable, devices may have several ranges. */
  readonly daxResizable: boolean;
  /** v5.3 "device-dax: Add a 'resource' attribute" (Vishal Verma, 2019). */
  readonly daxResourceAttr: boolean;
  /**
   * July 2025 (Akinobu Mita, "resource: fix false warning in __request_region()"): __request_region warns about a
   * device-private conflict only at the iomem root. In 6.12.y (6.12.118's kernel/resource.c has the
   * `parent == &iomem_resource` test); not in 6.1.y as Debian ships it (6.1.192's __request_region_locked warns at
   * every level).
   */
  readonly devicePrivateWarnTopLevelOnly: boolean;
  /** kstrtobool accepts t/T/f/F ("true"/"false"), added around v5.17 [unconfirmed exact version]. */
  readonly kstrtoboolTrueFalse: boolean;
  /**
   * Feb 2026 "dax/kmem: account for partial dis-contiguous resource upon removal" (Davidlohr Bueso, Fixes:
   * 60e93dc097f7), backported to 6.1.y and 6.12.y (both Debian sources have it): dev_dax_kmem_remove counts a range
   * whose resource probe never added (data->res[i] == NULL) as removed, before calling remove_memory; before, it
   * called remove_memory on it (which succeeds: nothing is there) and then remove_resource(NULL).
   */
  readonly kmemRemoveSkipsNeverAdded: boolean;
  /**
   * really_probe's message for a failed probe: dev_err(dev, "probe with driver %s failed with error %d") in 6.12.118's
   * drivers/base/dd.c, pr_warn("%s: probe of %s failed with error %d") in 6.1.192's. Changed between 6.1 and 6.12
   * [unconfirmed which release; the 6.8 value is assumed]. Kernel messages only (klog, not compared by `kernel diff`).
   */
  readonly probeFailedDevErr: boolean;
  /**
   * SWP_DEVICE_NUM with CONFIG_DEVICE_PRIVATE (include/linux/swap.h): 2 (SWP_DEVICE_WRITE/READ) from the 2017 HMM
   * series to v5.13; v5.14 b756a3b5e7ea "mm: Device exclusive memory access" adds SWP_DEVICE_EXCLUSIVE_{WRITE,READ}: 4
   * (6.1.192 and 6.12.118 as Debian ships them). David Hildenbrand's "mm: use single SWP_DEVICE_EXCLUSIVE entry type"
   * (posted Jan 2025, after 6.12) makes it 3.
   */
  readonly swpDeviceNum: 2 | 4;
  /** SWP_MIGRATION_NUM with CONFIG_MIGRATION: 2 (READ, WRITE) in v5.1; 3 once SWP_MIGRATION_READ_EXCLUSIVE exists (v5.19, the PG_anon_exclusive series; 6.1.192 has it). */
  readonly swpMigrationNum: 2 | 3;
  /**
   * SWP_PTE_MARKER_NUM: no such type before v5.19 (Peter Xu's "mm: introduce PTE_MARKER swap entry"); 1 with
   * CONFIG_PTE_MARKER in 6.1.192 ('config'); 1 always once the option is gone (v6.5 "mm: make PTE_MARKER
   * non-optional" [unconfirmed which release]; 6.12.118's Kconfig has no PTE_MARKER and swap.h counts it always: 'always').
   */
  readonly swpPteMarker: 'none' | 'config' | 'always';
  /**
   * SWP_SWAPIN_ERROR_NUM, 1 and unconditional, in 6.1.192's swap.h (added ≈v5.19/6.0 [unconfirmed]); Peter Xu's
   * "mm/swap: use PTE markers for swap errors" drops it and gives the type back to swap (v6.5 [unconfirmed which
   * release]; 6.12 has none). Not in v5.1.
   */
  readonly swpSwapinError: boolean;
  /**
   * get_free_mem_region's descending step (kernel/resource.c): by the size in Debian's 6.1.192 (gfr_next(addr, size))
   * and in v5.1's mm/hmm.c hmm_devmem_add (`addr -= size`, the 2017 rule); by the alignment in 6.12.118
   * (gfr_continue/gfr_next(addr, align), "kernel/resource: Increment by align value in get_free_mem_region()",
   * v6.4 [release from memory]; 6.8 assumed to have it).
   */
  readonly gfrStep: 'size' | 'align';
  /**
   * x86-64 add_pages returns -ERANGE (WARN) for a range ending above PHYSMEM_END: part of ea72ce5da228 "x86/kaslr:
   * Expose and use the end of the physical memory address space" (v6.11), backported to 6.1.y (6.1.192 has it) and in
   * 6.12; not in v6.8 as released nor v5.1.
   */
  readonly addPagesChecksPhysmemEnd: boolean;
  /**
   * get_unmapped_area for a private anonymous mapping without a hint: 'none' on 6.1 (the mm's own allocator,
   * 4 KiB-aligned); from v6.7 (efa7df3e3bb5, "mm: align larger anonymous mappings on THP boundaries")
   * thp_get_unmapped_area aligns a mapping of 2 MiB or more to 2 MiB ('len-ge-pmd', 6.8); from v6.12
   * (d4148aeab412, "mm, mmap: limit THP alignment of anonymous mappings to PMD-aligned sizes") only one whose
   * length is a multiple of 2 MiB ('len-multiple-pmd').
   */
  readonly anonThpAlign: 'none' | 'len-ge-pmd' | 'len-multiple-pmd';
}

export const PROFILES: Readonly<Record<KernelVersion, ProfileSwitches>> = {
  '5.1': {
    bindReportsProbeErrno: false,
    daxMatchByType: false,
    kmemDriverManaged: false,
    kmemPerRange: false,
    kmemRemoveHotRemoves: false,
    kmemRemoveLeakFixed: false,
    memoryGroups: false,
    memmapOnMemory: 'single-block',
    daxMemmapOnMemory: false,
    onlineWalksSystemRam: true,
    autoOnlineTypes: false,
    daxResizable: false,
    daxResourceAttr: false,
    devicePrivateWarnTopLevelOnly: false,
    kstrtoboolTrueFalse: false,
    kmemRemoveSkipsNeverAdded: false,
    probeFailedDevErr: false,
    swpDeviceNum: 2,
    swpMigrationNum: 2,
    swpPteMarker: 'none',
    swpSwapinError: false,
    gfrStep: 'size',
    addPagesChecksPhysmemEnd: false,
    anonThpAlign: 'none',
  },
  '6.1': {
    bindReportsProbeErrno: true,
    daxMatchByType: false,
    kmemDriverManaged: true,
    kmemPerRange: true,
    kmemRemoveHotRemoves: true,
    kmemRemoveLeakFixed: true,
    memoryGroups: true,
    memmapOnMemory: 'single-block',
    daxMemmapOnMemory: false,
    onlineWalksSystemRam: false,
    autoOnlineTypes: true,
    daxResizable: true,
    daxResourceAttr: true,
    devicePrivateWarnTopLevelOnly: false,
    kstrtoboolTrueFalse: true,
    kmemRemoveSkipsNeverAdded: true,
    probeFailedDevErr: false,
    swpDeviceNum: 4,
    swpMigrationNum: 3,
    swpPteMarker: 'config',
    swpSwapinError: true,
    gfrStep: 'size',
    addPagesChecksPhysmemEnd: true,
    anonThpAlign: 'none',
  },
  '6.8': {
    bindReportsProbeErrno: true,
    daxMatchByType: true,
    kmemDriverManaged: true,
    kmemPerRange: true,
    kmemRemoveHotRemoves: true,
    kmemRemoveLeakFixed: true,
    memoryGroups: true,
    memmapOnMemory: 'per-block',
    daxMemmapOnMemory: true,
    onlineWalksSystemRam: false,
    autoOnlineTypes: true,
    daxResizable: true,
    daxResourceAttr: true,
    devicePrivateWarnTopLevelOnly: false,
    kstrtoboolTrueFalse: true,
    kmemRemoveSkipsNeverAdded: false,
    probeFailedDevErr: true,
    swpDeviceNum: 4,
    swpMigrationNum: 3,
    swpPteMarker: 'always',
    swpSwapinError: false,
    gfrStep: 'align',
    addPagesChecksPhysmemEnd: false,
    anonThpAlign: 'len-ge-pmd',
  },
  '6.12': {
    bindReportsProbeErrno: true,
    daxMatchByType: true,
    kmemDriverManaged: true,
    kmemPerRange: true,
    kmemRemoveHotRemoves: true,
    kmemRemoveLeakFixed: true,
    memoryGroups: true,
    memmapOnMemory: 'per-block',
    daxMemmapOnMemory: true,
    onlineWalksSystemRam: false,
    autoOnlineTypes: true,
    daxResizable: true,
    daxResourceAttr: true,
    devicePrivateWarnTopLevelOnly: true,
    kstrtoboolTrueFalse: true,
    kmemRemoveSkipsNeverAdded: true,
    probeFailedDevErr: true,
    swpDeviceNum: 4,
    swpMigrationNum: 3,
    swpPteMarker: 'always',
    swpSwapinError: false,
    gfrStep: 'align',
    addPagesChecksPhysmemEnd: true,
    anonThpAlign: 'len-multiple-pmd',
  },
};

/**
 * Variants (SPEC §6): proposed patches and historical bugs, switched on by
 * boot.variant. Each names what it changes; the checker must catch every one.
 */
export interface VariantSwitches {
  /** Before the 2019 series: walk_system_ram_range used first_lvl, so nested System RAM was invisible. */
  readonly walkTopLevelOnly: boolean;
  /** Before "resource: Return real error codes from walk failures" (2019): walks returned -1, seen as EPERM. */
  readonly walkReturnsMinusOne: boolean;
  /** Before "mm/memory-hotplug: Allow memory resources to be children" (2019): request_resource at top level only. */
  readonly registerTopLevelOnly: boolean;
  /** No target_node < 0 check in kmem probe; the memory lands on memory_add_physaddr_to_nid()'s node. */
  readonly kmemAcceptsInvalidNode: boolean;
  /** Before 31e4ca92a7dd (v5.3, stable 5.1+): a failed add leaves kmem's reserved region behind. */
  readonly kmemProbeLeaksOnAddFailure: boolean;
  /** One altmap for a whole multi-block add: block 0 hosts every block's memmap (what the 2023 series avoided). */
  readonly memmapWholeRange: boolean;
  /** memmap_on_memory used without mhp_supports_memmap_on_memory(). */
  readonly memmapIgnoresSupport: boolean;
  /** kmem remove frees its region even though remove_memory failed. */
  readonly kmemRemoveReleasesRegion: boolean;
  /** Before "device-dax: implement ->split() to catch invalid munmap attempts" (v4.15, 2017): a vma splits at any page. */
  readonly daxNoMaySplit: boolean;
  /** Before 73d5e0629919 (v5.11): mremap moves part of a device-dax vma without asking may_split. */
  readonly mremapNoSplitCheck: boolean;
  /** Before "device-dax: fix pmd/pte fault fallback handling" (2017): the PTE handler serves 4 KiB whatever the align. */
  readonly daxPteFaultIgnoresAlign: boolean;
  /** Mutation of kill_dev_dax: unbind without unmap_mapping_range, so installed entries outlive the driver. */
  readonly daxUnbindSkipsZap: boolean;
  /**
   * The RFC "device-dax: Support devices without PFN metadata" (2020) without
   * its 2/10 and 4/10: follow_pfn/follow_pte walk only PTEs, so KVM and VFIO
   * fail on the 2 MiB and 1 GiB special entries the rest of the series installs.
   */
  readonly followPfnPteOnly: boolean;
  /**
   * B10 (KERNEL-FACTS-HMM §5.2): before ea72ce5da228 (v6.11) the free-region search was not clamped to the end of the
   * direct map, so with KASLR a device-private range could land above it (the model has no KASLR physmem_end: it
   * drops the clamp to PHYSMEM_END, reachable where x86_phys_bits > MAX_PHYSMEM_BITS). On a kernel whose add_pages
   * checks PHYSMEM_END (6.1.192) the load then fails with -ERANGE; on v6.8 the range is placed above it.
   */
  readonly gfrNoPhysmemEndClamp: boolean;
  /** B1: hmm_devmem_add before Balbir Singh's July 2017 fix started at `1UL << MAX_PHYSMEM_BITS` (no -1): an unaligned range one byte past the section boundary. */
  readonly gfrStartOffByOne: boolean;
  /** B7 (KERNEL-FACTS-HMM §5.2): copy_nonpresent_pte without the SWP_DEVICE_READ rewrite: the parent keeps a writable device-private entry on a page its child maps too. */
  readonly hmmForkKeepsWrite: boolean;
  /** B8: change_pte_range without the SWP_DEVICE_WRITE → SWP_DEVICE_READ case: mprotect(PROT_READ) leaves device-private entries writable. */
  readonly hmmMprotectKeepsWrite: boolean;
  /** B9: zap_pte_range forgets page_remove_rmap + put_page for a device-private entry: the device page outlives its last mapping. */
  readonly hmmZapSkipsPut: boolean;
  /** B16: hmm_range_fault before "mm/hmm: fault non-owner device private entries": another device's device-private page is reported as a valid pfn instead of being faulted back. */
  readonly hmmRangeFaultForeignValid: boolean;
  /**
   * B12: lib/test_hmm.c dmirror_exclusive before "Do dmirror_atomic_map() iff all pages are marked for exclusive
   * access": dmirror_atomic_map ran over the whole window whatever make_device_exclusive_range returned, so the
   * entries of `pages[]` past what get_user_pages got (what an earlier window left in the on-stack array) were
   * mapped ATOMIC at addresses whose pages are not exclusive.
   */
  readonly hmmExclusiveMapsPartial: boolean;
}

export const VARIANTS = {
  'walk-top-level-only': { walkTopLevelOnly: true },
  // The 2019 series fixed the errno (patch 1/5) before the child search (4/5): reverting the first on the
  // series' own order means the walk still sees only top-level resources.
  'walk-returns-minus-one': { walkReturnsMinusOne: true, walkTopLevelOnly: true },
  'register-top-level-only': { registerTopLevelOnly: true },
  'kmem-accepts-invalid-node': { kmemAcceptsInvalidNode: true },
  'kmem-probe-leaks-on-add-failure': { kmemProbeLeaksOnAddFailure: true },
  'memmap-whole-range': { memmapWholeRange: true },
  'memmap-ignores-support': { memmapIgnoresSupport: true },
  'kmem-remove-releases-region': { kmemRemoveReleasesRegion: true },
  'dax-no-may-split': { daxNoMaySplit: true },
  'mremap-no-split-check': { mremapNoSplitCheck: true },
  'dax-pte-fault-ignores-align': { daxPteFaultIgnoresAlign: true },
  'dax-unbind-skips-zap': { daxUnbindSkipsZap: true },
  'follow-pfn-pte-only': { followPfnPteOnly: true },
  'hmm-placement-no-physmem-end-clamp': { gfrNoPhysmemEndClamp: true },
  'hmm-placement-off-by-one': { gfrStartOffByOne: true },
  'hmm-fork-keeps-write': { hmmForkKeepsWrite: true },
  'hmm-mprotect-keeps-write': { hmmMprotectKeepsWrite: true },
  'hmm-zap-skips-put': { hmmZapSkipsPut: true },
  'hmm-range-fault-foreign-valid': { hmmRangeFaultForeignValid: true },
  'hmm-exclusive-maps-partial': { hmmExclusiveMapsPartial: true },
} as const satisfies Record<string, Partial<VariantSwitches>>;

export type VariantName = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

const NO_VARIANT: VariantSwitches = {
  walkTopLevelOnly: false,
  walkReturnsMinusOne: false,
  registerTopLevelOnly: false,
  kmemAcceptsInvalidNode: false,
  kmemProbeLeaksOnAddFailure: false,
  memmapWholeRange: false,
  memmapIgnoresSupport: false,
  kmemRemoveReleasesRegion: false,
  daxNoMaySplit: false,
  mremapNoSplitCheck: false,
  daxPteFaultIgnoresAlign: false,
  daxUnbindSkipsZap: false,
  followPfnPteOnly: false,
  gfrNoPhysmemEndClamp: false,
  gfrStartOffByOne: false,
  hmmForkKeepsWrite: false,
  hmmMprotectKeepsWrite: false,
  hmmZapSkipsPut: false,
  hmmRangeFaultForeignValid: false,
  hmmExclusiveMapsPartial: false,
};

export interface Profile extends ProfileSwitches, DevdaxSwitches, VariantSwitches, PatchSwitches {
  readonly kernel: KernelVersion;
  readonly variant: VariantName | null;
  readonly patches: readonly PatchName[];
}

export function makeProfile(kernel: KernelVersion, variant: VariantName | null, patches: readonly PatchName[] = []): Profile {
  return { kernel, variant, patches, ...PROFILES[kernel], ...DEVDAX_PROFILES[kernel], ...NO_VARIANT, ...(variant === null ? {} : VARIANTS[variant]), ...patchSwitches(patches) };
}
