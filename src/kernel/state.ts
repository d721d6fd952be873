/**
 * The model state: the kernel data structures the DAX / kmem / hotplug paths
 * touch, as immutable values. A step produces a new state sharing everything
 * it did not change (the resource tree by path copying, memory blocks through
 * a persistent trie, identical block records interned).
 */
import type { DaxDeviceState, MemoryBlockState, ZoneName } from '../../machines/index.js';
import type { IntMap } from '../util/intMap.js';
import type { BootConfig, OnlineType } from './config.js';
import type { Errno } from './errno.js';
import type { Profile } from './profile.js';
import type { Resource } from './resource.js';
import type { InjectSite } from '../log/events.js';
import type { MmState } from './mm/types.js';
import type { SwapState } from './mm/swapfile.js';
import type { BootEvent } from '../log/events.js';
import type { ThpMode } from './config.js';
import type { KmemPersistInstance, KmemPersistModule } from './dax/kmemPersistTypes.js';
import type { HmmState } from './hmm/types.js';

export const PAGE_SIZE = 4096n;

/** struct memory_block (include/linux/memory.h), plus what its pages are. */
export interface MemoryBlock {
  /** The memory block machine's state and context (machines/memoryBlock.machine.ts). */
  readonly state: MemoryBlockState;
  readonly zone: ZoneName | null;
  readonly nid: number;
  /** Created at boot from firmware memory rather than hot-added. */
  readonly boot: boolean;
  /** Pages of RAM in the block: a hot-added block is whole; a boot block may have holes. */
  readonly pages: number;
  /** Memmap pages this block hosts (altmap->free / nr_vmemmap_pages); 0 without memmap_on_memory. */
  readonly vmemmapPages: number;
  /** Where this block's struct pages live, as an offset in blocks (0 = itself); null when they come from ordinary RAM. */
  readonly memmapHost: number | null;
  /** Memory group id (mem->group), null if none. */
  readonly group: number | null;
  /** Holds unmovable pages (boot.unmovable): offline_pages fails with -EBUSY. */
  readonly unmovable: boolean;
  /** Which add_memory call created the block (boot blocks: 0). */
  readonly addId: number;
}

export interface DaxRange {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
}

/** struct dax_region (drivers/dax/dax-private.h). */
export interface DaxRegion {
  readonly id: number;
  readonly kind: 'pmem' | 'hmem' | 'cxl';
  readonly start: bigint;
  readonly end: bigint;
  readonly align: bigint;
  readonly targetNode: number;
  /** IORESOURCE_DAX_STATIC: pmem regions; size/align read-only. */
  readonly isStatic: boolean;
  /** IORESOURCE_DAX_KMEM: hmem/cxl regions, matched to kmem by type since v6.3. */
  readonly kmemType: boolean;
  /** Where its devices' struct pages live: "dev" (altmap in the namespace), "mem", or "none" (the RFC's PFN_SPECIAL region). */
  readonly map: 'dev' | 'mem' | 'none';
}

export type DaxDriverName = 'device_dax' | 'kmem';

/** kmem's per-device driver data (struct dax_kmem_data): the ranges it added and its memory group. */
export interface KmemData {
  /** data->res[i]: the aligned range kmem holds for device range i, or null (skipped / failed). */
  readonly res: ReadonlyArray<DaxRange | null>;
  readonly mgid: number | null;
  /** Under the kmem-persist series: the pages MHP_ALLOCATE left held and the persistence instance. */
  readonly persist?: KmemPersistInstance;
}

