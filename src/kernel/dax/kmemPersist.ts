/**
 * Mirrors the kmem persistence framework of the 2022 RFC "Allow persistent
 * data on DAX device being used as KMEM" (patch 2/4, drivers/dax/kmem.c and
 * include/linux/kmem_persist.h as posted against ~v5.19; KERNEL-FACTS-PERSIST
 * §1.3, seed L341-796), under the patch series `kmem-persist`:
 * dev_dax_kmem_probe's node check, kmem_persist_probe with the superblock in
 * the device's first page and the type registry, kmem_persist_cleanup, the
 * module parameters, and the helpers the types use (dax_kmem_index_to_page,
 * dax_kmem_alloc_page) with the page accounting MHP_ALLOCATE makes visible.
 */
import { IntervalSet } from '../../util/intervalSet.js';
import { kstrtoint } from '../kstrtox.js';
import { kstrtobool } from '../memory.js';
import { err, OK, type Ret } from '../errno.js';
import { physFillPage, physRead, physWrite } from '../mm/physmem.js';
import { nullDerefOops } from '../oops.js';
import type { Op } from '../op.js';
import { NOTIFY_BAD, NOTIFY_DONE, NOTIFY_OK, type MemoryAction, type MemoryNotify } from '../memoryNotifier.js';
import { deviceNamed, withDevice, replaceDevice, withState, type DaxDevice, type DaxRange, type KernelState, type KmemData, type MemoryBlock } from '../state.js';
import {
  KMEM_PERSIST_BLK,
  KMEM_PERSIST_MAGIC,
  KMEM_PERSIST_NONE,
  type KmemPersistInstance,
  type KmemPersistModule,
  type PersistType,
} from './kmemPersistTypes.js';
import { kmemBlkCleanup, kmemBlkFormat, kmemBlkProbe } from './kmemBlk.js';
import { kmemNoneCleanup, kmemNoneFormat, kmemNoneProbe } from './kmemPersistNone.js';

const PAGE = 4096n;
const U32 = 0xffff_ffffn;

/** struct kmem_persist_ops: what each registered type provides. */
interface PersistOps {
  readonly format: (op: Op, name: string) => Ret;
  readonly probe: (op: Op, name: string) => Ret;
  readonly cleanup: (op: Op, name: string) => Ret;
}

/** The registry dax_kmem_init fills: NONE (3/4) then BLK (4/4); nothing ever unregisters them. */
const OPS: Readonly<Record<PersistType, PersistOps>> = {
  0: { format: kmemNoneFormat, probe: kmemNoneProbe, cleanup: kmemNoneCleanup },
  1: { format: kmemBlkFormat, probe: kmemBlkProbe, cleanup: kmemBlkCleanup },
};

// ------------------------------------------------------------ the instance

/** The device's instance; a model bug if the device has none. */
export function persistOf(s: KernelState, name: string): KmemPersistInstance {
  const p = deviceNamed(s, name).kmem?.persist;
  if (p === undefined) throw new Error(`model bug: ${name} has no kmem persistence data`);
  return p;
}

export function setPersist(op: Op, name: string, c: Partial<KmemPersistInstance>): void {
  const dev = deviceNamed(op.state, name);
  const kmem = dev.kmem;
  if (kmem === null || kmem.persist === undefined) throw new Error(`model bug: ${name} has no kmem persistence data`);
  const p = kmem.persist;
  const persist: KmemPersistInstance = {
    nid: c.nid ?? p.nid,
    ranges: c.ranges ?? p.ranges,
    numPages: c.numPages ?? p.numPages,
    type: c.type !== undefined ? c.type : p.type,
    held: c.held ?? p.held,
    blk: c.blk !== undefined ? c.blk : p.blk,
  };
  op.state = replaceDevice(op.state, withDevice(dev, { kmem: { ...kmem, persist } }));
}

function setModule(op: Op, c: Partial<KmemPersistModule>): void {
  op.state = withState(op.state, { kmemPersist: { ...op.state.kmemPersist, ...c } });
}

/**
 * @kernel dax_kmem_index_to_page drivers/dax/kmem.c (RFC 2/4) — the physical
 * address of device page i: page i of the concatenation of data->res[], which
 * total_len counts whole even for a range kmem never added (NULL res: the
 * posted code dereferences it).
 */
