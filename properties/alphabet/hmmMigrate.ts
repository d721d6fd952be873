/**
 * Migration to test_hmm's device-private memory and back (issue 12;
 * src/kernel/mm/migrateDevice.ts, src/kernel/hmm/dmirrorMigrate.ts): p1's
 * anonymous buffers m1 (65 pages, or 4 MiB for a THP) and m2 (the commands'
 * `ptr`), a touch of each kind, fork and the child's write (copy-on-write
 * over device-private entries), the child's exit, mprotect(PROT_READ),
 * munmap and MADV_DONTNEED of a page, MIGRATE_TO_DEV and MIGRATE_TO_SYS of
 * m1's first 4 pages on /dev/hmm_dmirror0 (fd h0), and
 * READ of them on /dev/hmm_dmirror0 itself and on /dev/hmm_dmirror1 (fd h1:
 * the other device, whose hmm_range_fault faults them back); EXCLUSIVE of
 * m1's first 66 pages (src/kernel/hmm/dmirrorExclusive.ts: a full window of
 * 64, then a second window running past the 65-page buffer, get_user_pages
 * stopping in it) and CHECK_EXCLUSIVE of its first 4. Only on a machine whose config builds
 * test_hmm; not in the default alphabet (a preset or --ops names it).
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import type { OperationGenerator } from './types.js';

const K4 = 4096n;

/** Every migration-side operation offered in `s`. */
export function hmmMigrateEvents(s: KernelState): StepEvent[] {
  if (s.config.testHmm === 'n') return [];
  const cmd = (fd: string, c: 'HMM_DMIRROR_MIGRATE_TO_DEV' | 'HMM_DMIRROR_MIGRATE_TO_SYS' | 'HMM_DMIRROR_READ' | 'HMM_DMIRROR_EXCLUSIVE' | 'HMM_DMIRROR_CHECK_EXCLUSIVE', npages: bigint): StepEvent => ({
    type: 'ioctl',
    pid: 'p1',
    fd,
    cmd: c,
    args: { addr: { map: 'm1', offset: 0n }, npages, ptr: { map: 'm2', offset: 0n } },
  });
  // The child: forked while there is none (a handle in use cannot be a fork's child), then written and exited.
  const child = s.mm.procs.has('p2');
  return [
    { type: 'open', pid: 'p1', fd: 'h0', path: '/dev/hmm_dmirror0', mode: 'rdwr', sync: false },
    { type: 'mmap', pid: 'p1', map: 'm1', fd: null, length: 65n * K4, offset: 0n, prot: 'rw', flags: ['private'], addr: null },
    cmd('h0', 'HMM_DMIRROR_MIGRATE_TO_DEV', 4n),
    ...(child ? [] : [{ type: 'fork', pid: 'p1', child: 'p2' } as const]),
    { type: 'mprotect', pid: 'p1', map: 'm1', offset: 0n, length: 2n * K4, prot: 'r' },
    { type: 'munmap', pid: 'p1', map: 'm1', offset: 0n, length: K4 },
    { type: 'open', pid: 'p1', fd: 'h1', path: '/dev/hmm_dmirror1', mode: 'rdwr', sync: false },
    cmd('h1', 'HMM_DMIRROR_READ', 2n),
    cmd('h0', 'HMM_DMIRROR_READ', 2n),
    cmd('h0', 'HMM_DMIRROR_MIGRATE_TO_SYS', 4n),
    { type: 'mmap', pid: 'p1', map: 'm2', fd: null, length: 4n * K4, offset: 0n, prot: 'rw', flags: ['private'], addr: null },
    { type: 'mmap', pid: 'p1', map: 'm1', fd: null, length: 4n << 20n, offset: 0n, prot: 'rw', flags: ['private'], addr: null },
    { type: 'access', pid: 'p1', map: 'm1', offset: K4, op: 'write', value: 0x5an },
    { type: 'access', pid: 'p1', map: 'm1', offset: 0n, op: 'read', value: null },
    ...(child ? [{ type: 'access', pid: 'p2', map: 'm1', offset: K4, op: 'write', value: 0xa5n } as const, { type: 'exit', pid: 'p2' } as const] : []),
    { type: 'madvise', pid: 'p1', map: 'm1', offset: K4, length: K4, advice: 'dontneed' },
    cmd('h0', 'HMM_DMIRROR_EXCLUSIVE', 66n),
    cmd('h0', 'HMM_DMIRROR_CHECK_EXCLUSIVE', 4n),
  ];
}

export const hmmMigrateOps: OperationGenerator = {
  name: 'hmm-migrate',
  summary: "migration to test_hmm's device memory and back: anonymous buffers, touches, fork and the child's write, mprotect, munmap, MADV_DONTNEED, MIGRATE_TO_DEV/SYS on /dev/hmm_dmirror0, READ on /dev/hmm_dmirror1, EXCLUSIVE and CHECK_EXCLUSIVE (machines with config.testHmm only)",
  onRealKernel: true,
  reachesFaults: false,
  byDefault: false,
  inputs: (s: KernelState) => [s.hmm, s.mm],
  ops: (s) => hmmMigrateEvents(s),
};
