/**
 * Mirrors mm/memory_hotplug.c (v6.8; 5.1 and 6.1 differences are profile
 * switches): adding driver-managed memory, onlining and offlining page
 * ranges, removing memory, and the accounting of present and managed pages.
 * Left out: memblock, firmware memmap entries (only noted), node
 * hot-add/offline beyond node_possible, hugetlb, the auto-movable policy,
 * MHP_MERGE_RESOURCE, MHP_OFFLINE_INACCESSIBLE.
 */
import type { ZoneName } from '../../machines/index.js';
import { stepMemoryBlock } from '../../machines/index.js';
import { hex, physAddr } from '../util/u64.js';
import { err, errnoFromValue, OK, type Ret } from './errno.js';
import { mhpSupportsMemmapOnMemory } from './memmapOnMemory.js';
import { memoryNotify, notifierToErrno, type MemoryNotify } from './memoryNotifier.js';
import { createMemoryBlockDevices, removeMemoryBlockDevices, onlineMemoryBlock } from './memory.js';
import type { Op } from './op.js';
import { heldPagesIn } from './dax/kmemPersist.js';
import { anonPagesIn, hugeZeroIn } from './mm/pageAlloc.js';
import { migrateAnonRange } from './mm/migrate.js';
import {
  IORESOURCE_BUSY,
  IORESOURCE_SYSRAM_DRIVER_MANAGED,
  IORESOURCE_SYSTEM_RAM,
  findExact,
  isBusy,
  releaseMemRegionAdjustable,
  releaseResource,
  requestRegion,
  requestTopLevel,
  walkSystemRamRange,
  type ResourcePath,
} from './resource.js';
import { blockIdsOf, internedSuccessor, withState, type KernelState, type MemoryBlock } from './state.js';
import { resizeZoneRange, shrinkZoneSpan } from './zones.js';

/** MHP_* flags (include/linux/memory_hotplug.h). */
export interface MhpFlags {
  readonly nidIsMgid: boolean;
  readonly memmapOnMemory: boolean;
  /**
   * MHP_ALLOCATE (the kmem-persist series, RFC 1/4): the new blocks are
   * onlined whatever the default online type, and their pages stay allocated
   * (the caller records them held).
   */
  readonly allocate?: boolean;
}

/** @kernel mhp_range_allowed mm/memory_hotplug.c — the pluggable range [0, 2^MAX_PHYSMEM_BITS). */
export function mhpRangeAllowed(op: Op, start: bigint, size: bigint): boolean {
  const end = start + size;
  const max = (1n << BigInt(op.state.config.physmemBits)) - 1n;
  if (start < end && end - 1n <= max) return true;
  op.print(`Hotplug memory [${hex(start)}-${hex(end)}] exceeds maximum addressable range [0x0-${hex(max)}]`);
  return false;
}

/**
 * @kernel register_memory_resource mm/memory_hotplug.c
 * Claims the range as BUSY System RAM, possibly nested under a non-BUSY
 * parent (kmem's daxX.Y). Returns the path of the new node.
 */
export function registerMemoryResource(op: Op, start: bigint, size: bigint, name: string): Ret<ResourcePath> {
  let flags = (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY) >>> 0;
  if (name !== 'System RAM') flags = (flags | IORESOURCE_SYSRAM_DRIVER_MANAGED) >>> 0;
  if (!mhpRangeAllowed(op, start, size)) {
    op.branch('register_memory_resource', 'E2BIG');
    return err('E2BIG');
  }
  if (op.state.profile.registerTopLevelOnly) {
    // Before "mm/memory-hotplug: Allow memory resources to be children" (2019): request_resource(&iomem_resource, res).
    const r = requestTopLevel(op.state.iomem, { start, end: start + size - 1n, name, flags, desc: 0, children: [] });
    if (!r.ok) {
      op.branch('register_memory_resource', 'EEXIST');
      return err('EEXIST');
    }
    op.state = withState(op.state, { iomem: r.root });
    return { ok: true, value: r.path };
  }
  const r = requestRegion(op.state.iomem, start, size, name, flags, [], { warnTopLevelOnly: op.state.profile.devicePrivateWarnTopLevelOnly });
  for (const w of r.warnings) op.print(w);
  if (!r.ok) {
    op.branch('register_memory_resource', 'EEXIST');
    return err('EEXIST');
  }
  op.state = withState(op.state, { iomem: r.root });
  return { ok: true, value: r.path };
}