export function daxKmemIndexToPhys(p: KmemPersistInstance, i: number): bigint {
  let left = BigInt(i);
  for (const r of p.ranges) {
    if (r === null) throw nullDerefOops('dax_kmem_index_to_page', 0n);
    const pages = (r.end - r.start + 1n) / PAGE;
    if (left < pages) return r.start + left * PAGE;
    left -= pages;
  }
  throw new Error(`model bug: device page ${i} beyond ${p.numPages}`);
}

/** The device page index of physical address `phys`, or null when it is outside data->res[]. */
export function daxKmemPhysToIndex(p: KmemPersistInstance, phys: bigint): number | null {
  let base = 0n;
  for (const r of p.ranges) {
    if (r === null) return null;
    if (phys >= r.start && phys <= r.end) return Number(base + (phys - r.start) / PAGE);
    base += (r.end - r.start + 1n) / PAGE;
  }
  return null;
}

/** __free_page of device page i: its refcount 1 → 0, back to the buddy. */
export function freeDevicePage(op: Op, name: string, i: number): void {
  const p = persistOf(op.state, name);
  if (!p.held.has(i)) throw new Error(`model bug: ${name} page ${i} freed twice`);
  setPersist(op, name, { held: p.held.delete(i) });
}

/** Free device pages [from, to) that are held (NONE's probe, free_unused's runs). */
export function freeDevicePages(op: Op, name: string, from: number, to: number): void {
  const p = persistOf(op.state, name);
  setPersist(op, name, { held: p.held.deleteRange(from, to) });
}

// ------------------------------------------------------------ the superblock (page 0)

/** struct kmem_persist_superblock __packed: magic @0 (8), type @8 (4). */
export function readSuper(s: KernelState, p: KmemPersistInstance): { readonly magic: bigint; readonly type: bigint } {
  const base = daxKmemIndexToPhys(p, 0);
  return { magic: physRead(s.mm, base), type: physRead(s.mm, base + 8n) & U32 };
}

/** Write magic and type (12 bytes; bytes 12..15 of the second word keep what they held). */
export function writeSuperHeader(op: Op, p: KmemPersistInstance, type: PersistType): void {
  const base = daxKmemIndexToPhys(p, 0);
  physWrite(op, base, KMEM_PERSIST_MAGIC);
  physWrite(op, base + 8n, (physRead(op.state.mm, base + 8n) & ~U32 & 0xffff_ffff_ffff_ffffn) | BigInt(type));
}

// ------------------------------------------------------------ module parameters

/** @kernel param_get_int kernel/params.c — /sys/module/kmem/parameters/persist_format_type. */
export function formatTypeShow(s: KernelState): string {
  return `${s.kmemPersist.formatType}\n`;
}

/** @kernel param_set_int kernel/params.c — kstrtoint(val, 0). */
export function formatTypeStore(op: Op, buf: string): Ret {
  const r = kstrtoint(buf);
  if (!r.ok) {
    op.branch('param_set_int', r.errno);
    return r;
  }
  setModule(op, { formatType: r.value });
  return OK;
}

/** @kernel param_get_bool kernel/params.c */
export function formatForceShow(s: KernelState): string {
  return s.kmemPersist.formatForce ? 'Y\n' : 'N\n';
}

/** @kernel param_set_bool kernel/params.c — kstrtobool (memory.ts). */
export function formatForceStore(op: Op, buf: string): Ret {
  const v = kstrtobool(buf, op.state.profile.kstrtoboolTrueFalse);
  if (v === undefined) {
    op.branch('param_set_bool', 'EINVAL');
    return err('EINVAL');
  }
  setModule(op, { formatForce: v });
  return OK;
}

// ------------------------------------------------------------ probe-time pieces of dev_dax_kmem_probe

/** node_present_pages(nid) > 0 with the node online: present pages of online blocks on nid. */
export function nodeHasMemory(s: KernelState, nid: number): boolean {
  for (const b of s.blocks.values()) if (b.nid === nid && b.state === 'online' && b.pages > 0) return true;
  return false;
}

/**
 * Whether the node check refuses `dev` on node nid. node_present_pages counts
 * online memory only: a device whose blocks failed to online leaves its node
 * looking empty. The fix kmem-persist-fix-node-check also asks whether
 * another device kmem holds under the series is on the node.
 */
