/**
 * Invariants of the kmem persistence series (SPEC §10,
 * KERNEL-FACTS-PERSIST §4): what the 2022 RFC promises about a persistent
 * device's pages and its index (its data: persistReadYourWrites.ts),
 * checked after every step of a machine booted with
 * `boot.patches: ["kmem-persist"]`. The page classes of
 * §4.1: superblock (page 0), index (1..n), mapped by one logical block,
 * free to the system, or held and unreferenced (an orphan: no owner ever
 * frees it).
 */
import { indexEntryPhys, kmemBlkGeometry, mappedEntries, readBlkSuper } from '../../src/kernel/dax/kmemBlk.js';
import { physRead } from '../../src/kernel/mm/physmem.js';
import { daxKmemIndexToPhys, nextDevicePageIn, readSuper } from '../../src/kernel/dax/kmemPersist.js';
import { KMEM_PERSIST_MAGIC, type KmemPersistInstance } from '../../src/kernel/dax/kmemPersistTypes.js';
import { kmemDiskOwner } from '../../src/kernel/block/kmemDisk.js';
import { isBlockIoctl, type BlockIoEvent, type BlockIoctlEvent } from '../../src/log/programEvents.js';
import type { KernelState } from '../../src/kernel/state.js';
import { IntervalSet } from '../../src/util/intervalSet.js';
import { memo, MemoKey, type Invariant, type InvariantContext } from './types.js';
import { applies, fdDevice, persistDevices } from './persistScope.js';
import { persistReadYourWrites } from './persistReadYourWrites.js';

/** The pages the media's index maps (BLK counts known), as device page numbers, with duplicates and strays. */
function mediaMap(s: KernelState, p: KmemPersistInstance): { readonly pages: number[]; readonly n: number; readonly e: number } | null {
  if (p.blk === null) return null;
  const pages: number[] = [];
  for (const [, v] of mappedEntries(s, p, p.blk.n, p.blk.e)) pages.push(Number(v));
  return { pages, n: p.blk.n, e: p.blk.e };
}

/** The pages the instance may hold: superblock and index for BLK, page 0 for NONE, plus mapped pages. */
function ownedPages(s: KernelState, p: KmemPersistInstance): IntervalSet {
  if (p.type === 0) return IntervalSet.range(0, 1);
  const m = mediaMap(s, p);
  if (p.type !== 1 || m === null) return IntervalSet.EMPTY;
  let owned = IntervalSet.range(0, 1 + m.n);
  for (const pg of m.pages) owned = owned.add(pg);
  return owned;
}

/** Whether a step can have changed a persistent device's pages: its kmem data or memory words changed. */
function touched(ctx: InvariantContext): boolean {
  return ctx.before === null || ctx.full || ctx.before.devices !== ctx.after.devices || ctx.before.mm !== ctx.after.mm;
}

/**
 * A block write, discard or zero-out changes only the entries of the blocks
 * it names and the pages behind them: judged from those alone (the three
 * page invariants held before the step, so a page allocated now was free,
 * hence unmapped), a 16 GiB disk's step costs its blocks, not its index.
 * Null for any other step, or one the checker must judge whole.
 */
interface IoDelta {
  readonly dev: string;
  readonly before: KmemPersistInstance;
  readonly after: KmemPersistInstance;
  /** [block, entry before, entry after] for every block the step named. */
  readonly changes: ReadonlyArray<readonly [number, bigint, bigint]>;
}
const IO_DELTA = new MemoKey<IoDelta | null>('persist-io-delta');

function ioDelta(ctx: InvariantContext): IoDelta | null {
  const e = ctx.step.event;
  if (ctx.full || ctx.before === null || (e.type !== 'pwrite' && (e.type !== 'ioctl' || !isBlockIoctl(e)))) return null;
  return memo(ctx, IO_DELTA, computeIoDeltaOfStep);
}

/** computeIoDelta of the step's event, which ioDelta checked to be block I/O. */
function computeIoDeltaOfStep(ctx: InvariantContext): IoDelta | null {
  return computeIoDelta(ctx, ctx.step.event as BlockIoEvent | BlockIoctlEvent);
}

