/**
 * Program events (SPEC §7) in the alphabet, over a small, fixed set of
 * handles so the state space stays finite:
 *
 * - processes p1 and p2: p1 comes into being with its first open (SPEC §7:
 *   a process exists from its first use), p2 only as p1's fork child;
 * - one fd handle per dax device (`f1` for the machine's first device,
 *   `f2` for its second, ...), opened O_RDWR;
 * - one map handle, m1: an mmap rebinds it once its mapping is gone, and a
 *   MAP_FIXED inside its mapping rebinds it too (the part it leaves stays
 *   mapped, nameless, until munmap of the whole or exit). A second handle
 *   was tried: the same preset then passed 117,000 states at depth 13
 *   without being exhausted, against 4,930 states in all with one.
 *
 * Per state only what means something there: open a device's node while
 * the fd is not held (bound or not: ENXIO and B1's stale open are paths),
 * close a held fd; mmap a held fd (shared with a length of two align
 * units, shared with an unaligned length, private); for the live handle:
 * loads at its start, at the last word before the first align boundary and
 * at that boundary, a store at its start, a /proc/PID/mem read; munmap of
 * the whole mapping and of one align unit (an aligned split), munmap,
 * mprotect(PROT_READ) and madvise(MADV_NOHUGEPAGE) of the first align unit
 * and of the second page (an unaligned split), mremap shrinking to one
 * unit, growing the first unit and the first page (both must move: a split
 * at an aligned and at an unaligned point); MAP_FIXED one align unit in,
 * with an aligned and an unaligned file offset (B3); then fork, exit, and
 * /proc/PID/smaps.
 *
 * Bounds: after the fork both processes only open, close, touch and exit
 * (were they to map as well, each state of one would meet each of the
 * other); a fork, a placement (a plain mmap, a moving mremap) need a
 * process of at most MAX_PLACED vmas, a split one of fewer than MAX_VMAS.
 * Addresses: a placement lands below the lowest mapping, so map/unmap
 * cycles would walk down the address space forever; placements are
 * offered only while every vma lies within WINDOW align units below
 * mmap_base, so the addresses a search reaches are finite and the
 * fingerprint keeps them as they are (no translation to argue about).
 */