/** @kernel release_memory_resource mm/memory_hotplug.c */
export function releaseMemoryResource(op: Op, start: bigint, size: bigint): void {
  const path = findSystemRam(op.state, start, start + size - 1n);
  if (path !== undefined) op.state = withState(op.state, { iomem: releaseResource(op.state.iomem, path) });
}

export function findSystemRam(state: KernelState, start: bigint, end: bigint): ResourcePath | undefined {
  return findExact(state.iomem, start, end, (r) => isBusy(r) && (r.flags & IORESOURCE_SYSTEM_RAM) === IORESOURCE_SYSTEM_RAM);
}

/** @kernel check_hotplug_memory_range mm/memory_hotplug.c */
function checkHotplugMemoryRange(op: Op, start: bigint, size: bigint): boolean {
  const b = op.state.blockSize;
  if (size === 0n || start % b !== 0n || size % b !== 0n) {
    op.print(`Block size [${hex(b)}] unaligned hotplug range: start ${hex(start)}, size ${hex(size)}`);
    return false;
  }
  return true;
}

/**
 * @kernel add_memory_resource mm/memory_hotplug.c
 * `nid` is a memory group id when flags.nidIsMgid. Creates offline blocks
 * (with per-block altmaps when memmap_on_memory applies) and auto-onlines
 * them with the default online type, ignoring the result.
 */
export function addMemoryResource(op: Op, nidOrMgid: number, start: bigint, size: bigint, flags: MhpFlags): Ret {
  const s = op.state;
  if (!checkHotplugMemoryRange(op, start, size)) {
    op.branch('add_memory_resource', 'EINVAL');
    return err('EINVAL');
  }
  let nid = nidOrMgid;
  let group: number | null = null;
  if (flags.nidIsMgid) {
    const g = s.groups.get(nidOrMgid);
    if (g === undefined) {
      op.branch('add_memory_resource', 'EINVAL');
      return err('EINVAL');
    }
    group = nidOrMgid;
    nid = g.nid;
  }
  if (!s.possibleNodes.includes(nid)) {
    op.print(`node ${nid} was absent from the node_possible_map`);
    op.branch('add_memory_resource', 'EINVAL');
    return err('EINVAL');
  }
  const injected = op.inject('add_memory');
  if (injected !== null) return err(injected);

  const { first, last } = blockIdsOf(s, start, size);
  let vmemmap = 0;
  let wholeRange = false;
  if (flags.memmapOnMemory) {
    const support = mhpSupportsMemmapOnMemory(s.profile, s.config, s.blockPages, (last - first + 1) * s.blockPages);
    if (support.ok) vmemmap = support.pages;
    else if (s.profile.memmapIgnoresSupport && s.config.memmapOnMemory !== false) {
      vmemmap = Math.ceil((s.blockPages * s.config.structPageSize) / 4096);
    }
    wholeRange = vmemmap > 0 && s.profile.memmapWholeRange;
  }
  const addId = s.nextAddId;
  op.state = withState(op.state, { nextAddId: addId + 1 });
  const created = createMemoryBlockDevices(op, first, last, nid, group, addId, vmemmap, wholeRange);
  if (!created.ok) return created;
  // online_memory_block for each new block; failures are ignored (the add still succeeds).
  if (flags.allocate === true) {
    // RFC 1/4: `if (mhp_default_online_type != MMOP_OFFLINE || (mhp_flags & MHP_ALLOCATE))`; an offline default
    // becomes plain MMOP_ONLINE in memory_subsys_online. The fix kmem-persist-fix-movable onlines to a kernel zone.
    const type = op.state.profile.kmemPersistOnlineKernel ? 'online_kernel' : op.state.autoOnline === 'offline' ? 'online' : op.state.autoOnline;
    for (let id = first; id <= last; id++) onlineMemoryBlock(op, id, type);
  } else if (op.state.autoOnline !== 'offline') {
    for (let id = first; id <= last; id++) onlineMemoryBlock(op, id, op.state.autoOnline);
  }
  return OK;
}

/**
 * @kernel add_memory_driver_managed mm/memory_hotplug.c
 */
export function addMemoryDriverManaged(op: Op, nidOrMgid: number, start: bigint, size: bigint, name: string, flags: MhpFlags): Ret {
  if (!name.startsWith('System RAM (') || !name.endsWith(')')) {
    op.branch('add_memory_driver_managed', 'EINVAL');
    return err('EINVAL');
  }
  const res = registerMemoryResource(op, start, size, name);
  if (!res.ok) return res;
  const rc = addMemoryResource(op, nidOrMgid, start, size, flags);
  if (!rc.ok) releaseMemoryResource(op, start, size);
  return rc;
}

