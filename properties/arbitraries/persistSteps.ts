/**
 * Steps of the kmem persistence series (SPEC §10), drawn when a machine has
 * `boot.patches: ["kmem-persist"]`: the module parameter, the disk
 * kmem<node> opened and read, written, discarded and zeroed in whole 4 KiB
 * blocks (near the start, around the bitmap words' 32-page halves, and at
 * the end), and reboots. Driver binds and unbinds, online types and
 * auto_online_blocks come from the ordinary steps.
 */
import { kmemDisks, kmemDiskBytes } from '../../src/kernel/block/kmemDisk.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { nodeHasMemory } from '../../src/kernel/dax/kmemPersist.js';
import { daxKmemRange } from '../../src/kernel/dax/kmem.js';
import { mappedEntries } from '../../src/kernel/dax/kmemBlk.js';
import type { KmemPersistInstance } from '../../src/kernel/dax/kmemPersistTypes.js';

const PARAM = '/sys/module/kmem/parameters/persist_format_type';
/** The disk's fd handle, apart from the dax files' f1/f2. */
const FD = 'b1';
const PID = 'p1';
const DAX = '/sys/bus/dax';

function pick<T>(xs: readonly T[], n: number): T {
  return xs[n % xs.length] as T;
}

/** Blocks worth aiming at: the first ones, both halves of a 64-page bitmap word, and the disk's last blocks. */
function blockOffsets(size: bigint): bigint[] {
  const blocks = size / 4096n;
  const near = [0n, 1n, 2n, 31n, 32n, 33n, 63n, 64n, 100n, blocks - 2n, blocks - 1n];
  return near.filter((b) => b >= 0n).map((b) => b * 4096n);
}

/**
 * Devices worth driving toward kmem: a target node without memory but their
 * own (the node check), a range kmem can add, and not already stuck with no
 * instance; persistent (pmem) ones listed twice.
 */
function eligible(s: KernelState): string[] {
  const out: string[] = [];
  for (const d of s.devices) {
    if (d.targetNode < 0) continue;
    const p = d.kmem?.persist;
    if (p === undefined ? nodeHasMemory(s, d.targetNode) : p.type === null && d.driver === 'kmem') continue;
    if (!d.ranges.some((r) => daxKmemRange(s.blockSize, r) !== null)) continue;
    out.push(d.name);
    if (s.regions.find((r) => r.id === d.regionId)?.kind === 'pmem') out.push(d.name);
  }
  return out;
}

/** The next driver operation that moves an eligible device towards kmem: off device_dax, onto kmem, or (rarely) off kmem. */
function driverStep(s: KernelState, y: number): StepEvent | null {
  const names = eligible(s);
  if (names.length === 0) return null;
  const name = pick(names, y >> 2);
  const dev = s.devices.find((d) => d.name === name);
  if (dev === undefined) return null;
  if (dev.driver === 'device_dax') return { type: 'write', path: `${DAX}/drivers/device_dax/unbind`, value: name, raw: false };
  if (dev.driver === null) {
    // Mostly with a format type set first: a bind with the default -1 leaves every page held (finding P1).
    if (s.kmemPersist.formatType === -1 && (y >> 6) % 4 !== 0) return { type: 'write', path: PARAM, value: pick(['1', '1', '0'], y >> 8), raw: false };
    // A static (pmem) region's device matches kmem only by id: new_id; bind works for the kmem-type regions (v6.3+).
    const byId = s.regions.find((r) => r.id === dev.regionId)?.isStatic !== false || (y >> 4) % 2 === 0;
    return { type: 'write', path: `${DAX}/drivers/kmem/${byId ? 'new_id' : 'bind'}`, value: name, raw: false };
  }
  return (y >> 4) % 4 === 0 ? { type: 'write', path: `${DAX}/drivers/kmem/unbind`, value: name, raw: false } : null;
}

/** Up to 8 blocks the index maps, in block order. */
function mappedBlocks(s: KernelState, p: KmemPersistInstance): number[] {
  const out: number[] = [];
  if (p.blk === null) return out;
  for (const [i] of mappedEntries(s, p, p.blk.n, p.blk.e)) {
    out.push(i);
    if (out.length >= 8) break;
  }
  return out;
}

/** A persist step, or null when the choice falls on something the state has nothing for. */
export function persistStep(s: KernelState, x: number, y: number): StepEvent | null {
  const what = x % 20;
  if (what <= 1) return { type: 'reboot' };
  if (what <= 3) return { type: 'write', path: PARAM, value: pick(['1', '1', '1', '0', '-1', '2'], y), raw: false };
  if (what <= 6) return driverStep(s, y);
  const disks = kmemDisks(s);
  if (disks.length === 0) return driverStep(s, y);
  const disk = pick(disks, y >> 4);
  const fileDev = (() => {
    const id = s.mm.procs.get(PID)?.fds.get(FD);
    const f = id === undefined ? undefined : s.mm.files.get(id);
    return f?.driver === 'kmemblk' ? f.dev : null;
  })();
  if (fileDev !== disk.dev || what === 7) {
    return { type: 'open', pid: PID, fd: FD, path: `/dev/kmem${disk.nid}`, mode: pick(['rdwr', 'rdwr', 'rdwr', 'rdonly', 'wronly'] as const, y), sync: false };
  }
  const size = kmemDiskBytes(disk.persist);
  // Half the time a block the index maps (overwritten in place, read back, discarded), else one of the usual ones.
  const mapped = (y >> 9) % 2 === 0 ? mappedBlocks(s, disk.persist) : [];
  const offset = mapped.length > 0 ? BigInt(pick(mapped, y >> 10)) * 4096n : pick(blockOffsets(size), y);
  const length = pick([4096n, 4096n, 8192n, 65536n], y >> 5);
  if (what <= 12) return { type: 'pwrite', pid: PID, fd: FD, offset, length, value: BigInt(pick([1, 0xabc, 0xdead, (y & 0xffff) + 1], y >> 7)) };
  if (what <= 16) return { type: 'pread', pid: PID, fd: FD, offset, length, value: null };
  return { type: 'ioctl', pid: PID, fd: FD, cmd: what <= 18 ? 'BLKDISCARD' : 'BLKZEROOUT', args: { start: offset, length } };
}
