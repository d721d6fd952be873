/**
 * Steps of test_hmm's migration (issue 12), drawn on machines whose config
 * builds test_hmm (the HMM variants' machines): like programStep, an
 * operation drawn before what it needs exists becomes that first — the
 * device file opened, an anonymous buffer mapped, pages migrated — so
 * random sequences reach device-private entries within a few steps and
 * then fork, mprotect, unmap, touch and migrate them back in any order.
 * The operations are properties/alphabet/hmmMigrate.ts's and hmm.ts's.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { hmmEvents } from '../alphabet/hmm.js';
import { hmmMigrateEvents } from '../alphabet/hmmMigrate.js';

function pick<T>(xs: readonly T[], n: number): T {
  return xs[n % xs.length] as T;
}

/** Whether p1 maps any page of m1 through a device-private entry. */
function hasDeviceEntries(s: KernelState): boolean {
  const p = s.mm.procs.get('p1');
  const m1 = p?.maps.get('m1');
  if (p === undefined || m1 === undefined) return false;
  return p.vmas.some((v) => v.file === null && v.start <= m1 && m1 < v.end && [...v.ptes.entries()].some(([, pte]) => pte.anon?.kind === 'device'));
}

export function hmmStep(s: KernelState, x: number, y: number): StepEvent | null {
  if (s.config.testHmm === 'n' || !s.hmm.loaded) return null;
  const all = [...hmmEvents(s), ...hmmMigrateEvents(s).slice(1)];
  const p1 = s.mm.procs.get('p1');
  // One time in eight anything, in any state (the refused paths: EBADF, EINVAL on no vma, ENOTTY...).
  if ((x >> 3) % 8 !== 0) {
    const need = (pred: (e: StepEvent) => boolean): StepEvent | undefined => all.find(pred);
    if (p1?.fds.has('h0') !== true) return need((e) => e.type === 'open' && e.fd === 'h0') ?? null;
    // Either buffer: the small one, or the 4 MiB one that holds a THP (whose splits and PTE-mapped pages collect meets).
    if (p1.maps.get('m1') === undefined) return pick(all.filter((e) => e.type === 'mmap' && e.map === 'm1'), y >> 5) ?? null;
    if (!hasDeviceEntries(s) && (x >> 6) % 2 === 0) return need((e) => e.type === 'ioctl' && e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' && e.args.npages === 4n) ?? null;
  }
  // With pages on the device, one step in four is a command of either device over them (the owner reads its
  // own pages, the other device faults them back: KERNEL-FACTS-HMM §5.3).
  if ((x >> 12) % 4 === 0 && hasDeviceEntries(s)) {
    const fd = (y >> 2) % 2 === 0 ? 'h0' : 'h1';
    const path = fd === 'h0' ? '/dev/hmm_dmirror0' : '/dev/hmm_dmirror1';
    if (p1?.fds.has(fd) !== true) return { type: 'open', pid: 'p1', fd, path, mode: 'rdwr', sync: false };
    const cmd = pick(['HMM_DMIRROR_READ', 'HMM_DMIRROR_WRITE', 'HMM_DMIRROR_SNAPSHOT', 'HMM_DMIRROR_MIGRATE_TO_SYS'] as const, y >> 3);
    return { type: 'ioctl', pid: 'p1', fd, cmd, args: { addr: { map: 'm1', offset: 0n }, npages: 2n, ptr: { map: 'm2', offset: 0n } } };
  }
  const e = pick(all, y);
  // A command on a file p1 has not opened becomes its open, a step of the child before the fork the fork
  // (one time in eight left as drawn, as above).
  if ((x >> 9) % 8 !== 0 && e.type === 'ioctl' && p1?.fds.has(e.fd) !== true) return all.find((o) => o.type === 'open' && o.fd === e.fd) ?? e;
  if ((x >> 9) % 8 !== 0 && (e.type === 'access' || e.type === 'exit') && e.pid === 'p2' && !s.mm.procs.has('p2')) return all.find((o) => o.type === 'fork') ?? e;
  return e;
}
