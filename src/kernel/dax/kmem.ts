/**
 * Mirrors drivers/dax/kmem.c: v6.8 (per-range, memory groups,
 * memmap_on_memory), with the v5.1 driver (whole region, add_memory, no-op
 * remove) behind profile switches.
 * Left out: memory tiers / abstract distance (no effect on the modelled
 * state), module unload.
 */
import { alignDown, alignUp, hex, physAddr, U64_MAX } from '../../util/u64.js';
import { addMemory, addMemoryDriverManaged, removeMemory } from '../memoryHotplug.js';
import { err, OK, type Ret } from '../errno.js';
import { memoryGroupRegisterStatic, memoryGroupUnregister } from '../memory.js';
import { NOTIFY_DONE, NOTIFY_OK, registerMemoryNotifier, type MemoryAction, type MemoryNotify } from '../memoryNotifier.js';
import type { Op } from '../op.js';
import { PAGE_SHIFT } from '../resourceWalk.js';
import { IORESOURCE_SYSTEM_RAM, findExact, releaseResource, removeResource, requestRegion, updateAt, isBusy, withResource } from '../resource.js';
import { deviceNamed, findRegion, withDevice, withState, type DaxDevice, type DaxRange, type KmemData } from '../state.js';
import { advanceDevice } from './lifecycle.js';
import { memoryAddPhysaddrToNid } from '../numa.js';
import { kmemPersistAttachData, kmemPersistCleanup, kmemPersistMemoryNotifier, kmemPersistNodeCheck, kmemPersistProbeTail } from './kmemPersist.js';

/** "System RAM (kmem)" since v5.8; plain add_memory's "System RAM" before. */
export function kmemResourceName(op: Op): string {
  return op.state.profile.kmemDriverManaged ? 'System RAM (kmem)' : 'System RAM';
}

/** @kernel dax_kmem_range drivers/dax/kmem.c — the block-aligned part of range i, or null when nothing is left. */
export function daxKmemRange(blockSize: bigint, range: DaxRange): DaxRange | null {
  const start = alignUp(range.start, blockSize);
  const end = alignDown(range.end + 1n, blockSize) - 1n;
  return start >= end ? null : { start, end };
}

/** The kmem parent node ("daxX.Y", non-BUSY SYSTEM_RAM) holding exactly `r`. */
function findKmemParent(op: Op, dev: DaxDevice, r: DaxRange): readonly number[] | undefined {
  return findExact(op.state.iomem, r.start, r.end, (n) => n.name === dev.name && !isBusy(n) && n.flags === IORESOURCE_SYSTEM_RAM);
}

/**
 * request_mem_region for kmem, then res->flags = IORESOURCE_SYSTEM_RAM (BUSY
 * cleared so the hotplug core can nest "System RAM (kmem)" under it).
 */
function requestKmemRegion(op: Op, dev: DaxDevice, start: bigint, size: bigint): boolean {
  if (op.inject('request_mem_region') !== null) return false;
  // 64-bit wraparound: v5.1's size arithmetic can underflow, and the kernel computes end = start + n - 1 mod 2^64.
  const end = (start + size - 1n) & U64_MAX;
  if (end < start) return false;
  const r = requestRegion(op.state.iomem, start, size, dev.name, 0, [], { warnTopLevelOnly: op.state.profile.devicePrivateWarnTopLevelOnly });
  for (const w of r.warnings) op.print(w);
  if (!r.ok) return false;
  op.state = withState(op.state, { iomem: updateAt(r.root, r.path, (n) => withResource(n, { flags: IORESOURCE_SYSTEM_RAM })) });
  return true;
}

function dropKmemRegion(op: Op, dev: DaxDevice, r: DaxRange, how: 'remove' | 'release'): void {
  const path = findKmemParent(op, dev, r);
  if (path === undefined) return;
  op.state = withState(op.state, { iomem: how === 'remove' ? removeResource(op.state.iomem, path) : releaseResource(op.state.iomem, path) });
}

/** @kernel dev_dax_kmem_probe drivers/dax/kmem.c */
export function devDaxKmemProbe(op: Op, dev: DaxDevice): Ret {
  return op.state.profile.kmemPerRange ? probePerRange(op, dev) : probeV51(op, dev);
}