function computeIoDelta(ctx: InvariantContext, e: BlockIoEvent | BlockIoctlEvent): IoDelta | null {
  if (ctx.before === null) return null;
  let out: IoDelta | null = null;
  const dev = fdDevice(ctx.before, e.pid, e.fd);
  const pb = dev === null ? undefined : ctx.before.devices.find((d) => d.name === dev)?.kmem?.persist;
  const pa = dev === null ? undefined : ctx.after.devices.find((d) => d.name === dev)?.kmem?.persist;
  if (dev !== null && pb !== undefined && pa !== undefined && pb.blk !== null && pa.blk !== null && pb.blk.e === pa.blk.e) {
    const start = e.type === 'ioctl' ? e.args.start : e.offset;
    const length = e.type === 'ioctl' ? e.args.length : e.length;
    const changes: Array<readonly [number, bigint, bigint]> = [];
    for (let b = Number(start / 4096n); b < Number((start + length + 4095n) / 4096n) && b < pa.blk.e; b++) {
      changes.push([b, physRead(ctx.before.mm, indexEntryPhys(pb, b)), physRead(ctx.after.mm, indexEntryPhys(pa, b))]);
    }
    out = { dev, before: pb, after: pa, changes };
  }
  return out;
}

/** persist-page-partition: every held page is owned (superblock, index, mapped), except where a fix says so. */
export const persistPagePartition: Invariant = {
  name: 'persist-page-partition',
  summary: 'kmem holds only pages its persistence instance owns (superblock, index, mapped data): no page is held with nobody to free it',
  kernel: 'RFC 2/4 dev_dax_kmem_probe (probe errors ignored: every page held) and 4/4 kmem_blk_free_unused (the bitmap decides what is freed)',
  appliesTo: applies,
  readsMemory: true,
  check: (ctx) => {
    if (!touched(ctx)) return [];
    const io = ioDelta(ctx);
    if (io !== null) {
      // Held pages change by exactly the pages the step mapped (allocated) and unmapped (freed).
      let delta = 0;
      for (const [, was, now] of io.changes) if (was !== now) delta += (now !== 0n ? 1 : 0) - (was !== 0n ? 1 : 0);
      const got = io.after.held.size - io.before.held.size;
      return got === delta ? [] : [`${io.dev}: held pages changed by ${got}, the blocks' mappings by ${delta}`];
    }
    const out: string[] = [];
    for (const { dev, p } of persistDevices(ctx.after)) {
      if (p.held.size === 0) continue;
      const kept = ctx.after.profile.kmemPersistUnbindKeepsData && dev.driver !== 'kmem' ? ownedPages(ctx.after, { ...p, type: p.blk === null ? null : 1 }) : ownedPages(ctx.after, p);
      let orphans = 0;
      let first = -1;
      for (const [s, e] of p.held.spans()) {
        for (let x = s; x < e; x++) {
          if (kept.has(x)) continue;
          orphans++;
          if (first < 0) first = x;
          // A D1 device holds every page: count them without walking all of them.
          if (orphans > 16 && p.type === null) {
            orphans = p.held.size - kept.countIn(0, p.numPages);
            break;
          }
        }
        if (orphans > 16 && p.type === null) break;
      }
      if (orphans > 0) out.push(`${dev.name}: ${orphans} page(s) held with no owner (first: device page ${first}; instance ${p.type === null ? 'none' : p.type === 0 ? 'NONE' : 'BLK'})`);
    }
    return out;
  },
  culprit: (ctx) => {
    for (const { p } of persistDevices(ctx.after)) if (p.type === null && p.blk === null && p.held.size > 0) return 'dev_dax_kmem_probe';
    return 'kmem_blk_free_unused';
  },
};