import { MMAP_BASE } from '../../src/kernel/mm/getUnmappedArea.js';
import { NEW_PROCESS, programVmas } from '../../src/kernel/mm/process.js';
import type { Process } from '../../src/kernel/mm/types.js';
import { deviceSize, type DaxDevice, type KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import type { MapFlag, ProgramEvent } from '../../src/log/programEvents.js';
import { read } from './events.js';
import type { OperationGenerator } from './types.js';

export const PROGRAM_PIDS = ['p1', 'p2'] as const;
export const PROGRAM_MAPS = ['m1'] as const;
/** Most vmas a process may have for the alphabet to offer an operation that may add one (a split, a placement). */
export const MAX_VMAS = 2;
/** Most vmas a process may have for a placement (mmap without MAP_FIXED, a moving mremap) or a fork. */
export const MAX_PLACED = 1;
/** Placements are offered while every vma lies within this many align units below mmap_base. */
export const WINDOW = 8n;
const K4 = 4096n;
/** The word every store writes (one value: which words were written is what tells states apart). */
export const STORE_VALUE = 0x5an;

/** The fd handle of the machine's `i`th device. */
export function fdHandle(i: number): string {
  return `f${i + 1}`;
}

/** The address range of the vma holding `addr`, or null: a map handle is live when its address is mapped. */
function liveRange(p: Process, addr: bigint | undefined): { readonly end: bigint; readonly file: number | null } | null {
  if (addr === undefined || addr === 0n) return null;
  for (const v of p.vmas) if (v.start <= addr && addr < v.end) return { end: v.end, file: v.file };
  return null;
}

/** Whether a placement may be offered: few vmas, all near mmap_base (see the header). */
function placementRoom(p: Process, align: bigint): boolean {
  if (programVmas(p).length > MAX_PLACED) return false;
  const lowest = programVmas(p)[0]?.start ?? MMAP_BASE;
  return lowest >= MMAP_BASE - WINDOW * align;
}

function deviceOfFile(s: KernelState, file: number): DaxDevice | undefined {
  const f = s.mm.files.get(file);
  return f === undefined ? undefined : s.devices.find((d) => d.name === f.dev);
}

/** open of each device's fd handle the process does not hold, close of each it holds. */
function fdOps(s: KernelState, pid: string, p: Process, out: ProgramEvent[]): void {
  s.devices.forEach((d, i) => {
    const fd = fdHandle(i);
    out.push(p.fds.has(fd) ? { type: 'close', pid, fd } : { type: 'open', pid, fd, path: `/dev/${d.name}`, mode: 'rdwr', sync: false });
  });
}

/** Each live map handle with its mapping's align and how much of the vma lies from it on. */
function liveMaps(s: KernelState, p: Process): Array<{ readonly map: string; readonly align: bigint; readonly rest: bigint; readonly dev: DaxDevice | undefined }> {
  const out: Array<{ map: string; align: bigint; rest: bigint; dev: DaxDevice | undefined }> = [];
  for (const map of PROGRAM_MAPS) {
    const at = p.maps.get(map);
    const live = liveRange(p, at);
    if (at === undefined || live === null) continue;
    const dev = live.file === null ? undefined : deviceOfFile(s, live.file);
    out.push({ map, align: dev?.align ?? K4, rest: live.end - at, dev });
  }
  return out;
}

/**
 * Loads at the handle's start, at the last word before the first align
 * boundary and at that boundary (a fault in each of the first two units, at
 * either end of the first); one store, at the start; a /proc/PID/mem read.
 * Stores elsewhere would only multiply the states by which words hold the
 * value (memory contents outlive mappings and processes) without reaching
 * another kernel path.
 */
function touchOps(s: KernelState, pid: string, p: Process, out: ProgramEvent[]): void {
  for (const { map, align: a, rest } of liveMaps(s, p)) {
    for (const offset of [0n, a - 8n, a]) if (offset < rest) out.push({ type: 'access', pid, map, offset, op: 'read', value: null });
    out.push({ type: 'access', pid, map, offset: 0n, op: 'write', value: STORE_VALUE }, { type: 'procmem', pid, map, offset: 0n, op: 'read', value: null });
  }
}

/** The calls that make, split, move and unmap mappings (see the header for which). */
function mmOps(s: KernelState, pid: string, p: Process, out: ProgramEvent[]): void {
  // The lowest map handle naming no live mapping: where the next mmap goes.
  const free = PROGRAM_MAPS.find((m) => liveRange(p, p.maps.get(m)) === null);
  s.devices.forEach((d, i) => {
    const fd = fdHandle(i);
    if (!p.fds.has(fd) || free === undefined || !placementRoom(p, d.align)) return;
    const a = d.align;
    const two = 2n * a <= deviceSize(d) ? 2n * a : a;
    const mmap = (length: bigint, flags: readonly MapFlag[]): ProgramEvent => ({ type: 'mmap', pid, map: free, fd, length, offset: 0n, prot: 'rw', flags, addr: null });
    out.push(mmap(two, ['shared']), mmap(a + K4, ['shared']), mmap(a, ['private']));
  });
  for (const { map, align: a, rest, dev } of liveMaps(s, p)) {
    // Sub-ranges: one align unit from the handle (an aligned split when more follows) and the second page
    // (an unaligned split); munmap also the whole mapping from the handle.
    out.push({ type: 'munmap', pid, map, offset: 0n, length: rest });
    if (rest > a) out.push({ type: 'munmap', pid, map, offset: 0n, length: a });
    if (programVmas(p).length < MAX_VMAS) {
      out.push({ type: 'munmap', pid, map, offset: K4, length: K4 });
      out.push({ type: 'mprotect', pid, map, offset: 0n, length: a, prot: 'r' }, { type: 'mprotect', pid, map, offset: K4, length: K4, prot: 'r' });
      out.push({ type: 'madvise', pid, map, offset: 0n, length: a, advice: 'nohugepage' }, { type: 'madvise', pid, map, offset: K4, length: K4, advice: 'nohugepage' });
    }
    if (rest > a) out.push({ type: 'mremap', pid, map, offset: 0n, length: rest, newLength: a, flags: [], addr: null });
    if (placementRoom(p, a)) {
      // Part of the mapping, grown: it cannot grow in place (the rest of the vma follows), so it moves.
      if (rest > a) out.push({ type: 'mremap', pid, map, offset: 0n, length: a, newLength: 2n * a, flags: ['maymove'], addr: null });
      out.push({ type: 'mremap', pid, map, offset: 0n, length: K4, newLength: 2n * K4, flags: ['maymove'], addr: null });
    }
    // MAP_FIXED one align unit into this mapping, from the same fd if still held (under the free handle, else
    // this one): with an aligned file offset, and with an unaligned one (check_vma does not look at it: B3).
    const fdIdx = dev === undefined ? -1 : s.devices.indexOf(dev);
    const fd = fdIdx < 0 ? undefined : fdHandle(fdIdx);
    if (fd !== undefined && p.fds.has(fd) && 2n * a <= rest) {
      for (const offset of [0n, K4]) out.push({ type: 'mmap', pid, map: free ?? map, fd, length: a, offset, prot: 'rw', flags: ['shared', 'fixed'], addr: { map, offset: a } });
    }
  }
}

export const programOps: OperationGenerator = {
  name: 'program',
  inputs: (s) => [s.mm, s.devices],
  // Faults that program paths meet (none of the INJECT_SITES is on them): nothing to offer while one is pending.
  reachesFaults: false,
  byDefault: false,
  summary: 'programs (SPEC §7) over p1 and its fork child p2, one fd per device, map handle m1: open, close, mmap (2 align units, unaligned, private, MAP_FIXED), load/store, /proc/PID/mem, munmap/mprotect/madvise/mremap split at aligned and unaligned points, fork, exit',
  onRealKernel: true,
  ops(s) {
    if (s.devices.length === 0) return [];
    const out: ProgramEvent[] = [];
    const reads: StepEvent[] = [];
    // After the fork both processes only open, close, touch and exit: were they to map and unmap as well,
    // every state of one would meet every state of the other (p1's mappings at the fork are what p2 has).
    const forked = s.mm.procs.has('p2');
    for (const pid of PROGRAM_PIDS) {
      const p = s.mm.procs.get(pid);
      if (p === undefined) {
        // p1 starts with an open (SPEC §7: a process exists from its first use); p2 only as p1's fork child.
        if (pid === 'p1') fdOps(s, pid, NEW_PROCESS, out);
        continue;
      }
      fdOps(s, pid, p, out);
      touchOps(s, pid, p, out);
      if (!forked) mmOps(s, pid, p, out);
      // Only a p1 with at most one vma forks (the child's mappings are p1's then).
      if (pid === 'p1' && !forked && programVmas(p).length <= MAX_PLACED) out.push({ type: 'fork', pid, child: 'p2' });
      out.push({ type: 'exit', pid });
      reads.push(read(`/proc/${pid}/smaps`));
    }
    return [...out, ...reads];
  },
};
