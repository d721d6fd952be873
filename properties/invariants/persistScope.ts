/**
 * What every kmem-persist invariant (persist.ts, persistReadYourWrites.ts)
 * starts from: which kernels they judge, the persistent devices of a state,
 * and the disk an fd names.
 */
import type { KmemPersistInstance } from '../../src/kernel/dax/kmemPersistTypes.js';
import type { DaxDevice, KernelState } from '../../src/kernel/state.js';

/** Kernels with the kmem-persist series (boot.patches), the only ones whose devices can be persistent. */
export const applies = (s: KernelState): boolean => s.profile.kmemPersist;

/** The devices kmem probed with a persistence instance, each with it. */
export function persistDevices(s: KernelState): Array<{ readonly dev: DaxDevice; readonly p: KmemPersistInstance }> {
  const out: Array<{ dev: DaxDevice; p: KmemPersistInstance }> = [];
  for (const dev of s.devices) if (dev.kmem?.persist !== undefined) out.push({ dev, p: dev.kmem.persist });
  return out;
}

/** The kmem<node> disk a process's fd has open, by device name, or null (another file, or none). */
export function fdDevice(s: KernelState, pid: string, fd: string): string | null {
  const id = s.mm.procs.get(pid)?.fds.get(fd);
  const f = id === undefined ? undefined : s.mm.files.get(id);
  return f !== undefined && f.driver === 'kmemblk' ? f.dev : null;
}