export function kmemPersistNodeRefuses(s: KernelState, dev: DaxDevice, nid: number): boolean {
  if (nodeHasMemory(s, nid)) return true;
  return s.profile.kmemPersistNodeCheckDevices && s.devices.some((d) => d.name !== dev.name && d.kmem?.persist !== undefined && d.kmem.persist.nid === nid);
}

/**
 * The node check 2/4 adds to dev_dax_kmem_probe after the target_node test:
 * "rejecting DAX region on numa_node with existing memory", before anything
 * is allocated.
 */
export function kmemPersistNodeCheck(op: Op, dev: DaxDevice, nid: number): Ret {
  if (!kmemPersistNodeRefuses(op.state, dev, nid)) return OK;
  op.print(`kmem ${dev.name}: rejecting DAX region on numa_node with existing memory`);
  op.branch('dev_dax_kmem_probe', 'EINVAL(node-has-memory)');
  return err('EINVAL');
}

/**
 * After the ranges are added with MHP_ALLOCATE: every page of an added range
 * that went online is held (refcount 1, not in the buddy; __free_pages_core
 * with allocate). A range whose add failed keeps its place in the page
 * numbering (total_len counts it) but holds nothing.
 */
export function kmemPersistAttachData(op: Op, name: string, ranges: ReadonlyArray<DaxRange | null>, totalPages: number, nid: number): void {
  const s = op.state;
  let held = IntervalSet.EMPTY;
  let base = 0;
  for (const r of ranges) {
    if (r === null) continue;
    const pages = Number((r.end - r.start + 1n) / PAGE);
    // Only blocks onlined during add_memory_resource: their pages skipped __free_pages_ok.
    for (let k = 0; k < pages; k += s.blockPages) {
      const id = Number((r.start + BigInt(k) * PAGE) / s.blockSize);
      if (s.blocks.get(id)?.state === 'online') held = held.addRange(base + k, base + Math.min(pages, k + s.blockPages));
    }
    base += pages;
  }
  const dev = deviceNamed(op.state, name);
  const kmem: KmemData = { res: dev.kmem?.res ?? ranges, mgid: dev.kmem?.mgid ?? null, persist: { nid, ranges, numPages: totalPages, type: null, held, blk: null } };
  op.state = replaceDevice(op.state, withDevice(dev, { kmem }));
}

/**
 * @kernel kmem_persist_probe drivers/dax/kmem.c (RFC 2/4, seed L638-713)
 * Returns the errno dev_dax_kmem_probe prints and ignores.
 */
export function kmemPersistProbe(op: Op, name: string): Ret {
  const p = persistOf(op.state, name);
  const sb = readSuper(op.state, p);
  let ptype: number;
  let format = false;
  if (sb.magic !== KMEM_PERSIST_MAGIC) {
    if (op.state.kmemPersist.formatType === -1) {
      op.print(`kmem ${name}: kmem unformatted for persistence`);
      op.branch('kmem_persist_probe', 'EINVAL(unformatted)');
      return err('EINVAL');
    }
    ptype = op.state.kmemPersist.formatType;
    format = true;
  } else ptype = Number(sb.type);
  if (ptype !== KMEM_PERSIST_NONE && ptype !== KMEM_PERSIST_BLK) {
    op.print(`kmem ${name}: No persistence module with type ${ptype}`);
    op.branch('kmem_persist_probe', 'EINVAL(no-type)');
    return err('EINVAL');
  }
  const type: PersistType = ptype;
  const ops = OPS[type];
  bumpRef(op, type, +1);
  if (format) {
    op.branch('kmem_persist_probe', `format(${type === KMEM_PERSIST_NONE ? 'NONE' : 'BLK'})`);
    const rc = ops.format(op, name);
    const after = readSuper(op.state, persistOf(op.state, name));
    if (!rc.ok || after.magic !== KMEM_PERSIST_MAGIC || after.type !== BigInt(type)) {
      bumpRef(op, type, -1);
      op.branch('kmem_persist_probe', rc.ok ? 'format-check' : rc.errno);
      // The posted code returns rc, 0 when format succeeded but the check failed.
      return rc;
    }
  }
  const rc = ops.probe(op, name);
  if (!rc.ok) {
    op.print(`kmem ${name}: Error initializing kmem persistence type ${type}`);
    // ref_count is not decremented here (KERNEL-FACTS-PERSIST §3.3).
    op.branch('kmem_persist_probe', `${rc.errno}(type-probe)`);
    return rc;
  }
  setPersist(op, name, { type });
  return OK;
}