/** struct dev_dax (drivers/dax/dax-private.h) plus its lifecycle machine state. */
export interface DaxDevice {
  readonly name: string;
  readonly regionId: number;
  readonly ranges: readonly DaxRange[];
  readonly align: bigint;
  readonly targetNode: number;
  readonly memmapOnMemory: boolean;
  /** The dax device machine's state (machines/daxDevice.machine.ts). */
  readonly phase: DaxDeviceState;
  readonly driver: DaxDriverName | null;
  /** kmem's data while bound, and after an unbind whose remove could not free it (pinned until reboot). */
  readonly kmem: KmemData | null;
  /**
   * dev_dax->pgmap is set (dynamic regions): dev_dax_probe assigns it before
   * requesting the ranges and only kill_dev_dax (the devm action of a
   * successful probe, run at unbind) clears it, so a failed probe leaves it
   * stale and every later device_dax probe fails.
   */
  readonly pgmap: boolean;
  /**
   * The ranges device_dax's last successful probe reserved in iomem and
   * covered with its pgmap (struct pages), while bound; null otherwise.
   * Faults insert only pages the pgmap covers.
   */
  readonly mapped: readonly DaxRange[] | null;
  /** How often dev_dax_probe ran cdev_init on the device's embedded cdev (its generation). */
  readonly cdevGen: number;
  /**
   * The embedded cdev's kobject reference count: cdev_init sets it to 1 at
   * every probe although files of an earlier bind still hold references
   * (bug B1); each open takes one (cdev_get), each file's last fput and
   * cdev_del drop one. At 0 while bound the kobject is released and every
   * open fails with ENXIO until the next probe; below 0 is the kernel's
   * "refcount_t: underflow".
   */
  readonly cdevRefs: number;
}

/** struct memory_group (include/linux/memory.h), static groups only (kmem). */
export interface MemoryGroup {
  readonly nid: number;
  readonly maxPages: number;
}

/** A zone's span on a node: [startPfn, endPfn), or empty. */
export interface ZoneSpan {
  readonly startPfn: number;
  readonly endPfn: number;
}

export interface Fault {
  readonly site: InjectSite;
  readonly errno: Errno;
  /** Calls at the site still to pass before the one that fails (0 = the next call fails). */
  readonly skip: number;
}

export interface KernelState {
  readonly profile: Profile;
  readonly config: BootConfig;
  readonly blockSize: bigint;
  readonly blockPages: number;
  readonly iomem: Resource;
  readonly blocks: IntMap<MemoryBlock>;
  /** Keyed by spanKey(nid, zone) = nid * 4 + zone index; absent = empty zone. */
  readonly zoneSpans: ReadonlyMap<number, ZoneSpan>;
  /** node_possible_map: nodes with boot RAM or named as a dax target. */
  readonly possibleNodes: readonly number[];
  readonly regions: readonly DaxRegion[];
  /** In registration order (the dax bus's device list). */
  readonly devices: readonly DaxDevice[];
  /** Each dax driver's id list (new_id / remove_id). */
  readonly driverIds: Readonly<Record<DaxDriverName, readonly string[]>>;
  readonly groups: ReadonlyMap<number, MemoryGroup>;
  /** mhp_default_online_type (auto_online_blocks). */
  readonly autoOnline: OnlineType;
  /** kmem's module-wide any_hotremove_failed flag. */
  readonly anyHotremoveFailed: boolean;
  readonly faults: readonly Fault[];
  /** Σ present pages and Σ managed pages (totalram_pages) over online blocks, less bootReservedPages. */
  readonly presentPages: number;
  readonly managedPages: number;
  readonly nextAddId: number;
  /** Boot RAM pages memblock kept for itself: present but never managed (boot.reservedKiB). */
  readonly bootReservedPages: number;
  /** Processes, files, mappings and memory contents (SPEC §7). */
  readonly mm: MmState;
  /** swap_info[] and the boot's block devices (src/kernel/mm/swapfile.ts). */
  readonly swap: SwapState;
  /** The first line of the oops that killed the machine, or null while it runs. */
  readonly oops: string | null;
  /** The boot event this state was booted from: a reboot applies it again. */
  readonly boot: BootEvent;
  /** kmem's module parameters and persistence type registry (the kmem-persist series). */
  readonly kmemPersist: KmemPersistModule;
  /** lib/test_hmm.c: loaded or not, its dmirror devices and their device-private chunks (src/kernel/hmm/). */
  readonly hmm: HmmState;
  /**
   * /sys/kernel/mm/transparent_hugepage/enabled now (TRANSPARENT_HUGEPAGE_FLAG / _REQ_MADV_FLAG of
   * transparent_hugepage_flags): the boot's `config.thp`, changed by enabled_store (src/kernel/mm/thp.ts).
   */
  readonly thp: ThpMode;
}

/**
 * A copy of `s` with the fields of `c` replaced. Every step copies the state
 * several times: an object spread of these fields costs V8 ~200-400 ns
 * (no fast clone for an object this size), this literal ~10 ns, and it keeps
 * every state on one hidden class. A field added to KernelState fails to
 * type-check here until it is copied.
 */