/**
 * @kernel add_memory mm/memory_hotplug.c — what the v5.1 kmem driver calls: a
 * plain "System RAM" resource (also entered in /sys/firmware/memmap).
 */
export function addMemory(op: Op, nid: number, start: bigint, size: bigint): Ret {
  const res = registerMemoryResource(op, start, size, 'System RAM');
  if (!res.ok) return res;
  const rc = addMemoryResource(op, nid, start, size, { nidIsMgid: false, memmapOnMemory: false });
  if (!rc.ok) releaseMemoryResource(op, start, size);
  return rc;
}

/** Present and managed pages a block contributes while online (adjust_present_page_count / adjust_managed_page_count). */
export function blockPresentPages(b: MemoryBlock): number {
  return b.state === 'online' ? b.pages : 0;
}
export function blockManagedPages(b: MemoryBlock): number {
  return b.state === 'online' ? b.pages - b.vmemmapPages : 0;
}

function setBlock(op: Op, id: number, b: MemoryBlock): void {
  const old = op.state.blocks.get(id);
  op.touch(id, old, b);
  const dp = blockPresentPages(b) - (old === undefined ? 0 : blockPresentPages(old));
  const dm = blockManagedPages(b) - (old === undefined ? 0 : blockManagedPages(old));
  op.state = withState(op.state, {
    blocks: op.state.blocks.set(id, b),
    presentPages: op.state.presentPages + dp,
    managedPages: op.state.managedPages + dm,
  });
}

/** Successor-cache keys for `online` per zone, built once. */
const ONLINE_KEY: Readonly<Record<ZoneName | 'none', string>> = { DMA: 'online:DMA', DMA32: 'online:DMA32', Normal: 'online:Normal', Movable: 'online:Movable', none: 'online:none' };

/** `memoryBlock:all:<state>:<event>` coverage names, made once per pair rather than once per step. */
const TRANSITION_NAMES = new Map<string, Map<string, string>>();
function transitionName(state: string, event: string): string {
  let m = TRANSITION_NAMES.get(state);
  if (m === undefined) TRANSITION_NAMES.set(state, (m = new Map()));
  let name = m.get(event);
  if (name === undefined) m.set(event, (name = `memoryBlock:all:${state}:${event}`));
  return name;
}

/** Advance a block through its machine; a missing transition is a model bug. */
export function transitionBlock(op: Op, id: number, event: Parameters<typeof stepMemoryBlock>[1]): MemoryBlock {
  const b = op.state.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  const key = event.type === 'online' ? ONLINE_KEY[event.zone ?? 'none'] : event.type;
  const nb = internedSuccessor(b, key, () => {
    const next = stepMemoryBlock(b, event);
    if (next === undefined) throw new Error(`model bug: memory block ${id} cannot take ${event.type} in ${b.state}`);
    return { ...b, state: next.state, zone: next.zone };
  });
  op.transition(transitionName(b.state, event.type));
  setBlock(op, id, nb);
  return nb;
}

/**
 * @kernel online_pages mm/memory_hotplug.c (6.1)
 * Moves the block's range to `zone`, asks the memory notifiers
 * (MEM_GOING_ONLINE; a veto is -errno, MEM_CANCEL_ONLINE, and the range
 * leaves the zone again), hands the pages to the buddy and sends MEM_ONLINE.
 * The block's state and mem->zone, and with them the present and managed
 * page counts (setBlock), are landed by memory_block_change_state
 * (memory.ts) after this returns, as in the kernel. On v5.1 only what
 * walk_system_ram_range finds is onlined, and no System RAM at all fails the
 * walk; v5.1 walked after MEM_GOING_ONLINE (a failed walk sent
 * MEM_CANCEL_ONLINE), the model walks first and notifies nothing then.
 */
