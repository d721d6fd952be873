/**
 * programStep: a random program event (SPEC §7) interpreted against the
 * current state, like hotplugStep: processes p1-p3 (a free handle is a fork
 * child or a new process), fds f1-f2, maps m1-m3; lengths, offsets and
 * addresses in units of the device's align, give or take a page, so most
 * mappings succeed and the rest fail for the reasons the kernel has
 * (private, unaligned, beyond the device, read-only fd, split at a page).
 * Three smaps reads in four become an anonymous mmap (fd null, private), and
 * the steps on an anonymous mapping (anonStep) use its own units, so fuzzing reaches the
 * zero pages, first-touch allocation, THP, COW after fork and their frees.
 */
import { programVmas } from '../../src/kernel/mm/process.js';
import type { StepEvent } from '../../src/log/events.js';
import type { MapFlag, MremapFlag } from '../../src/log/programEvents.js';
import { deviceSize, type DaxDevice, type KernelState } from '../../src/kernel/state.js';

const PIDS = ['p1', 'p2', 'p3'] as const;
const FDS = ['f1', 'f2'] as const;
const MAPS = ['m1', 'm2', 'm3'] as const;
const K4 = 4096n;

function pick<T>(xs: readonly T[], n: number): T {
  return xs[n % xs.length] as T;
}

/** The device a process's fd (or map) is about: the file's device, else one picked from the machine. */
function deviceFor(s: KernelState, pid: string, fd: string, n: number): DaxDevice | undefined {
  const id = s.mm.procs.get(pid)?.fds.get(fd);
  const name = id === undefined ? undefined : s.mm.files.get(id)?.dev;
  const bound = s.devices.filter((d) => d.driver === 'device_dax');
  const pool = bound.length > 0 && n % 4 !== 0 ? bound : s.devices;
  return s.devices.find((d) => d.name === name) ?? (pool.length > 0 ? pick(pool, n >> 2) : undefined);
}

function lengths(align: bigint): readonly bigint[] {
  return [align, align, align, 2n * align, 2n * align, K4, align + K4];
}

function offsets(align: bigint, size: bigint): readonly bigint[] {
  return [0n, 0n, 0n, align, K4, size, 8n, align + 8n];
}

const MMAP_FLAGS: ReadonlyArray<readonly MapFlag[]> = [['shared'], ['shared'], ['shared'], ['shared'], ['shared'], ['private'], ['validate', 'sync'], ['shared', 'populate'], ['shared', 'fixed'], []];
const REMAP_FLAGS: ReadonlyArray<readonly MremapFlag[]> = [[], ['maymove'], ['maymove'], ['maymove', 'fixed']];
const M2 = 2n << 20n;
const ANON_FLAGS: ReadonlyArray<readonly MapFlag[]> = [['private'], ['private'], ['private'], ['private', 'populate'], ['private', 'fixed']];
/** 4 MiB and more hold a whole 2 MiB-aligned range wherever the 4 KiB-aligned mapping lands: THP can apply. */
const ANON_LENGTHS: readonly bigint[] = [4n * K4, 2n * M2, 2n * M2, M2, 2n * M2 + K4, 4n * M2];
/** The middle of a 4 MiB mapping, + 8: inside its whole 2 MiB-aligned range. */
const ANON_OFFSETS: readonly bigint[] = [0n, 8n, 3n * K4, M2 + 8n, M2 + 8n, M2 + K4, M2 - 8n];

/** An anonymous private mmap: 4 MiB and more hold a THP wherever it lands. */
function anonMmap(pid: string, map: string, someMap: string, x: number, y: number): StepEvent {
  const flags = pick(ANON_FLAGS, y >> 3);
  const addr = flags.includes('fixed') ? { map: someMap, offset: pick([0n, M2, K4], y >> 12) } : null;
  return { type: 'mmap', pid, map, fd: null, length: pick(ANON_LENGTHS, x >> 7), offset: 0n, prot: pick(['rw', 'rw', 'rw', 'r', 'none'] as const, y >> 11), flags, addr };
}

