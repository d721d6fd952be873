/**
 * What one boot event may describe. A boot past these is refused (exit 2)
 * rather than built: the model keeps a record per memory block and checks
 * the boot's lists against each other, so a one-line boot of 2 PiB in
 * 128 MiB blocks (16 M blocks) would run for minutes and exhaust memory.
 * Each limit is above what real machines and the harness describe, and is
 * listed in README.md ("Limits").
 */
export const BOOT_LIMITS = {
  /**
   * Memory blocks that boot RAM and the dax regions span together (a region's
   * blocks appear when kmem hot-adds it): 128 TiB in 128 MiB blocks, 2 PiB in
   * 2 GiB blocks; booting the most takes about 2 s and 650 MB.
   */
  blocks: 1 << 20,
  /** E820_MAX_ENTRIES with CONFIG_NODES_SHIFT=10: 128 + 3 * 1024 (arch/x86/include/asm/e820/types.h). */
  ramRanges: 3200,
  iomemEntries: 8192,
  daxRegions: 1024,
  /** In all regions together (a region's list, too). */
  devices: 4096,
  /** Ranges of all devices together (a device's list, too). */
  ranges: 4096,
  /** Block ids in "unmovable". */
  unmovable: 65536,
  /** Paths in "blockDevices" (and in "swapAreas"): brd makes at most 1 << MINORBITS disks; 4096 is far above the 32 the harness makes. */
  blockDevices: 4096,
} as const;