export function withState(s: KernelState, c: Partial<KernelState>): KernelState {
  return {
    profile: c.profile !== undefined ? c.profile : s.profile,
    config: c.config !== undefined ? c.config : s.config,
    blockSize: c.blockSize !== undefined ? c.blockSize : s.blockSize,
    blockPages: c.blockPages !== undefined ? c.blockPages : s.blockPages,
    iomem: c.iomem !== undefined ? c.iomem : s.iomem,
    blocks: c.blocks !== undefined ? c.blocks : s.blocks,
    zoneSpans: c.zoneSpans !== undefined ? c.zoneSpans : s.zoneSpans,
    possibleNodes: c.possibleNodes !== undefined ? c.possibleNodes : s.possibleNodes,
    regions: c.regions !== undefined ? c.regions : s.regions,
    devices: c.devices !== undefined ? c.devices : s.devices,
    driverIds: c.driverIds !== undefined ? c.driverIds : s.driverIds,
    groups: c.groups !== undefined ? c.groups : s.groups,
    autoOnline: c.autoOnline !== undefined ? c.autoOnline : s.autoOnline,
    anyHotremoveFailed: c.anyHotremoveFailed !== undefined ? c.anyHotremoveFailed : s.anyHotremoveFailed,
    faults: c.faults !== undefined ? c.faults : s.faults,
    presentPages: c.presentPages !== undefined ? c.presentPages : s.presentPages,
    managedPages: c.managedPages !== undefined ? c.managedPages : s.managedPages,
    nextAddId: c.nextAddId !== undefined ? c.nextAddId : s.nextAddId,
    bootReservedPages: c.bootReservedPages !== undefined ? c.bootReservedPages : s.bootReservedPages,
    mm: c.mm !== undefined ? c.mm : s.mm,
    swap: c.swap !== undefined ? c.swap : s.swap,
    oops: c.oops !== undefined ? c.oops : s.oops,
    boot: c.boot !== undefined ? c.boot : s.boot,
    kmemPersist: c.kmemPersist !== undefined ? c.kmemPersist : s.kmemPersist,
    hmm: c.hmm !== undefined ? c.hmm : s.hmm,
    thp: c.thp !== undefined ? c.thp : s.thp,
  };
}

/**
 * withState(s, { mm }) without reading a Partial: the commonest copy (every
 * program step makes one), and a `c` of many shapes makes each of
 * withState's reads of it a megamorphic lookup. Only `s` is read here, whose
 * hidden class is always the same.
 */
export function withMmState(s: KernelState, mm: MmState): KernelState {
  return {
    profile: s.profile,
    config: s.config,
    blockSize: s.blockSize,
    blockPages: s.blockPages,
    iomem: s.iomem,
    blocks: s.blocks,
    zoneSpans: s.zoneSpans,
    possibleNodes: s.possibleNodes,
    regions: s.regions,
    devices: s.devices,
    driverIds: s.driverIds,
    groups: s.groups,
    autoOnline: s.autoOnline,
    anyHotremoveFailed: s.anyHotremoveFailed,
    faults: s.faults,
    presentPages: s.presentPages,
    managedPages: s.managedPages,
    nextAddId: s.nextAddId,
    bootReservedPages: s.bootReservedPages,
    mm,
    swap: s.swap,
    oops: s.oops,
    boot: s.boot,
    kmemPersist: s.kmemPersist,
    hmm: s.hmm,
    thp: s.thp,
  };
}

/** A copy of `d` with the given fields replaced (a literal, for the reason withState gives). */
export function withDevice(d: DaxDevice, c: Partial<DaxDevice>): DaxDevice {
  return {
    name: c.name !== undefined ? c.name : d.name,
    regionId: c.regionId !== undefined ? c.regionId : d.regionId,
    ranges: c.ranges !== undefined ? c.ranges : d.ranges,
    align: c.align !== undefined ? c.align : d.align,
    targetNode: c.targetNode !== undefined ? c.targetNode : d.targetNode,
    memmapOnMemory: c.memmapOnMemory !== undefined ? c.memmapOnMemory : d.memmapOnMemory,
    phase: c.phase !== undefined ? c.phase : d.phase,
    driver: c.driver !== undefined ? c.driver : d.driver,
    kmem: c.kmem !== undefined ? c.kmem : d.kmem,
    pgmap: c.pgmap !== undefined ? c.pgmap : d.pgmap,
    mapped: c.mapped !== undefined ? c.mapped : d.mapped,
    cdevGen: c.cdevGen !== undefined ? c.cdevGen : d.cdevGen,
    cdevRefs: c.cdevRefs !== undefined ? c.cdevRefs : d.cdevRefs,
  };
}