/** persist-index-wellformed: mapped targets are pool pages, no page mapped twice, slack slots zero. */
export const persistIndexWellformed: Invariant = {
  name: 'persist-index-wellformed',
  summary: 'a BLK index maps each logical block to a distinct data-pool page in [1+n, N), and the last index page\'s slack slots are 0',
  kernel: 'RFC 4/4 kmem_blk_insert_page (one page per unmapped block, under the lock), kmem_blk_format (zeroed index)',
  appliesTo: applies,
  readsMemory: true,
  check: (ctx) => {
    if (!touched(ctx)) return [];
    const io = ioDelta(ctx);
    if (io !== null) {
      const n = io.after.blk?.n ?? 0;
      const out: string[] = [];
      for (const [b, was, now] of io.changes) {
        if (now === was || now === 0n) continue;
        const pg = Number(now);
        if (pg < 1 + n || pg >= io.after.numPages) out.push(`${io.dev}: block ${b} maps page ${pg}, outside the pool [${1 + n}, ${io.after.numPages})`);
        // A page newly mapped was free before; free pages are unmapped while never-free-live-data holds.
        else if (io.before.held.has(pg)) out.push(`${io.dev}: page ${pg} mapped by two blocks (block ${b} took a page already held)`);
      }
      return out;
    }
    const out: string[] = [];
    for (const { dev, p } of persistDevices(ctx.after)) {
      if (p.type !== 1 || p.blk === null) continue;
      const seen = new Set<number>();
      for (const [i, v] of mappedEntries(ctx.after, p, p.blk.n, p.blk.n * 512)) {
        const pg = Number(v);
        if (i >= p.blk.e) out.push(`${dev.name}: slack slot ${i} holds 0x${v.toString(16)}`);
        else if (pg < 1 + p.blk.n || pg >= p.numPages) out.push(`${dev.name}: block ${i} maps page ${pg}, outside the pool [${1 + p.blk.n}, ${p.numPages})`);
        else if (seen.has(pg)) out.push(`${dev.name}: page ${pg} mapped by two blocks (block ${i} and an earlier one)`);
        seen.add(pg);
      }
    }
    return out;
  },
  culprit: () => 'kmem_blk_insert_page',
};

/** Whether device page `pg` lies in an online memory block. */
function pageOnline(s: KernelState, p: KmemPersistInstance, pg: number): boolean {
  const phys = daxKmemIndexToPhys(p, pg);
  return s.blocks.get(Number(phys / s.blockSize))?.state === 'online';
}

/** persist-never-free-live-data: no page the media's index maps is free to the system. */
export const persistNeverFreeLiveData: Invariant = {
  name: 'persist-never-free-live-data',
  summary: 'a page the on-media index maps stays held by kmem: persistent data is never handed to the page allocator while the index names it',
  kernel: 'RFC 4/4 kmem_blk_free_unused (frees what the bitmap does not mark), kmem_blk_cleanup (frees every page at unbind, the media still naming them)',
  appliesTo: applies,
  readsMemory: true,
  check: (ctx) => {
    if (!touched(ctx)) return [];
    const io = ioDelta(ctx);
    if (io !== null) {
      const out: string[] = [];
      for (const [b, , now] of io.changes) if (now !== 0n && !io.after.held.has(Number(now))) out.push(`${io.dev}: block ${b} maps page ${now}, which is free to the system`);
      return out;
    }
    const out: string[] = [];
    for (const { dev, p } of persistDevices(ctx.after)) {
      const m = mediaMap(ctx.after, p);
      if (m === null) continue;
      // Only a page of the pool can be judged (a stray entry is persist-index-wellformed's), and only in online
      // memory: a page of a block whose online failed during the add is offline, in nobody's hands.
      const free = m.pages.filter((pg) => pg >= 1 + m.n && pg < p.numPages && !p.held.has(pg) && pageOnline(ctx.after, p, pg));
      if (free.length > 0) out.push(`${dev.name}: ${free.length} page(s) the index maps are free to the system (first: device page ${free[0] ?? -1}${dev.driver === 'kmem' ? '' : ', after unbind'})`);
    }
    return out;
  },
  culprit: (ctx) => (persistDevices(ctx.after).some(({ dev, p }) => dev.driver !== 'kmem' && p.blk !== null) ? 'kmem_blk_cleanup' : 'kmem_blk_free_unused'),
};

