/**
 * What the 2022 RFC "Allow persistent data on DAX device being used as KMEM"
 * (patch series `kmem-persist`, KERNEL-FACTS-PERSIST §1) adds to kmem's
 * state: the module's parameters and type registry (drivers/dax/kmem.c as
 * posted in 2/4), and per device the pages MHP_ALLOCATE left allocated
 * (1/4) with the persistence instance attached to them (2/4-4/4).
 */
import type { IntervalSet } from '../../util/intervalSet.js';
import type { DaxRange } from '../state.js';

/** enum kmem_persist_type: KMEM_PERSIST_NONE = 0, KMEM_PERSIST_BLK = 1. */
export type PersistType = 0 | 1;
export const KMEM_PERSIST_NONE: PersistType = 0;
export const KMEM_PERSIST_BLK: PersistType = 1;

/** The superblock magic "KMEMPERS" (0x4b4d454d50455253, little-endian in page 0). */
export const KMEM_PERSIST_MAGIC = 0x4b4d454d50455253n;
/** index_entries_per_page = PAGE_SIZE / sizeof(u64). */
export const INDEX_ENTRIES_PER_PAGE = 512;

/** kmem's module state under the series: /sys/module/kmem/parameters/ and the type registry. */
export interface KmemPersistModule {
  /** persist_format_type (int, default -1: never format). */
  readonly formatType: number;
  /** persist_format_force (bool, default N): declared and never read. */
  readonly formatForce: boolean;
  /** ref_count of each registered type (NONE, BLK), registered at dax_kmem_init. */
  readonly refs: readonly [number, number];
}

export const KMEM_PERSIST_MODULE_DEFAULTS: KmemPersistModule = { formatType: -1, formatForce: false, refs: [0, 0] };

/** struct kmem_blk_data, the parts that matter: the superblock's counts and whether add_disk ran. */
export interface KmemBlk {
  /** num_index_pages. */
  readonly n: number;
  /** num_index_entries: logical 4 KiB blocks of the disk. */
  readonly e: number;
  /** The disk kmem<node> was added (kmem_blk_disk_init). */
  readonly disk: boolean;
}

/** kmem's data for one device under the series (struct dax_kmem_data's total_len, persist_ops, persist_data). */
export interface KmemPersistInstance {
  /** The device's target node (kmem<nid> names the disk). */
  readonly nid: number;
  /** data->res[] as kmem holds them: device page i is page i of their concatenation (dax_kmem_index_to_page). */
  readonly ranges: ReadonlyArray<DaxRange | null>;
  /** total_len >> PAGE_SHIFT: counts every aligned range, added or not. */
  readonly numPages: number;
  /** The attached persist_ops' type, or null: no instance (a failed or refused persistence probe). */
  readonly type: PersistType | null;
  /** Device pages kmem holds (refcount 1, outside the buddy): MHP_ALLOCATE's pages not yet given back. */
  readonly held: IntervalSet;
  readonly blk: KmemBlk | null;
}