function probePerRange(op: Op, dev: DaxDevice): Ret {
  let numaNode = dev.targetNode;
  if (numaNode < 0) {
    if (!op.state.profile.kmemAcceptsInvalidNode) {
      op.print(`kmem ${dev.name}: rejecting DAX region with invalid node: ${numaNode}`);
      op.branch('dev_dax_kmem_probe', 'EINVAL(node)');
      return err('EINVAL');
    }
    // Without the check (variant kmem-accepts-invalid-node), add_memory's node for the first range.
    numaNode = memoryAddPhysaddrToNid(op.state, dev.ranges[0]?.start ?? 0n);
  }
  const persist = op.state.profile.kmemPersist;
  if (persist) {
    const rc = kmemPersistNodeCheck(op, dev, numaNode);
    if (!rc.ok) return rc;
  }
  const B = op.state.blockSize;
  let totalLen = 0n;
  dev.ranges.forEach((range, i) => {
    const r = daxKmemRange(B, range);
    if (r === null) {
      op.print(`kmem ${dev.name}: mapping${i}: ${hex(range.start)}-${hex(range.end)} too small after alignment`);
      op.branch('dev_dax_kmem_probe', 'skip(too-small)');
    } else totalLen += r.end - r.start + 1n;
  });
  if (totalLen === 0n) {
    op.print(`kmem ${dev.name}: rejecting DAX region without any memory after alignment`);
    op.branch('dev_dax_kmem_probe', 'EINVAL(empty)');
    return err('EINVAL');
  }
  let mgid: number | null = null;
  if (op.state.profile.memoryGroups) {
    const g = memoryGroupRegisterStatic(op, numaNode, Number(totalLen / 4096n));
    if (!g.ok) return g;
    mgid = g.value;
  }
  const res: Array<DaxRange | null> = dev.ranges.map(() => null);
  let mapped = 0;
  // The kmem-persist series was posted against a kmem without memmap_on_memory (v5.19): it adds without it, so
  // page 0 of a block is the superblock, not a vmemmap page (KERNEL-FACTS-PERSIST §3.7 asks the model to refuse the mix).
  const memmap = op.state.profile.daxMemmapOnMemory && dev.memmapOnMemory && !persist;
  for (let i = 0; i < dev.ranges.length; i++) {
    const r = daxKmemRange(B, dev.ranges[i] as DaxRange);
    if (r === null) continue;
    const size = r.end - r.start + 1n;
    if (!requestKmemRegion(op, dev, r.start, size)) {
      op.print(`kmem ${dev.name}: mapping${i}: ${hex(r.start)}-${hex(r.end)} could not reserve region`);
      // Once some memory has been onlined we can't assume that it can be un-onlined safely.
      if (mapped > 0) continue;
      op.branch('dev_dax_kmem_probe', 'EBUSY');
      if (mgid !== null) memoryGroupUnregister(op, mgid);
      return err('EBUSY');
    }
    res[i] = r;
    const rc = addMemoryDriverManaged(op, mgid ?? numaNode, r.start, size, kmemResourceName(op), {
      nidIsMgid: mgid !== null,
      memmapOnMemory: memmap,
      // RFC 2/4: every add gets MHP_NID_IS_MGID | MHP_ALLOCATE.
      allocate: persist,
    });
    if (!rc.ok) {
      op.print(`kmem ${dev.name}: mapping${i}: ${hex(r.start)}-${hex(r.end)} memory add failed`);
      if (op.state.profile.kmemProbeLeaksOnAddFailure) op.leak(`${dev.name} mapping${i} region`);
      else dropKmemRegion(op, dev, r, 'remove');
      res[i] = null;
      if (mapped > 0) continue;
      op.branch('dev_dax_kmem_probe', rc.errno);
      if (mgid !== null) memoryGroupUnregister(op, mgid);
      return rc;
    }
    mapped++;
  }
  const cur = deviceNamed(op.state, dev.name);
  advanceDevice(op, cur, 'kmem.added', { driver: 'kmem', kmem: { res, mgid } });
  markOnlineIfAny(op, dev.name);
  if (persist) {
    // RFC 2/4: data->total_len, then after dev_set_drvdata rc = kmem_persist_probe(); errors only printed.
    // data->total_len counts every aligned range, added or not (the fix kmem-persist-fix-ranges: only the added ones).
    const added = res.filter((r): r is DaxRange => r !== null);
    const addedPages = added.reduce((n, r) => n + Number((r.end - r.start + 1n) / 4096n), 0);
    if (op.state.profile.kmemPersistAddedRangesOnly) kmemPersistAttachData(op, dev.name, added, addedPages, numaNode);
    else kmemPersistAttachData(op, dev.name, res, Number(totalLen / 4096n), numaNode);
    kmemPersistProbeTail(op, dev.name);
  }
  return OK;
}