/** persist-accounting: MHP_ALLOCATE accounting — held pages lie in online memory of the device's node, never more than the device. */
export const persistAccounting: Invariant = {
  name: 'persist-accounting',
  summary: 'pages kmem holds are online device pages (MemTotal grew by them, MemFree only by what was freed): never more than the device, never in an offline block',
  kernel: 'RFC 1/4 __free_pages_core(allocate): managed pages counted, the buddy skipped; offline_pages cannot isolate a held page',
  appliesTo: applies,
  check: (ctx) => {
    if (ctx.before !== null && !ctx.full && ctx.before.devices === ctx.after.devices && ctx.before.blocks === ctx.after.blocks) return [];
    const s = ctx.after;
    const out: string[] = [];
    for (const { dev, p } of persistDevices(s)) {
      if (p.held.size > p.numPages) out.push(`${dev.name}: ${p.held.size} pages held of ${p.numPages}`);
      let base = 0;
      for (const r of p.ranges) {
        if (r === null) break;
        const pages = Number((r.end - r.start + 1n) / 4096n);
        for (let k = 0; k < pages; k += s.blockPages) {
          const id = Number((r.start + BigInt(k) * 4096n) / s.blockSize);
          const n = p.held.countIn(base + k, base + Math.min(pages, k + s.blockPages));
          if (n > 0 && s.blocks.get(id)?.state !== 'online') out.push(`${dev.name}: ${n} held page(s) in memory${id}, which is not online`);
        }
        base += pages;
      }
    }
    return out;
  },
  culprit: () => 'offline_pages',
};

/** persist-write-allocation: a write to an unmapped block fails only when the node has no page GFP_NOIO may take from the device. */
export const persistWriteAllocation: Invariant = {
  name: 'persist-write-allocation',
  onEvents: ['pwrite'],
  summary: 'a block write fails with EIO only when the device has no free page a GFP_NOIO allocation on its node could get; a page outside the device is never the answer',
  kernel: 'RFC 2/4 dax_kmem_alloc_page: alloc_pages_node(nid, GFP_NOIO | __GFP_ZERO | __GFP_THISNODE) — no ZONE_MOVABLE, and any page of the node',
  appliesTo: applies,
  onOutcome: true,
  check: ({ step, before }) => {
    const e = step.event;
    if (e.type !== 'pwrite' || step.outcome.ok || !('errno' in step.outcome) || step.outcome.errno !== 'EIO' || before === null) return [];
    const out: string[] = [];
    for (const { dev, p } of persistDevices(before)) {
      if (p.type !== 1 || p.blk === null) continue;
      // A free pool page in online memory (in any zone: a free page GFP_NOIO cannot use is the finding).
      const free = p.held.firstAbsent(1 + p.blk.n, p.numPages, (x) => nextDevicePageIn(before, p, x, (b) => b.state === 'online'));
      if (free !== null) out.push(`${dev.name}: write failed with EIO while pool pages were free to the system in online memory`);
    }
    return out;
  },
  culprit: () => 'dax_kmem_alloc_page',
};

/** persist-superblock: an attached instance's superblock is what its type wrote. */
export const persistSuperblock: Invariant = {
  name: 'persist-superblock',
  summary: 'an attached NONE or BLK instance has magic KMEMPERS and its type in page 0; BLK: 1 + n + e = N, e <= 512 n, n minimal',
  kernel: 'RFC 2/4 kmem_persist_probe (checks after formatting), 4/4 kmem_blk_format and kmem_blk_probe',
  appliesTo: applies,
  readsMemory: true,
  check: (ctx) => {
    if (!touched(ctx)) return [];
    const out: string[] = [];
    for (const { dev, p } of persistDevices(ctx.after)) {
      if (p.type === null || dev.driver !== 'kmem') continue;
      const sb = readSuper(ctx.after, p);
      if (sb.magic !== KMEM_PERSIST_MAGIC || sb.type !== BigInt(p.type)) out.push(`${dev.name}: superblock magic 0x${sb.magic.toString(16)} type ${sb.type}, instance type ${p.type}`);
      if (p.type === 1) {
        const { n, e } = readBlkSuper(ctx.after, p);
        const g = kmemBlkGeometry(p.numPages);
        if (1n + n + e !== BigInt(p.numPages) || e > 512n * n) out.push(`${dev.name}: BLK superblock n=${n} e=${e} for ${p.numPages} pages`);
        else if (n !== BigInt(g.n)) out.push(`${dev.name}: BLK superblock n=${n}, the smallest is ${g.n}`);
      }
    }
    return out;
  },
  culprit: () => 'kmem_persist_probe',
};