/** Whether the vma holding `addr` is anonymous. */
function isAnon(vmas: ReadonlyArray<{ readonly start: bigint; readonly end: bigint; readonly file: number | null }>, addr: bigint | undefined): boolean {
  if (addr === undefined) return false;
  for (const v of vmas) if (v.start <= addr && addr < v.end) return v.file === null;
  return false;
}

/** A step on an anonymous mapping: munmap, mprotect, madvise, mremap or a touch, sized in pages and 2 MiB ranges. */
function anonStep(s: KernelState, pid: string, map: string, kind: number, x: number, y: number): StepEvent {
  const offset = pick(ANON_OFFSETS, y >> 14);
  const range = { pid, map, offset: pick([0n, K4, M2, 0n], x >> 11), length: pick([K4, M2, 2n * K4, 4n * M2], y >> 15) };
  if (kind < 9) return { type: 'munmap', ...range };
  if (kind < 10) return { type: 'mprotect', ...range, prot: pick(['r', 'rw', 'rw', 'none'] as const, y >> 13) };
  if (kind < 11) return { type: 'madvise', ...range, advice: pick(['dontneed', 'dontneed', 'hugepage', 'nohugepage', 'dontfork', 'dofork'] as const, y >> 13) };
  if (kind < 12) return { type: 'mremap', pid, map, offset: 0n, length: pick([M2, 4n * K4], x >> 13), newLength: pick([2n * M2, M2, 8n * K4], y >> 13), flags: pick(REMAP_FLAGS.slice(0, 3), x >> 11), addr: null };
  const write = (x >> 14) % 2 === 0;
  // Forks make COW reachable: a process with anonymous pages and a free pid forks one touch in three.
  const free = PIDS.filter((p) => !s.mm.procs.has(p));
  if ((kind === 15 || kind === 16) && free.length > 0 && (s.mm.procs.get(pid)?.rssAnon ?? 0) > 0) return { type: 'fork', pid, child: pick(free, x >> 16) };
  return { type: kind < 17 ? 'access' : 'procmem', pid, map, offset, op: write ? 'write' : 'read', value: write ? BigInt((x * 2654435761) >>> 0) : null };
}