function bumpRef(op: Op, type: PersistType, by: number): void {
  const refs: [number, number] = [...op.state.kmemPersist.refs];
  refs[type] += by;
  setModule(op, { refs });
}

/**
 * The end of dev_dax_kmem_probe under 2/4: rc = kmem_persist_probe(); on
 * error only dev_err("Cannot setup kmem persistent data") and the probe
 * still returns 0, every page held (D1). Under the fix
 * kmem-persist-fix-probe-errors kmem falls back to plain kmem: the held pages
 * go to the page allocator.
 */
export function kmemPersistProbeTail(op: Op, name: string): void {
  const rc = kmemPersistProbe(op, name);
  if (rc.ok) return;
  op.print(`kmem ${name}: Cannot setup kmem persistent data`);
  if (op.state.profile.kmemPersistProbeFallback) {
    const p = persistOf(op.state, name);
    setPersist(op, name, { held: IntervalSet.EMPTY, type: null, blk: null });
    op.branch('dev_dax_kmem_probe', `persist-fallback(${p.held.size})`);
  }
}

/**
 * @kernel kmem_persist_cleanup drivers/dax/kmem.c (RFC 2/4, seed L715-724),
 * first thing in dev_dax_kmem_remove: pops->cleanup() with no NULL check (a
 * device whose persistence probe failed has NULL ops: the unbind oopses).
 * Returns false when cleanup failed ("Block device cannot be freed.": remove
 * returns early, the memory left added).
 */
export function kmemPersistCleanup(op: Op, name: string): boolean {
  const p = persistOf(op.state, name);
  if (p.type === null) {
    if (op.state.profile.kmemPersistProbeFallback) return true;
    // The faulting offset is pops->cleanup's place in struct kmem_persist_ops, which the model does not
    // know; oops lines compare with hex blanked (SPEC §7).
    throw nullDerefOops('kmem_persist_cleanup', 0n);
  }
  const type = p.type;
  const rc = OPS[type].cleanup(op, name);
  if (!rc.ok) {
    op.print(`kmem ${name}: Block device cannot be freed.`);
    op.branch('dev_dax_kmem_remove', `persist-cleanup(${rc.errno})`);
    return false;
  }
  bumpRef(op, type, -1);
  // The instance is gone and so is the disk; the superblock counts stay known (the media still holds them).
  const blk = persistOf(op.state, name).blk;
  setPersist(op, name, { type: null, blk: blk === null ? null : { ...blk, disk: false } });
  return true;
}

/**
 * @kernel dax_kmem_alloc_page drivers/dax/kmem.c (RFC 2/4, seed L566-601) —
 * alloc_pages_node(target_node, GFP_NOIO | __GFP_ZERO | __GFP_THISNODE, 0).
 * The model's page allocator hands out the lowest free page of the node in
 * a zone GFP_NOIO may use (none of ZONE_MOVABLE): a device page kmem does not
 * hold, or another online page of the node (the model allocates nothing
 * else, so every managed page outside kmem's devices is free). A page outside
 * the device is "Allocated page not in DAX range. Freeing." and NULL.
 * Returns the device page index, zeroed, now held; or null.
 */
export function daxKmemAllocPage(op: Op, name: string): number | null {
  const s = op.state;
  const p = persistOf(s, name);
  const first = p.blk === null ? 1 : 1 + p.blk.n;
  const dev = findFree(s, p, first);
  const other = lowestOtherFreePfn(s, p);
  const devPfn = dev === null ? null : Number(daxKmemIndexToPhys(p, dev) >> 12n);
  if (other !== null && (devPfn === null || other < devPfn)) {
    op.print(`kmem ${name}: Allocated page not in DAX range. Freeing.`);
    op.branch('dax_kmem_alloc_page', 'not-in-range');
    return null;
  }
  if (dev === null) {
    op.branch('dax_kmem_alloc_page', 'ENOMEM');
    return null;
  }
  setPersist(op, name, { held: p.held.add(dev) });
  physFillPage(op, devPfn as number, 0n);
  return dev;
}

/** The lowest device page >= from that kmem does not hold, in an online block of a zone GFP_NOIO allows. */
function findFree(s: KernelState, p: KmemPersistInstance, from: number): number | null {
  return p.held.firstAbsent(from, p.numPages, (x) => nextDevicePageIn(s, p, x, (b) => b.state === 'online' && b.zone !== 'Movable'));
}