/** persist-disk: kmem<nid> exists exactly for a bound BLK instance. */
export const persistDisk: Invariant = {
  name: 'persist-disk',
  summary: 'the disk kmem<node> exists exactly while a BLK instance is attached to a kmem-bound device (its capacity, 8 e sectors, is derived from the instance)',
  kernel: 'RFC 4/4 kmem_blk_disk_init (set_capacity(e << 3), add_disk), kmem_blk_cleanup (del_gendisk)',
  appliesTo: applies,
  check: (ctx) => {
    if (ctx.before !== null && !ctx.full && ctx.before.devices === ctx.after.devices) return [];
    const out: string[] = [];
    for (const { dev, p } of persistDevices(ctx.after)) {
      const owner = kmemDiskOwner(ctx.after, p.nid);
      // add_disk of a name another instance's disk has fails (and is ignored): that instance is then diskless.
      const shouldHave = dev.driver === 'kmem' && p.type === 1 && (owner === null || owner === dev.name);
      if (shouldHave !== (owner === dev.name)) out.push(`${dev.name}: disk kmem${p.nid} ${owner === dev.name ? 'present' : 'absent'} with the instance ${p.type === null ? 'detached' : 'attached'} and driver ${dev.driver ?? 'none'}`);
    }
    return out;
  },
  culprit: () => 'kmem_blk_disk_init',
};

/** persist-type-refcount: a type's ref_count counts its attached instances. */
export const persistTypeRefcount: Invariant = {
  name: 'persist-type-refcount',
  summary: "each persistence type's ref_count equals the number of instances attached to it",
  kernel: 'RFC 2/4 kmem_persist_probe (ref_count++; -- only when format fails), kmem_persist_cleanup (--)',
  appliesTo: applies,
  check: (ctx) => {
    if (ctx.before !== null && !ctx.full && ctx.before.devices === ctx.after.devices && ctx.before.kmemPersist === ctx.after.kmemPersist) return [];
    const attached = [0, 0];
    for (const { dev, p } of persistDevices(ctx.after)) if (p.type !== null && dev.driver === 'kmem') attached[p.type] = (attached[p.type] ?? 0) + 1;
    const refs = ctx.after.kmemPersist.refs;
    const out: string[] = [];
    for (const t of [0, 1] as const) if (refs[t] !== attached[t]) out.push(`type ${t === 0 ? 'NONE' : 'BLK'}: ref_count ${refs[t]}, ${attached[t]} attached instance(s)`);
    return out;
  },
  culprit: () => 'kmem_persist_probe',
};

/** persist-node-exclusive: a bound persistent device's node has no memory but the device's own. */
export const persistNodeExclusive: Invariant = {
  name: 'persist-node-exclusive',
  summary: "while a device is bound to kmem with the series, every online block of its node is the device's own",
  kernel: 'RFC 2/4 dev_dax_kmem_probe ("rejecting DAX region on numa_node with existing memory"), enforced only at probe',
  appliesTo: applies,
  check: (ctx) => {
    const t = ctx.step.event.type;
    // Block I/O moves no memory between nodes.
    if (ctx.before !== null && !ctx.full && ctx.changedBlocks.length === 0 && (ctx.before.devices === ctx.after.devices || t === 'pwrite' || t === 'ioctl')) return [];
    const out: string[] = [];
    const s = ctx.after;
    for (const { dev, p } of persistDevices(s)) {
      if (dev.driver !== 'kmem') continue;
      for (const [id, b] of s.blocks.entries()) {
        if (b.nid !== p.nid || b.state !== 'online') continue;
        const start = BigInt(id) * s.blockSize;
        if (!p.ranges.some((r) => r !== null && start >= r.start && start <= r.end)) {
          out.push(`${dev.name}: memory${id} is online on node ${p.nid} and not the device's`);
          break;
        }
      }
    }
    return out;
  },
  culprit: () => 'dev_dax_kmem_probe',
};

export const PERSIST_INVARIANTS: readonly Invariant[] = [
  persistPagePartition,
  persistIndexWellformed,
  persistNeverFreeLiveData,
  persistAccounting,
  persistWriteAllocation,
  persistSuperblock,
  persistDisk,
  persistTypeRefcount,
  persistNodeExclusive,
  persistReadYourWrites,
];
