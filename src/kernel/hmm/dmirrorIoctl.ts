/**
 * The dmirror commands (lib/test_hmm.c, Debian linux-source-6.1 6.1.192):
 * dmirror_fops_unlocked_ioctl's checks common to every command, and the
 * commands whose result the model can give exactly today.
 *
 * Addresses: the log names `addr` and `ptr` by the caller's mappings (the
 * guest helper computes them in the calling process), and the driver looks
 * `addr` up in the mm the file was opened by (dmirror->notifier.mm): after a
 * fork, a child that uses the inherited fd still works on its parent's mm.
 *
 * Modelled: the common EINVALs; MIGRATE_TO_DEV / MIGRATE_TO_SYS up to
 * migrate_vma_setup, which refuses every vma the model has today (device-dax
 * vmas: vma_is_dax; map=none vmas: VM_PFNMAP, in VM_SPECIAL); CHECK_EXCLUSIVE
 * (no device-page-table entry is ever ATOMIC while EXCLUSIVE is not
 * modelled, so it scans and returns 0); RELEASE (every chunk of the device
 * evicted and released). Not yet (issue 12): READ, WRITE, SNAPSHOT and
 * EXCLUSIVE, which walk the page table with hmm_range_fault and keep the
 * device page table, and migration of anonymous pages. They answer ENOTTY
 * under a `not-modelled` branch, an answer no kernel gives, so a recorded
 * log shows them as divergences rather than as agreement.
 */
import type { Outcome } from '../../log/events.js';
import { isBlockIoctl, type DmirrorIoctlEvent, type IoctlEvent } from '../../log/programEvents.js';
import type { Op } from '../op.js';
import { mapAddress, processOf, vmaAt } from '../mm/process.js';
import type { OpenFile, Process, Vma } from '../mm/types.js';
import { withState } from '../state.js';
import { dmirrorDeviceRemoveChunks } from './testHmm.js';

const U64 = (1n << 64n) - 1n;
const PAGE_SHIFT = 12n;
/** ARRAY_SIZE(src_pfns): the migrate commands work in windows of 64 pages. */
const WINDOW = 64n << PAGE_SHIFT;

function fail(op: Op, fn: string, errno: 'EINVAL' | 'ENOTTY', why?: string): Outcome {
  op.branch(fn, why === undefined ? errno : `${errno}(${why})`);
  return { ok: false, errno };
}

function done(cpages: bigint, faults: bigint): Outcome {
  return { ok: true, out: { cpages: Number(cpages), faults: Number(faults) } };
}

/**
 * @kernel dmirror_fops_unlocked_ioctl lib/test_hmm.c — copy the struct in
 * (a block command's range[2] is copied as the first words of one, then
 * its number matches no case: EINVAL), `addr` page aligned and
 * `addr + (npages << PAGE_SHIFT)` above it in 64 bits (EINVAL: npages 0 or a
 * wrap), then the command; an error copies nothing back.
 */
export function dmirrorFopsUnlockedIoctl(op: Op, file: OpenFile, e: IoctlEvent): Outcome {
  if (isBlockIoctl(e)) return fail(op, 'dmirror_fops_unlocked_ioctl', 'EINVAL');
  const caller = processOf(op, e.pid);
  const addr = (mapAddress(caller, e.args.addr.map) + e.args.addr.offset) & U64;
  if ((addr & 0xfffn) !== 0n) return fail(op, 'dmirror_fops_unlocked_ioctl', 'EINVAL', 'addr');
  const end = (addr + ((e.args.npages << PAGE_SHIFT) & U64)) & U64;
  if (addr >= end) return fail(op, 'dmirror_fops_unlocked_ioctl', 'EINVAL', 'npages');
  switch (e.cmd) {
    case 'HMM_DMIRROR_MIGRATE_TO_DEV':
    case 'HMM_DMIRROR_MIGRATE_TO_SYS':
      return dmirrorMigrate(op, file, e, addr, end);
    case 'HMM_DMIRROR_CHECK_EXCLUSIVE':
      // dmirror_check_atomic: -EPERM at the first entry tagged DPT_XA_TAG_ATOMIC; none can exist yet.
      return done(0n, 0n);
    case 'HMM_DMIRROR_RELEASE':
      dmirrorRelease(op, file);
      return done(0n, 0n);
    case 'HMM_DMIRROR_READ':
    case 'HMM_DMIRROR_WRITE':
    case 'HMM_DMIRROR_SNAPSHOT':
    case 'HMM_DMIRROR_EXCLUSIVE':
      return fail(op, 'dmirror_fops_unlocked_ioctl', 'ENOTTY', 'not-modelled');
  }
}