export function programStep(s: KernelState, x: number, y: number): StepEvent | null {
  if (s.devices.length === 0) return null;
  // Mostly a live process, preferring one that holds files: programs that open, map and touch.
  const live = PIDS.filter((p) => s.mm.procs.has(p));
  // Holding: files open or mappings of its own (exec's [vvar], [vdso], [stack] and text every process has).
  const holding = live.filter((p) => {
    const q = s.mm.procs.get(p);
    return q !== undefined && (q.fds.size > 0 || programVmas(q).length > 0);
  });
  const pid = holding.length > 0 && x % 3 !== 0 ? pick(holding, x >> 3) : live.length > 0 && x % 5 !== 0 ? pick(live, x >> 3) : pick(PIDS, x >> 3);
  const proc = s.mm.procs.get(pid);
  const held = proc === undefined ? [] : [...proc.fds.keys()];
  const fd = held.length > 0 && (y >> 4) % 4 !== 0 ? pick(held, y >> 5) : pick(FDS, y >> 4);
  const map = pick(MAPS, x >> 5);
  const mapped = proc === undefined ? [] : [...proc.maps.keys()];
  const someMap = mapped.length > 0 ? pick(mapped, y >> 6) : map;
  const dev = deviceFor(s, pid, fd, y);
  if (dev === undefined) return null;
  const align = dev.align;
  const size = deviceSize(dev);
  const len = pick(lengths(align), x >> 7);
  const off = pick(offsets(align, size), y >> 8);
  let kind = y % 20;
  // An operation on a mapping drawn for a process without one becomes the mmap (or the open) it needs first,
  // one time in eight left as it is (the no-mapping paths: SEGV_MAPERR, EFAULT, ENOMEM).
  if (kind >= 8 && kind < 18 && mapped.length === 0 && (x >> 17) % 8 !== 0) kind = 5;
  // On an anonymous mapping, ranges and offsets in its own units: pages and 2 MiB ranges.
  const anon = proc !== undefined && isAnon(proc.vmas, proc.maps.get(someMap));
  if (anon && kind >= 8 && kind < 18) return anonStep(s, pid, someMap, kind, x, y);
  // A program opens before it maps: an mmap drawn for an fd the process lacks is an open (but not always: EBADF is a path too).
  const opens = kind < 2 || (kind < 8 && proc?.fds.has(fd) !== true && (x >> 17) % 8 !== 0);
  if (opens) {
    const path = (x >> 16) % 16 === 0 ? '/dev/dax9.9' : `/dev/${dev.name}`;
    return { type: 'open', pid, fd, path, mode: pick(['rdwr', 'rdwr', 'rdwr', 'rdwr', 'rdwr', 'rdonly', 'wronly'] as const, x >> 9), sync: (x >> 12) % 7 === 0 };
  }
  if (kind < 3 || (kind < 4 && proc !== undefined && proc.fds.size > 0)) return { type: 'close', pid, fd: proc !== undefined && proc.fds.size > 0 ? pick([...proc.fds.keys()], x >> 9) : fd };
  if (kind < 8) {
    const flags = pick(MMAP_FLAGS, x >> 10);
    const fixed = flags.includes('fixed');
    const offset = off === 8n || off === align + 8n ? 0n : off;
    return { type: 'mmap', pid, map, fd, length: len, offset, prot: pick(['rw', 'rw', 'rw', 'r', 'none'] as const, y >> 11), flags, addr: fixed ? { map: someMap, offset: pick([0n, align, K4, 2n * align], y >> 12) } : null };
  }
  if (kind < 9) return { type: 'munmap', pid, map: someMap, offset: pick([0n, align, K4], x >> 11), length: len };
  if (kind < 10) return { type: 'mprotect', pid, map: someMap, offset: pick([0n, align, K4], x >> 11), length: len, prot: pick(['r', 'rw', 'none'] as const, y >> 13) };
  if (kind < 11) return { type: 'madvise', pid, map: someMap, offset: pick([0n, 0n, align, K4], x >> 11), length: len, advice: pick(['nohugepage', 'nohugepage', 'hugepage', 'dontneed', 'dontfork', 'dofork', 'hwpoison'] as const, y >> 13) };
  if (kind < 12) {
    const flags = pick(REMAP_FLAGS, x >> 11);
    return { type: 'mremap', pid, map: someMap, offset: pick([0n, 0n, align, K4], y >> 13), length: len, newLength: pick([2n * align, align, align + K4, 4n * align], x >> 13), flags, addr: flags.includes('fixed') ? { map: someMap, offset: 8n * align } : null };
  }
  if (kind < 18) {
    const write = (x >> 14) % 2 === 0;
    const offset = pick([0n, 8n, align, align + 8n, 2n * align - 8n, K4 * 3n, size], y >> 14);
    // One procmem in three is a KVM or VFIO user of the same word's page instead (follow_pfn, model-only).
    if (kind === 17 && (y >> 18) % 3 === 0) return { type: 'follow_pfn', pid, map: someMap, offset, op: write ? 'write' : 'read', user: (x >> 20) % 2 === 0 ? 'kvm' : 'vfio' };
    return { type: kind < 17 ? 'access' : 'procmem', pid, map: someMap, offset, op: write ? 'write' : 'read', value: write ? BigInt((x * 2654435761) >>> 0) : null };
  }
  // Three smaps reads in four are an anonymous private mmap instead (issue 12): first touches, the zero pages, THP, COW
  // after fork. Drawn here rather than among the device mmaps, which keeps the device paths' share.
  if (kind < 19 && (x >> 19) % 2 === 0 && (y >> 16) % 4 !== 0) return anonMmap(pid, map, someMap, x, y);
  if (kind < 19 && (x >> 19) % 2 === 0) return { type: 'read', path: `/proc/${pid}/smaps` };
  if (kind < 19) {
    const free = PIDS.filter((p) => !s.mm.procs.has(p) && p !== pid);
    if (free.length === 0 || proc === undefined || (x >> 15) % 2 === 0) return { type: 'access', pid, map: someMap, offset: off, op: 'read', value: null };
    return { type: 'fork', pid, child: pick(free, x >> 16) };
  }
  return (x >> 15) % 2 === 0 ? { type: 'exit', pid } : { type: 'access', pid, map: someMap, offset: 0n, op: 'write', value: BigInt(y) };
}