/** The v5.1 probe: the region's aligned range in one add_memory; a failed add leaks the region only in the variant (stable fix 31e4ca92a7dd). */
function probeV51(op: Op, dev: DaxDevice): Ret {
  const region = findRegion(op.state, dev.regionId);
  if (region === undefined) throw new Error(`model bug: no region ${dev.regionId}`);
  let numaNode = dev.targetNode;
  const resStart = dev.ranges[0]?.start ?? region.start;
  const resEnd = dev.ranges[dev.ranges.length - 1]?.end ?? region.end;
  if (numaNode < 0) {
    if (!op.state.profile.kmemAcceptsInvalidNode) {
      op.print(`kmem ${dev.name}: rejecting DAX region [mem ${hex(resStart)}-${hex(resEnd)}] with invalid node: ${numaNode}`);
      op.branch('dev_dax_kmem_probe', 'EINVAL(node)');
      return err('EINVAL');
    }
    numaNode = memoryAddPhysaddrToNid(op.state, resStart);
  }
  const B = op.state.blockSize;
  const kmemStart = alignUp(resStart, B);
  // resource_size(res) - (kmem_start - res->start), then & ~(B-1): unsigned 64-bit arithmetic.
  const kmemSize = ((resEnd - resStart + 1n - (kmemStart - resStart)) & U64_MAX) & ~(B - 1n) & U64_MAX;
  if (!requestKmemRegion(op, dev, kmemStart, kmemSize)) {
    op.print(`kmem ${dev.name}: could not reserve region [${physAddr(kmemStart)}-${physAddr((kmemStart + kmemSize) & U64_MAX)}]`);
    op.branch('dev_dax_kmem_probe', 'EBUSY');
    return err('EBUSY');
  }
  const r: DaxRange = { start: kmemStart, end: kmemStart + kmemSize - 1n };
  const rc = addMemory(op, numaNode, kmemStart, kmemSize);
  if (!rc.ok) {
    if (op.state.profile.kmemProbeLeaksOnAddFailure) op.leak(`${dev.name} region`);
    else dropKmemRegion(op, dev, r, 'release');
    op.branch('dev_dax_kmem_probe', rc.errno);
    return rc;
  }
  const cur = deviceNamed(op.state, dev.name);
  advanceDevice(op, cur, 'kmem.added', { driver: 'kmem', kmem: { res: [r], mgid: null } });
  markOnlineIfAny(op, dev.name);
  return OK;
}

/** Auto-online during the add may already have onlined blocks: the device is then online. */
function markOnlineIfAny(op: Op, name: string): void {
  const dev = op.state.devices.find((d) => d.name === name);
  if (dev?.kmem == null) return;
  for (const r of dev.kmem.res) {
    if (r === null) continue;
    for (const [, b] of op.state.blocks.range(Number(r.start / op.state.blockSize), Number((r.end + 1n) / op.state.blockSize) - 1)) {
      if (b.state === 'online') {
        advanceDevice(op, dev, 'block.onlined');
        return;
      }
    }
  }
}

/**
 * kmem's memory notifier: on MEM_ONLINE the kmem device whose memory holds
 * the onlined range is now `online`. drivers/dax/kmem.c keeps no such phase
 * (and registers no memory notifier); the phase is the model's, and this is
 * how kmem's own code would follow it, through register_memory_notifier,
 * so the hotplug core never calls into the driver.
 */
function kmemMemoryNotifier(op: Op, action: MemoryAction, arg: MemoryNotify): number {
  if (action !== 'MEM_ONLINE') return NOTIFY_DONE;
  // Once every kmem device is online there is nothing to advance (the common case in long runs).
  if (!op.state.devices.some((d) => d.kmem !== null && d.phase !== 'online')) return NOTIFY_OK;
  const addr = BigInt(arg.startPfn) << PAGE_SHIFT;
  for (const dev of op.state.devices) {
    if (dev.kmem === null || dev.phase === 'online') continue;
    if (dev.kmem.res.some((r) => r !== null && r.start <= addr && addr <= r.end)) {
      advanceDevice(op, dev, 'block.onlined');
      return NOTIFY_OK;
    }
  }
  return NOTIFY_OK;
}

// module_init: the chain order is module evaluation order (see memoryNotifier.ts).
registerMemoryNotifier('kmem', kmemMemoryNotifier);
// The kmem-persist series' fix kmem-persist-fix-movable adds a second notifier to kmem (a no-op otherwise).
registerMemoryNotifier('kmem-persist', kmemPersistMemoryNotifier);

/**
 * @kernel dev_dax_kmem_remove drivers/dax/kmem.c
 * One shot per range: remove_memory fails while a block is online (or
 * always, without CONFIG_MEMORY_HOTREMOVE), and the range then stays until
 * reboot. Data and the group are freed only if every range was removed; a
 * range too small to add never counts as removed.
 */
