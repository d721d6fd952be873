/**
 * Program events for the differential fuzzer over test_hmm (`memhp kernel
 * fuzz --hmm`, on a kernel that builds it: `--kernel custom:hmm`):
 * processes that open /dev/hmm_dmirror0 and 1, map small private anonymous
 * buffers, touch them, fork, exit, mprotect, munmap and MADV_DONTNEED them,
 * and send the dmirror commands the model mirrors (READ, WRITE, SNAPSHOT,
 * EXCLUSIVE, CHECK_EXCLUSIVE, RELEASE) over them. Mappings stay under 2 MiB, so where
 * the kernel places them (which the model does not know: vvar, vdso and the
 * helper's own mappings) cannot decide whether a fault maps a THP. For the
 * same reason every address a step names lies inside the vma its mapping
 * starts (what follows a vma in the guest is not what follows it in the
 * model: `kernel fuzz --hmm` seed 1201 diverged three times on addresses
 * past a mapping's end, a harness bug of this generator, fixed here).
 * MIGRATE_* are left out here (the scripted logs record them). EXCLUSIVE's
 * range lies inside the vma too: get_user_pages of a page past it would
 * fault in whatever the guest has there.
 */
import type { ProgramEvent } from '../log/events.js';
import type { KernelState } from '../kernel/state.js';
import type { Rng } from './generate.js';

const K = 4096n;
const LENGTHS = [K, 4n * K, 16n * K, 64n * K, 256n * K];
const MAPS = ['m1', 'm2', 'm3'];
const CMDS = ['HMM_DMIRROR_READ', 'HMM_DMIRROR_WRITE', 'HMM_DMIRROR_SNAPSHOT', 'HMM_DMIRROR_EXCLUSIVE', 'HMM_DMIRROR_CHECK_EXCLUSIVE', 'HMM_DMIRROR_RELEASE'] as const;

/** One test_hmm program event for the state the model is in. */
export function hmmProgramStep(g: Rng, state: KernelState): ProgramEvent {
  const procs = state.mm.procs;
  const alive = [...procs.keys()];
  const pid = alive.length > 0 && g.next() < 0.85 ? g.pick(alive) : 'p1';
  const p = procs.get(pid);
  const maps = p === undefined ? [] : [...p.maps.keys()];
  const fds = p === undefined ? [] : [...p.fds.keys()];
  // Pages available from a mapping's address to the end of the vma there (0: nothing mapped there).
  // A handle counts only where a vma starts at its address: one whose mapping went may name the middle of a
  // vma the model placed over its hole, where the guest placed that vma elsewhere (seed 1205 run 4).
  const room = (m: string): number => {
    const base = p?.maps.get(m);
    const v = base === undefined ? undefined : p?.vmas.find((x) => x.start === base);
    return base === undefined || v === undefined ? 0 : Number((v.end - base) / K);
  };
  // A handle whose mapping went names a hole the guest may have filled since (the kernel reuses holes the
  // model's placement does not: seed 1202 run 8): steps name live mappings, or `m9`, never mapped (address 0).
  const live = maps.filter((m) => room(m) > 0);
  const map = live.length > 0 && g.next() < 0.9 ? g.pick(live) : 'm9';
  const avail = room(map);
  // An offset in pages inside the vma (any small one where nothing is mapped: nothing is there in the guest either).
  const page = (n: number) => BigInt(g.int(0, Math.max(0, Math.min(n, avail - 1)))) * K;
  const kind = g.weighted([
    [fds.length === 0 ? 40 : 3, 'open'],
    [2, 'close'],
    [live.length < 2 ? 40 : 8, 'mmap'],
    [3, 'munmap'],
    [5, 'mprotect'],
    [4, 'madvise'],
    [25, 'access'],
    [live.length === 0 || fds.length === 0 ? 0 : 40, 'ioctl'],
    [procs.has('p2') ? 0 : 4, 'fork'],
    [procs.has('p2') ? 4 : 0, 'exit'],
  ] as const);
  switch (kind) {
    case 'open':
      return { type: 'open', pid, fd: g.pick(['f1', 'f2']), path: g.pick(['/dev/hmm_dmirror0', '/dev/hmm_dmirror0', '/dev/hmm_dmirror1']), mode: 'rdwr', sync: false };
    case 'close':
      return { type: 'close', pid, fd: fds.length > 0 ? g.pick(fds) : 'f1' };
    case 'mmap':
      return { type: 'mmap', pid, map: g.pick(MAPS), fd: null, length: g.pick(LENGTHS), offset: 0n, prot: g.weighted([[85, 'rw'], [10, 'r'], [5, 'none']] as const), flags: ['private'], addr: null };
    case 'munmap':
      return { type: 'munmap', pid, map, offset: page(3), length: K };
    case 'mprotect':
      return { type: 'mprotect', pid, map, offset: page(3), length: K, prot: g.pick(['r', 'rw', 'none'] as const) };
    case 'madvise':
      return { type: 'madvise', pid, map, offset: page(3), length: K, advice: 'dontneed' };
    case 'access': {
      const write = g.next() < 0.5;
      return { type: 'access', pid, map, offset: page(63) + BigInt(g.int(0, 3)) * 8n, op: write ? 'write' : 'read', value: write ? BigInt(g.int(1, 0x7fffffff)) : null };
    }
    case 'ioctl': {
      const cmd = g.pick(CMDS);
      const at = page(15);
      // The range and the buffer both end inside their vmas: READ/WRITE/EXCLUSIVE copy npages pages, SNAPSHOT npages bytes.
      const fits = [1, 2, 4, 8].filter((n) => avail === 0 || Number(at / K) + n <= avail);
      const npages = g.pick(fits.length > 0 ? fits : [1]);
      const need = cmd === 'HMM_DMIRROR_SNAPSHOT' ? 1 : npages;
      // A buffer with room for the copy, or one where nothing is mapped (EFAULT at its first page in both).
      const roomy = maps.filter((m) => room(m) >= need);
      const ptrMap = roomy.length > 0 ? g.pick(roomy) : 'm9';
      const ptrRoom = room(ptrMap);
      const ptrOff = ptrRoom >= need ? BigInt(g.int(0, ptrRoom - need)) * K : 0n;
      return { type: 'ioctl', pid, fd: g.pick(fds), cmd, args: { addr: { map, offset: at }, npages: BigInt(npages), ptr: { map: ptrMap, offset: ptrOff } } };
    }
    case 'fork':
      return { type: 'fork', pid, child: 'p2' };
    case 'exit':
      return { type: 'exit', pid: 'p2' };
  }
}
