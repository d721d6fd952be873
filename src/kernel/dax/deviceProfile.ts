/**
 * Kernel-version switches of the device-dax mapping paths (drivers/dax/
 * device.c, bus.c's mapping attribute, the mm checks device-dax relies on),
 * kept beside profile.ts's table and merged into the same Profile: each is
 * one named boolean citing the version or commit that changed it, with a
 * test in test/kernel/daxMapping.test.ts.
 */
import type { KernelVersion } from '../profile.js';

export interface DevdaxSwitches {
  /**
   * v5.11 73d5e0629919 "mremap: check if it's possible to split original
   * vma": move_vma asks vm_ops->may_split before moving part of a vma; before,
   * a partial mremap of a device-dax mapping succeeded (ndctl 6694afe).
   */
  readonly mremapChecksMaySplit: boolean;
  /**
   * v6.9 "dax/bus.c: replace driver-core lock usage by a local rwsem": in
   * mapping_store rc starts at 0 instead of -ENXIO, so a length that is not a
   * multiple of max(align, 2M) is accepted (the byte count returned) and
   * nothing is allocated (KERNEL-FACTS-DEVDAX §1.8). Confirmed on the real
   * kernels: a 1 MiB range on an unbound 512 MiB device is ENXIO on 6.1.0-57
   * (test/traces/hmem/map-mapping-attr.jsonl seq 3) and ok on 6.12.118 with
   * size unchanged (test/traces-6.12/hmem/map-mapping-attr.jsonl seq 5).
   */
  readonly mappingStoreUnalignedAccepted: boolean;
  /**
   * fs/proc/task_mmu.c smaps_pmd_entry: up to v6.5 it took the page with
   * follow_trans_huge_pmd(FOLL_DUMP), which returns a devmap PMD's page, so
   * a PMD-mapped device-dax unit counted in Rss (observed on 6.1: a touched
   * 4M align-2M mapping reads Rss 4096 kB). David Hildenbrand's "smaps: use
   * vm_normal_page_pmd() instead of follow_trans_huge_pmd()" (July 2023,
   * merged for v6.6; commit id not checked here) asks vm_normal_page_pmd,
   * which returns NULL for pmd_devmap: Rss 0 kB, observed on 6.12.118
   * (test/traces-6.12/hmem/map-2m-basic.jsonl).
   */
  readonly smapsRssCountsDevmapPmd: boolean;
}

export const DEVDAX_PROFILES: Readonly<Record<KernelVersion, DevdaxSwitches>> = {
  '5.1': { mremapChecksMaySplit: false, mappingStoreUnalignedAccepted: false, smapsRssCountsDevmapPmd: true },
  '6.1': { mremapChecksMaySplit: true, mappingStoreUnalignedAccepted: false, smapsRssCountsDevmapPmd: true },
  '6.8': { mremapChecksMaySplit: true, mappingStoreUnalignedAccepted: false, smapsRssCountsDevmapPmd: false },
  '6.12': { mremapChecksMaySplit: true, mappingStoreUnalignedAccepted: true, smapsRssCountsDevmapPmd: false },
};