/**
 * @kernel dmirror_migrate_to_device / dmirror_migrate_to_system
 * lib/test_hmm.c — the mirrored mm must still be alive (mmget_not_zero:
 * EINVAL); per window of 64 pages, a vma with VM_READ at its start
 * (vma_lookup: EINVAL), cut at the vma's end, then migrate_vma_setup.
 */
function dmirrorMigrate(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  const fn = e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' ? 'dmirror_migrate_to_device' : 'dmirror_migrate_to_system';
  const mm = mirroredMm(op, file);
  if (mm === null) return fail(op, fn, 'EINVAL', 'mm-gone');
  for (let addr = start; addr < end; ) {
    const at = vmaAt(mm, addr);
    if (at === null || at.vma.prot === 'none') return fail(op, fn, 'EINVAL', at === null ? 'no-vma' : '!VM_READ');
    let next = addr + WINDOW < end ? addr + WINDOW : end;
    if (next > at.vma.end) next = at.vma.end;
    const setup = migrateVmaSetup(op, at.vma);
    if (setup !== null) return setup;
    addr = next;
  }
  // Every window was refused above: no vma the model has gets this far.
  throw new Error('model bug: migrate_vma_setup accepted a vma');
}

/** The process whose mm the file mirrors (dmirror->notifier.mm), or null once it exited (mmget_not_zero fails). */
export function mirroredMm(op: Op, file: OpenFile): Process | null {
  if (file.mm === undefined || file.mm === null) return null;
  for (const p of op.state.mm.procs.values()) if (p.mm === file.mm) return p;
  return null;
}

/**
 * @kernel migrate_vma_setup mm/migrate_device.c — no hugetlb, VM_SPECIAL
 * (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP) or DAX vma: EINVAL.
 * Returns null where the model would go on to collect pages: anonymous
 * vmas, not modelled yet.
 */
function migrateVmaSetup(op: Op, vma: Vma): Outcome | null {
  const file = vma.file === null ? undefined : op.state.mm.files.get(vma.file);
  // A map=none (PFN_SPECIAL) device vma is VM_PFNMAP; any other device-dax vma is a DAX vma (S_DAX inode).
  if (vma.flags.pfnmap) return fail(op, 'migrate_vma_setup', 'EINVAL', 'VM_SPECIAL');
  if (file?.driver === 'dax') return fail(op, 'migrate_vma_setup', 'EINVAL', 'vma_is_dax');
  // An anonymous vma: migrate_vma_collect and the device's pages, not modelled yet (issue 12).
  return fail(op, 'migrate_vma_setup', 'ENOTTY', 'not-modelled');
}

/**
 * @kernel HMM_DMIRROR_RELEASE in dmirror_fops_unlocked_ioctl →
 * dmirror_device_remove_chunks lib/test_hmm.c: every chunk of the file's
 * device is evicted (no page is on the device while migration is not
 * modelled), unmapped and released; the device has no chunk until it needs
 * a page again.
 */
function dmirrorRelease(op: Op, file: OpenFile): void {
  const index = Number(/([0-9]+)$/.exec(file.dev)?.[1]);
  const dev = op.state.hmm.devices[index];
  if (dev === undefined) throw new Error(`model bug: ${file.dev} is not a loaded dmirror device`);
  dmirrorDeviceRemoveChunks(op, dev);
  const devices = op.state.hmm.devices.slice();
  devices[index] = { ...dev, chunks: [] };
  op.state = withState(op.state, { hmm: { ...op.state.hmm, devices } });
}