export function onlinePages(op: Op, id: number, zone: ZoneName): Ret {
  const s = op.state;
  const b = s.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  const startPfn = id * s.blockPages;
  if (s.profile.onlineWalksSystemRam) {
    const walk = walkSystemRamRange(s.iomem, BigInt(startPfn), BigInt(s.blockPages), {
      searchChildren: !s.profile.walkTopLevelOnly,
      minusOne: s.profile.walkReturnsMinusOne,
    });
    if (!walk.ok) {
      const errno = errnoFromValue(walk.ret) ?? 'EINVAL';
      op.branch('online_pages', errno);
      return err(errno);
    }
  }
  // move_pfn_range_to_zone before the MEM_GOING_ONLINE notifier; undone on failure.
  op.state = resizeZoneRange(op.state, b.nid, zone, startPfn, s.blockPages);
  const arg: MemoryNotify = { startPfn, nrPages: s.blockPages, zone };
  // ret = notifier_to_errno(memory_notify(MEM_GOING_ONLINE, &arg)); an injected fault is a veto by a
  // notifier the model does not have, at the chain's end (the subscribers saw MEM_GOING_ONLINE).
  const vetoed = notifierToErrno(memoryNotify(op, 'MEM_GOING_ONLINE', arg));
  if (vetoed !== null) op.branch('online_pages', vetoed);
  const ret = vetoed ?? op.inject('online_pages');
  if (ret !== null) {
    // failed_addition:
    memoryNotify(op, 'MEM_CANCEL_ONLINE', arg);
    op.state = shrinkZoneSpan(op.state, b.nid, zone, startPfn, s.blockPages);
    return err(ret);
  }
  memoryNotify(op, 'MEM_ONLINE', arg);
  return OK;
}

/**
 * @kernel offline_pages mm/memory_hotplug.c (6.1; with memory_block_offline)
 * Called on a going-offline block. It must be one zone, without holes,
 * with nothing unmovable; then MEM_GOING_OFFLINE (a veto is -errno and
 * MEM_CANCEL_OFFLINE), and MEM_OFFLINE before the range leaves the zone.
 * memory_block_change_state (memory.ts) lands the block's state.
 * Without CONFIG_MEMORY_HOTREMOVE it is a stub returning -EINVAL.
 */
export function offlinePages(op: Op, id: number): Ret {
  const s = op.state;
  const b = s.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  if (b.zone === null) {
    op.branch('memory_block_offline', 'EINVAL');
    return err('EINVAL');
  }
  if (!s.config.memoryHotremove) {
    op.branch('offline_pages', 'EINVAL');
    return err('EINVAL');
  }
  if (systemRamPages(s, id) !== s.blockPages) {
    // reason "memory holes" (pr_debug only)
    op.branch('offline_pages', 'EINVAL');
    return err('EINVAL');
  }
  if (b.unmovable) {
    // start_isolate_page_range: has_unmovable_pages (reason "failure to isolate range")
    op.branch('offline_pages', 'EBUSY');
    return err('EBUSY');
  }
  if (s.profile.kmemPersist && heldPagesIn(s, id * s.blockPages, s.blockPages) > 0) {
    // Pages MHP_ALLOCATE left allocated (kmem-persist): unmovable, unowned by any LRU. In a kernel zone
    // has_unmovable_pages refuses the range; in ZONE_MOVABLE isolation succeeds and do_migrate_range
    // retries forever, until a signal (-EINTR) (KERNEL-FACTS-PERSIST §3.6).
    const errno = b.zone === 'Movable' ? 'EINTR' : 'EBUSY';
    op.branch('offline_pages', `${errno}(kmem-persist-held)`);
    return err(errno);
  }
  if (hugeZeroIn(s, id * s.blockPages, s.blockPages)) {
    // start_isolate_page_range → has_unmovable_pages: the huge zero page was allocated without __GFP_MOVABLE.
    op.branch('offline_pages', 'EBUSY(huge-zero-page)');
    return err('EBUSY');
  }
  const arg: MemoryNotify = { startPfn: id * s.blockPages, nrPages: s.blockPages };
  // ret = notifier_to_errno(memory_notify(MEM_GOING_OFFLINE, &arg)) (reason "notifier failure"); an injected fault is a
  // later failure (a veto by a notifier the model does not have, or the migration loop): both go to failed_removal_isolated.
  const vetoed = notifierToErrno(memoryNotify(op, 'MEM_GOING_OFFLINE', arg));
  if (vetoed !== null) op.branch('offline_pages', vetoed);
  const ret = vetoed ?? op.inject('offline_pages');
  if (ret !== null) {
    // failed_removal_isolated:
    memoryNotify(op, 'MEM_CANCEL_OFFLINE', arg);
    return err(ret);
  }
  // do_migrate_range: processes' anonymous pages move out of the block (src/kernel/mm/migrate.ts). When no target can
  // be allocated the kernel's loop retries until a signal: -EINTR.
  if (anonPagesIn(op.state, arg.startPfn, arg.nrPages) && !migrateAnonRange(op, arg.startPfn, arg.nrPages)) {
    op.branch('offline_pages', 'EINTR(anon-migration-failed)');
    memoryNotify(op, 'MEM_CANCEL_OFFLINE', arg);
    return err('EINTR');
  }
  memoryNotify(op, 'MEM_OFFLINE', arg);
  // remove_pfn_range_from_zone: the block is going-offline here, so it no longer counts as online memory of the zone.
  op.state = shrinkZoneSpan(op.state, b.nid, b.zone, arg.startPfn, arg.nrPages);
  return OK;
}