/**
 * The first device page >= x whose memory block `accept`s, or null: page by
 * page would be slow, so a refused block is skipped whole.
 */
export function nextDevicePageIn(s: KernelState, p: KmemPersistInstance, x: number, accept: (b: MemoryBlock) => boolean): number | null {
  for (let i = x; i < p.numPages; ) {
    const phys = daxKmemIndexToPhysOrNull(p, i);
    if (phys === null) return null;
    const b = s.blocks.get(Number(phys / s.blockSize));
    if (b !== undefined && accept(b)) return i;
    // The first page index of the next block.
    i += s.blockPages - Number((phys % s.blockSize) / PAGE);
  }
  return null;
}

function daxKmemIndexToPhysOrNull(p: KmemPersistInstance, i: number): bigint | null {
  try {
    return daxKmemIndexToPhys(p, i);
  } catch {
    return null;
  }
}

/** Per block map: the lowest pfn of an online, non-movable block of node nid outside the device's ranges. */
const otherCache = new WeakMap<object, Map<string, number | null>>();

function lowestOtherFreePfn(s: KernelState, p: KmemPersistInstance): number | null {
  let m = otherCache.get(s.blocks);
  if (m === undefined) {
    m = new Map();
    otherCache.set(s.blocks, m);
  }
  const key = `${p.nid}:${p.ranges.map((r) => (r === null ? '-' : `${r.start}-${r.end}`)).join(',')}`;
  const hit = m.get(key);
  if (hit !== undefined) return hit;
  let best: number | null = null;
  for (const [id, b] of s.blocks.entries()) {
    if (b.nid !== p.nid || b.state !== 'online' || b.zone === 'Movable' || b.pages === 0) continue;
    const start = BigInt(id) * s.blockSize;
    if (p.ranges.some((r) => r !== null && start >= r.start && start <= r.end)) continue;
    const pfn = Number(start >> 12n);
    if (best === null || pfn < best) best = pfn;
  }
  m.set(key, best);
  return best;
}

/** Held device pages of node nid (for MemFree): pages kmem's persistence keeps out of the buddy. */
export function heldPagesOnNode(s: KernelState, nid: number): number {
  let n = 0;
  for (const d of s.devices) {
    const p = d.kmem?.persist;
    if (p !== undefined && p.nid === nid) n += p.held.size;
  }
  return n;
}

/** Whether physical pages [startPfn, startPfn+nr) hold a page kmem's persistence keeps (offline_pages can't isolate it). */
export function heldPagesIn(s: KernelState, startPfn: number, nr: number): number {
  let n = 0;
  for (const d of s.devices) {
    const p = d.kmem?.persist;
    if (p === undefined || p.held.size === 0) continue;
    const lo = daxKmemPhysToIndex(p, BigInt(startPfn) << 12n);
    if (lo === null) continue;
    n += p.held.countIn(lo, lo + nr);
  }
  return n;
}


/**
 * Part of the fix kmem-persist-fix-movable (proposed here): kmem's memory
 * notifier refuses MEM_GOING_OFFLINE for a block of a device with a
 * persistence instance attached, and MEM_GOING_ONLINE into ZONE_MOVABLE, so
 * its pool stays in a kernel zone (movable, its free pages would be out of
 * GFP_NOIO's reach again). As posted, nothing watches those blocks.
 */
export function kmemPersistMemoryNotifier(op: Op, action: MemoryAction, arg: MemoryNotify): number {
  if (!op.state.profile.kmemPersistOnlineKernel) return NOTIFY_DONE;
  // Offlining is refused, and so is onlining into ZONE_MOVABLE (a block whose online failed during the add).
  if (action !== 'MEM_GOING_OFFLINE' && !(action === 'MEM_GOING_ONLINE' && arg.zone === 'Movable')) return NOTIFY_DONE;
  const addr = BigInt(arg.startPfn) << 12n;
  for (const d of op.state.devices) {
    const p = d.kmem?.persist;
    if (p === undefined || p.type === null || d.driver !== 'kmem') continue;
    if (daxKmemPhysToIndex(p, addr) !== null) {
      op.branch('kmem_persist_memory_notifier', 'NOTIFY_BAD');
      return NOTIFY_BAD;
    }
  }
  return NOTIFY_OK;
}