/**
 * Every field of a block record, once, for the interning key and the run
 * check below: a field added to MemoryBlock and not named here fails to
 * type-check (the Record needs every key).
 */
const BLOCK_FIELD_SET: Readonly<Record<keyof MemoryBlock, true>> = {
  state: true,
  zone: true,
  nid: true,
  boot: true,
  pages: true,
  vmemmapPages: true,
  memmapHost: true,
  group: true,
  unmovable: true,
  addId: true,
};
const BLOCK_FIELDS = Object.keys(BLOCK_FIELD_SET) as ReadonlyArray<keyof MemoryBlock>;

export function blockKey(b: MemoryBlock): string {
  return BLOCK_FIELDS.map((f) => String(b[f])).join('|');
}

const internTable = new Map<string, MemoryBlock>();

/** The record interned last: a hot-add or boot interns runs of identical records, compared here without a key string. */
let lastInterned: MemoryBlock | null = null;

function sameBlock(a: MemoryBlock, b: MemoryBlock): boolean {
  for (const f of BLOCK_FIELDS) if (a[f] !== b[f]) return false;
  return true;
}

/** Share one frozen record between all blocks with identical fields. */
export function internBlock(b: MemoryBlock): MemoryBlock {
  if (lastInterned !== null && sameBlock(lastInterned, b)) return lastInterned;
  lastInterned = internLookup(b);
  return lastInterned;
}

function internLookup(b: MemoryBlock): MemoryBlock {
  const key = blockKey(b);
  const hit = internTable.get(key);
  if (hit !== undefined) return hit;
  const frozen = Object.freeze({ ...b });
  internTable.set(key, frozen);
  return frozen;
}

/**
 * The interned successor of an interned block after a machine transition:
 * records are shared, so the few (record, event) pairs a run meets are
 * computed once.
 */
const successors = new WeakMap<MemoryBlock, Map<string, MemoryBlock>>();

export function internedSuccessor(b: MemoryBlock, key: string, make: () => MemoryBlock): MemoryBlock {
  let m = successors.get(b);
  if (m === undefined) {
    m = new Map();
    successors.set(b, m);
  }
  let next = m.get(key);
  if (next === undefined) {
    next = internBlock(make());
    m.set(key, next);
  }
  return next;
}

export function findDevice(state: KernelState, name: string): DaxDevice | undefined {
  // A loop, not find with a closure: the device-dax invariants ask on every fault.
  for (const d of state.devices) if (d.name === name) return d;
  return undefined;
}

/**
 * The device a kernel path holds by pointer, as it is now. Mirrors hold the
 * name (the kernel's `struct dev_dax *`), never a snapshot that goes stale
 * while `op.state` moves on; a name that names nothing is a model bug.
 */
export function deviceNamed(state: KernelState, name: string): DaxDevice {
  const d = findDevice(state, name);
  if (d === undefined) throw new Error(`model bug: no dax device ${name}`);
  return d;
}

export function findRegion(state: KernelState, id: number): DaxRegion | undefined {
  return state.regions.find((r) => r.id === id);
}

export function replaceDevice(state: KernelState, dev: DaxDevice): KernelState {
  return withState(state, { devices: state.devices.map((d) => (d.name === dev.name ? dev : d)) });
}

/** Block ids of [start, start+size). */
export function blockIdsOf(state: KernelState, start: bigint, size: bigint): { first: number; last: number } {
  return { first: Number(start / state.blockSize), last: Number((start + size) / state.blockSize) - 1 };
}

export function blockStart(state: KernelState, id: number): bigint {
  return BigInt(id) * state.blockSize;
}

export function deviceSize(dev: DaxDevice): bigint {
  return dev.ranges.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
}