/**
 * walk_system_ram_range's page count over one block, as offline_pages uses it
 * for its hole check; cached per resource tree (the tree changes only on
 * bind/unbind, blocks go offline all the time).
 */
const CHUNK_BITS = 10;
/** Per tree: chunks of 1024 block ids, -1 = not walked yet; one chunk map per walk kind. */
interface RamPagesCache {
  readonly children: Map<number, Int32Array>;
  readonly topLevel: Map<number, Int32Array>;
}
const ramPagesCache = new WeakMap<object, RamPagesCache>();
/** The tree last asked about and its cache: a log goes on with one tree for thousands of steps. */
let lastTree: object | null = null;
let lastCache: RamPagesCache = { children: new Map(), topLevel: new Map() };

export function systemRamPages(s: KernelState, id: number, searchChildren = !s.profile.walkTopLevelOnly): number {
  let c: RamPagesCache | undefined;
  if (s.iomem === lastTree) c = lastCache;
  else {
    c = ramPagesCache.get(s.iomem);
    if (c === undefined) {
      c = { children: new Map(), topLevel: new Map() };
      ramPagesCache.set(s.iomem, c);
    }
    lastTree = s.iomem;
    lastCache = c;
  }
  // Dense arrays rather than one Map entry per block: a random block's entry is then a cache-friendly index.
  const chunks = searchChildren ? c.children : c.topLevel;
  let chunk = chunks.get(id >>> CHUNK_BITS);
  if (chunk === undefined) {
    chunk = new Int32Array(1 << CHUNK_BITS).fill(-1);
    chunks.set(id >>> CHUNK_BITS, chunk);
  }
  const at = id & ((1 << CHUNK_BITS) - 1);
  let pages = chunk[at] as number;
  if (pages < 0) {
    const walk = walkSystemRamRange(s.iomem, BigInt(id * s.blockPages), BigInt(s.blockPages), { searchChildren, minusOne: false });
    pages = walk.ok ? Number(walk.pages) : 0;
    chunk[at] = pages;
  }
  return pages;
}

/** @kernel try_remove_memory mm/memory_hotplug.c (remove_memory) */
export function removeMemory(op: Op, start: bigint, size: bigint): Ret {
  const s = op.state;
  if (!s.config.memoryHotremove) {
    // include/linux/memory_hotplug.h: the !CONFIG_MEMORY_HOTREMOVE stub.
    op.branch('remove_memory', 'EBUSY');
    return err('EBUSY');
  }
  const { first, last } = blockIdsOf(s, start, size);
  for (const [id, b] of s.blocks.range(first, last)) {
    if (b.state !== 'offline') {
      const bs = BigInt(id) * s.blockSize;
      op.print(`removing memory fails, because memory [${physAddr(bs)}-${physAddr(bs + s.blockSize - 1n)}] is onlined`);
      op.branch('remove_memory', 'EBUSY');
      return err('EBUSY');
    }
  }
  const injected = op.inject('remove_memory');
  if (injected !== null) return err(injected);
  // memory_blocks_have_altmaps: all or none.
  let withAltmap = 0;
  let count = 0;
  for (const [, b] of s.blocks.range(first, last)) {
    count++;
    if (b.memmapHost !== null) withAltmap++;
  }
  if (withAltmap !== 0 && withAltmap !== count) {
    op.print('WARNING: memory_blocks_have_altmaps: mixed altmap state');
    op.branch('remove_memory', 'EINVAL');
    return err('EINVAL');
  }
  removeMemoryBlockDevices(op, first, last);
  op.state = withState(op.state, {
    iomem: releaseMemRegionAdjustable(op.state.iomem, start, size, { stopAtNonSysram: !s.profile.kmemRemoveLeakFixed }),
  });
  return OK;
}

