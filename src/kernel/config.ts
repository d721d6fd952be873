/**
 * The Kconfig and boot-parameter choices that matter to the model
 * (boot.config in the event log).
 */

/** memhp_default_state= / auto_online_blocks (mm/memory_hotplug.c online_type_to_str). */
export const ONLINE_TYPES = ['offline', 'online', 'online_kernel', 'online_movable'] as const;
export type OnlineType = (typeof ONLINE_TYPES)[number];

export interface BootConfig {
  /** CONFIG_MEMORY_HOTREMOVE. Off: offline_pages and remove_memory are stubs. */
  readonly memoryHotremove: boolean;
  /** memhp_default_state= (the default online type for hot-added blocks). */
  readonly autoOnline: OnlineType;
  /** memory_hotplug.memmap_on_memory= (CONFIG_MHP_MEMMAP_ON_MEMORY assumed built in). */
  readonly memmapOnMemory: boolean | 'force';
  /** sizeof(struct page): 64 in common configs, 72 with some debug options. */
  readonly structPageSize: 64 | 72 | 80;
  /** pageblock_order: 9 with hugetlb/THP on x86-64, 10 (MAX_ORDER) without. */
  readonly pageblockOrder: 9 | 10;
  /** The movable_node boot option (plain "online" then prefers ZONE_MOVABLE). */
  readonly movableNode: boolean;
  /** MAX_PHYSMEM_BITS: 46 with 4-level paging, 52 with 5-level (la57). */
  readonly physmemBits: 46 | 52;
  /** CONFIG_DEV_DAX_KMEM built: without it device_dax matches every device (dax_match_type). */
  readonly devDaxKmem: boolean;
  /** CONFIG_MEMORY_FAILURE: /sys/devices/system/memory/{soft,hard}_offline_page (memory_root_attrs). Debian 6.12 cloud: y; 6.1 cloud: n. */
  readonly memoryFailure: boolean;
  /** CONFIG_CRASH_HOTPLUG (v6.6): /sys/devices/system/memory/crash_hotplug. Debian 6.12 cloud: y; 6.1 has no such option. */
  readonly crashHotplug: boolean;
  /** CONFIG_ARCH_MEMORY_PROBE: /sys/devices/system/memory/probe (probe_store). Debian's cloud kernels: n; the harness's custom hmm kernel: y. */
  readonly archMemoryProbe: boolean;
  /**
   * CONFIG_DEVICE_PRIVATE: un-addressable device memory; reserves SWP_DEVICE_NUM swap types (include/linux/swap.h),
   * so MAX_SWAPFILES shrinks (src/kernel/mm/swapfile.ts). Debian's cloud kernels: n; the harness's custom hmm kernel: y.
   */
  readonly devicePrivate: boolean;
  /** CONFIG_MIGRATION: page migration; reserves SWP_MIGRATION_NUM swap types. def_bool y with NUMA or hot-remove: every kernel here has it. */
  readonly migration: boolean;
  /**
   * CONFIG_PTE_MARKER (v5.19, selected by PTE_MARKER_UFFD_WP, default y on x86-64): reserves SWP_PTE_MARKER_NUM on 6.1.
   * From v6.5 the option is gone and the type always reserved; before v5.19 there is no such type (the profile decides,
   * src/kernel/mm/swapfile.ts). Debian 6.1 cloud and the custom hmm kernel: y.
   */
  readonly pteMarker: boolean;
  /**
   * CONFIG_TEST_HMM (lib/test_hmm.c, tristate, v5.7+; depends on DEVICE_PRIVATE): 'n' not built, 'm' a module that
   * `modprobe test_hmm` loads, 'y' built in (hmm_dmirror_init runs at boot: the harness's custom hmm kernel). 'm'
   * without devicePrivate is the out-of-tree build against a kernel without it (KERNEL-FACTS-HMM §3.2).
   */
  readonly testHmm: 'n' | 'm' | 'y';
  /**
   * boot_cpu_data.x86_phys_bits (CPUID 0x80000008; QEMU's default 40): setup_arch sets iomem_resource.end to
   * 2^bits - 1, where get_free_mem_region starts (src/kernel/hmm/). The model's iomem root keeps its all-ones end:
   * only the device-private placement reads this.
   */
  readonly physAddrBits: number;
  /**
   * /sys/kernel/mm/transparent_hugepage/enabled at boot (transparent_hugepage=): `always` (Debian's
   * CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y), `madvise` (only VM_HUGEPAGE vmas) or `never`. Decides whether an
   * anonymous fault maps a THP (src/kernel/mm/anon.ts); KERNEL-FACTS-HMM 2.4 shows it changes real results.
   */
  readonly thp: ThpMode;
}

/** The settings of /sys/kernel/mm/transparent_hugepage/enabled. */
export type ThpMode = 'always' | 'madvise' | 'never';

export const DEFAULT_CONFIG: BootConfig = {
  memoryHotremove: false,
  autoOnline: 'offline',
  memmapOnMemory: false,
  structPageSize: 64,
  pageblockOrder: 9,
  movableNode: false,
  physmemBits: 46,
  devDaxKmem: true,
  memoryFailure: false,
  crashHotplug: false,
  archMemoryProbe: false,
  devicePrivate: false,
  migration: true,
  pteMarker: true,
  testHmm: 'n',
  physAddrBits: 46,
  thp: 'always',
};

/** The lowest and highest x86_phys_bits a boot may name (36: PAE-era CPUs; 52: the architectural maximum). */
export const PHYS_ADDR_BITS_RANGE = [36, 52] as const;

/**
 * iomem_resource.end as setup_arch sets it: (1ULL << boot_cpu_data.x86_phys_bits) - 1.
 * @kernel setup_arch arch/x86/kernel/setup.c
 */
export function iomemEnd(c: BootConfig): bigint {
  return (1n << BigInt(c.physAddrBits)) - 1n;
}

/**
 * PHYSMEM_END without KASLR's direct-map end (arch/x86/mm/kaslr.c presets physmem_end to this, and only
 * kernel_randomize_memory lowers it, when memory KASLR is on; the harness boots nokaslr): (1 << MAX_PHYSMEM_BITS) - 1.
 */
export function physmemEnd(c: BootConfig): bigint {
  return (1n << BigInt(c.physmemBits)) - 1n;
}