export function devDaxKmemRemove(op: Op, dev: DaxDevice): void {
  let data = dev.kmem;
  if (data?.persist !== undefined) {
    // RFC 2/4: kmem_persist_cleanup first (an oops for NULL ops); a failed cleanup returns before remove_memory.
    if (!kmemPersistCleanup(op, dev.name)) {
      setDriverData(op, dev.name, null, deviceNamed(op.state, dev.name).kmem);
      return;
    }
    data = deviceNamed(op.state, dev.name).kmem;
  }
  if (!op.state.profile.kmemRemoveHotRemoves || data === null) {
    // v5.1: remove does nothing; the memory and its resources stay, only the driver is gone.
    setDriverData(op, dev.name, null, dev.kmem);
    return;
  }
  if (!op.state.config.memoryHotremove) {
    // The !CONFIG_MEMORY_HOTREMOVE stub: purposely leak the request_mem_region(); the region is
    // permanently pinned as reserved. Nothing is printed.
    op.state = withState(op.state, { anyHotremoveFailed: true });
    op.branch('dev_dax_kmem_remove', 'pinned(stub)');
    if (op.state.profile.kmemRemoveReleasesRegion) {
      for (const r of data.res) if (r !== null) dropKmemRegion(op, dev, r, 'release');
      setDriverData(op, dev.name, null, { res: data.res.map(() => null), mgid: data.mgid });
      return;
    }
    setDriverData(op, dev.name, null, data);
    return;
  }
  const res: Array<DaxRange | null> = data.res.slice();
  let success = 0;
  for (let i = 0; i < dev.ranges.length; i++) {
    const r = daxKmemRange(op.state.blockSize, dev.ranges[i] as DaxRange);
    if (r === null) continue;
    // "range was never added during probe" (the 2026 fix, in 6.1.y and 6.12.y): counted as removed, remove_memory not called.
    if (op.state.profile.kmemRemoveSkipsNeverAdded && (res[i] ?? null) === null) {
      op.branch('dev_dax_kmem_remove', 'never-added');
      success++;
      continue;
    }
    const rc = removeMemory(op, r.start, r.end - r.start + 1n);
    if (rc.ok) {
      const held = res[i] ?? null;
      if (held === null) {
        // remove_resource(NULL) from v5.10 until the 2026 fix (kmemRemoveSkipsNeverAdded) skipped ranges that were never added.
        op.print(`BUG: kernel NULL pointer dereference in remove_resource (${dev.name} mapping${i} was never added)`);
        op.branch('dev_dax_kmem_remove', 'NULL-res');
      } else if (op.state.profile.kmemRemoveLeakFixed) dropKmemRegion(op, dev, held, 'remove');
      else {
        // Before e686c32590f4: release_mem_region_adjustable stopped at a non-SYSRAM parent, so the
        // "System RAM (kmem)" child is detached together with kmem's node and never freed.
        dropKmemRegion(op, dev, held, 'release');
        op.leak(`${dev.name} mapping${i}: System RAM (kmem) struct resource detached, never freed`);
      }
      res[i] = null;
      success++;
      continue;
    }
    op.state = withState(op.state, { anyHotremoveFailed: true });
    op.print(`kmem ${dev.name}: mapping${i}: ${hex(r.start)}-${hex(r.end)} cannot be hotremoved until the next reboot`);
    op.branch('dev_dax_kmem_remove', 'pinned');
    if (op.state.profile.kmemRemoveReleasesRegion && res[i] !== null) {
      dropKmemRegion(op, dev, res[i] as DaxRange, 'release');
      res[i] = null;
    }
  }
  const cur = deviceNamed(op.state, dev.name);
  const allFreed = success >= dev.ranges.length;
  if (allFreed && data.mgid !== null) memoryGroupUnregister(op, data.mgid);
  // Pinned until reboot: kmem's data stays, with what the persistence series knew of the device (its media still names it).
  const kmem: KmemData | null = allFreed ? null : data.persist === undefined ? { res, mgid: data.mgid } : { res, mgid: data.mgid, persist: data.persist };
  const memoryLeft = res.some((r) => r !== null) || stillHasBlocks(op, dev);
  if (!memoryLeft) advanceDevice(op, cur, 'kmem.removed', { driver: null, kmem });
  else setDriverData(op, dev.name, null, kmem);
}

function setDriverData(op: Op, name: string, driver: DaxDevice['driver'], kmem: KmemData | null): void {
  op.state = withState(op.state, { devices: op.state.devices.map((d) => (d.name === name ? withDevice(d, { driver, kmem }) : d)) });
}

function stillHasBlocks(op: Op, dev: DaxDevice): boolean {
  for (const range of dev.ranges) {
    const r = daxKmemRange(op.state.blockSize, range);
    if (r === null) continue;
    for (const _ of op.state.blocks.range(Number(r.start / op.state.blockSize), Number((r.end + 1n) / op.state.blockSize) - 1)) return true;
  }
  return false;
}

