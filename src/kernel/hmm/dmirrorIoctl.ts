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
 * Modelled: the common EINVALs; READ, WRITE and SNAPSHOT through
 * hmm_range_fault (src/kernel/mm/hmmRangeFault.ts) with the device page
 * table in the file (OpenFile.mirror, which the mm's notifiers clear:
 * src/kernel/mm/mmuNotifier.ts) and the copies to and from the caller's
 * buffer (src/kernel/mm/uaccess.ts); MIGRATE_TO_DEV / MIGRATE_TO_SYS up to
 * migrate_vma_setup, which refuses device-dax vmas (vma_is_dax) and map=none
 * vmas (VM_PFNMAP, in VM_SPECIAL), and the migrations themselves
 * (dmirrorMigrate.ts); EXCLUSIVE and CHECK_EXCLUSIVE (dmirrorExclusive.ts);
 * RELEASE (every chunk of the device evicted and released).
 * Not yet: hmm_range_fault over a device-dax vma (its entries' write bit),
 * an unaligned `ptr` for READ/WRITE. They answer ENOTTY under a
 * `not-modelled` branch, an answer no kernel gives, so a recorded log shows
 * them as divergences rather than as agreement.
 */
import type { Outcome } from '../../log/events.js';
import { isBlockIoctl, type DmirrorIoctlEvent, type IoctlEvent } from '../../log/programEvents.js';
import type { Op } from '../op.js';
import { mapAddress, processOf } from '../mm/process.js';
import { hmmRangeFault, type HmmPfn } from '../mm/hmmRangeFault.js';
import { setFile } from '../mm/process.js';
import { ZERO_PAGE_PHYS, type MirrorEntry, type OpenFile, type Process } from '../mm/types.js';
import { dmirrorIndex } from '../mm/mmuNotifier.js';
import { directMapOops } from '../oops.js';
import { dmirrorMigrateToDevice, dmirrorMigrateToSystem } from './dmirrorMigrate.js';
import { copyBytesToUser, copyPagesFromUser, copyPagesToUser, pageImage, putPageImage, type PageImage } from '../mm/uaccess.js';
import { WideIntMap } from '../../util/wideIntMap.js';
import { dmirrorDeviceRemoveChunks } from './testHmm.js';
import { dmirrorCheckAtomic, dmirrorExclusive } from './dmirrorExclusive.js';

const U64 = (1n << 64n) - 1n;
const PAGE_SHIFT = 12n;
/** ARRAY_SIZE(src_pfns): the migrate commands work in windows of 64 pages. */
const WINDOW = 64n << PAGE_SHIFT;

export function fail(op: Op, fn: string, errno: 'EINVAL' | 'ENOTTY' | 'EFAULT' | 'EPERM', why?: string): Outcome {
  op.branch(fn, why === undefined ? errno : `${errno}(${why})`);
  return { ok: false, errno };
}

export function done(cpages: bigint, faults: bigint): Outcome {
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
      return dmirrorCheckAtomic(op, file, addr, end);
    case 'HMM_DMIRROR_RELEASE':
      dmirrorRelease(op, file);
      return done(0n, 0n);
    case 'HMM_DMIRROR_READ':
      return dmirrorRead(op, file, e, addr, end);
    case 'HMM_DMIRROR_WRITE':
      return dmirrorWrite(op, file, e, addr, end);
    case 'HMM_DMIRROR_SNAPSHOT':
      return dmirrorSnapshot(op, file, e, addr, end);
    case 'HMM_DMIRROR_EXCLUSIVE':
      return dmirrorExclusive(op, file, e, addr, end);
  }
}

/**
 * @kernel dmirror_migrate_to_device / dmirror_migrate_to_system
 * lib/test_hmm.c — the mirrored mm must still be alive (mmget_not_zero:
 * EINVAL); the windows (src/kernel/hmm/dmirrorMigrate.ts). To the device:
 * then dmirror_do_read over the whole range, -ENOENT at the first page the
 * device page table lacks (a page that did not migrate), else the data to
 * `ptr` and cpages = npages. To system: cpages = the pages moved.
 */
function dmirrorMigrate(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  const toDev = e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV';
  const fn = toDev ? 'dmirror_migrate_to_device' : 'dmirror_migrate_to_system';
  const pid = mirroredPid(op, file);
  if (pid === null) return fail(op, fn, 'EINVAL', 'mm-gone');
  const { id } = fileNow(op, e);
  const device = dmirrorIndex(file.dev);
  const r = toDev ? dmirrorMigrateToDevice(op, id, device, pid, start, end) : dmirrorMigrateToSystem(op, id, device, pid, start, end);
  if (!r.ok) {
    if (!('errno' in r)) return fail(op, 'migrate_vma_setup', 'ENOTTY', `not-modelled:${r.notModelled}`);
    return r.setup ? { ok: false, errno: 'EINVAL' } : fail(op, fn, 'EINVAL', r.why);
  }
  if (!toDev) {
    op.branch(fn, 'ok');
    return done(BigInt(r.cpages), 0n);
  }
  const got = devicePages(op, e, start, end, false);
  if (!got.complete) {
    op.branch(fn, 'ENOENT');
    return { ok: false, errno: 'ENOENT' };
  }
  const images = readImages(op, got.pages, 'dmirror_do_read');
  const ptr = ptrOf(op, e);
  if ((ptr & 0xfffn) !== 0n) return fail(op, fn, 'ENOTTY', 'not-modelled:unaligned-ptr');
  if (!copyPagesToUser(op, e.pid, ptr, images)) return fail(op, fn, 'EFAULT', 'copy_to_user');
  op.branch(fn, 'ok');
  return done(BigInt(images.length), 0n);
}

/**
 * kmap + memcpy of device page-table entries (dmirror_do_read): a backing
 * page reads as itself. An entry dmirror_do_fault stored for a device page
 * of this device (hmm_range_fault reports the owner's device-private pages
 * unfaulted, and the driver stores the page itself, not BACKING_PAGE) is
 * kmap'ed through the direct map, which does not cover device-private
 * memory: the kernel oopses (seen on 6.1.192: a second file of the device
 * reading pages the first migrated, finding F-hmm-kmap-device-private).
 */
export function readImages(op: Op, pages: readonly bigint[], fn: string): PageImage[] {
  const out: PageImage[] = [];
  for (const phys of pages) {
    if (op.state.hmm.pages.get(Number(phys >> PAGE_SHIFT)) !== undefined) {
      op.branch(fn, 'kmap-device-private');
      throw directMapOops(fn, phys, op.state.config.physmemBits);
    }
    out.push(pageImage(op.state.mm, Number(phys >> PAGE_SHIFT)));
  }
  return out;
}

/** The process whose mm the file mirrors (dmirror->notifier.mm), or null once it exited (mmget_not_zero fails). */
export function mirroredMm(op: Op, file: OpenFile): Process | null {
  const pid = mirroredPid(op, file);
  return pid === null ? null : (op.state.mm.procs.get(pid) ?? null);
}

/** The pid handle of that process, or null. */
export function mirroredPid(op: Op, file: OpenFile): string | null {
  if (file.mm === undefined || file.mm === null) return null;
  for (const [pid, p] of op.state.mm.procs) if (p.mm === file.mm) return pid;
  return null;
}

/** The file as it is now (a fault or a copy on the way may have changed it: its mirror, its mm). */
export function fileNow(op: Op, e: DmirrorIoctlEvent): { readonly id: number; readonly file: OpenFile } {
  const id = processOf(op, e.pid).fds.get(e.fd);
  const file = id === undefined ? undefined : op.state.mm.files.get(id);
  if (id === undefined || file === undefined) throw new Error('model bug: the dmirror file went away during its ioctl');
  return { id, file };
}

/**
 * @kernel dmirror_fault lib/test_hmm.c → dmirror_range_fault →
 * hmm_range_fault with HMM_PFN_REQ_FAULT (| HMM_PFN_REQ_WRITE), 64 pages at a
 * time, then dmirror_do_fault: each page enters the device page table,
 * tagged DPT_XA_TAG_WRITE when HMM_PFN_WRITE (the zero page too: the
 * device reads it). The mirrored mm must be alive (mmget_not_zero: EFAULT).
 */
function dmirrorFault(op: Op, e: DmirrorIoctlEvent, start: bigint, end: bigint, write: boolean): Outcome | null {
  const mm = mirroredPid(op, fileNow(op, e).file);
  if (mm === null) return fail(op, 'dmirror_fault', 'EFAULT', 'mm-gone');
  for (let addr = start; addr < end; ) {
    const next = addr + WINDOW < end ? addr + WINDOW : end;
    const r = hmmRangeFault(op, e.pid, mm, addr, next, { fault: true, write, owner: dmirrorIndex(fileNow(op, e).file.dev) });
    if (!r.ok) return 'notModelled' in r ? fail(op, 'hmm_range_fault', 'ENOTTY', `not-modelled:${r.notModelled}`) : fail(op, 'dmirror_range_fault', r.errno);
    const { id, file } = fileNow(op, e);
    // dmirror_do_fault: WARN_ON(default_flags & HMM_PFN_WRITE) for a pfn without HMM_PFN_WRITE (hmm_range_fault
    // reports this device's own read-only device-private entries as they are, unfaulted): -EFAULT, nothing stored.
    if (write && r.pfns.some((pfn) => !pfn.write)) {
      op.print('WARNING: at lib/test_hmm.c dmirror_do_fault');
      return fail(op, 'dmirror_do_fault', 'EFAULT', 'read-only-device-page');
    }
    let mirror = file.mirror ?? WideIntMap.empty<MirrorEntry>();
    r.pfns.forEach((pfn, i) => {
      // hmm_pfn_to_page: for this device's own device-private entry the device page itself (finding H-kmap);
      // under the dmirror-fault-backing-page fix its BACKING_PAGE, as dmirror_migrate_finalize_and_map stores.
      const dpage = op.state.profile.dmirrorFaultStoresBacking ? op.state.hmm.pages.get(Number(pfn.phys >> PAGE_SHIFT)) : undefined;
      const phys = dpage === undefined ? pfn.phys : BigInt(dpage.rpage) << PAGE_SHIFT;
      mirror = mirror.set(Number(addr >> PAGE_SHIFT) + i, { phys, tag: pfn.write ? 'write' : 'read' });
    });
    setFile(op, id, { ...file, mirror });
    addr = next;
  }
  return null;
}

/**
 * @kernel dmirror_do_read / dmirror_do_write lib/test_hmm.c — the pages of
 * [start, end) in the device page table, in order, until one is missing
 * (for a write: or not tagged DPT_XA_TAG_WRITE): -ENOENT there.
 */
export function devicePages(op: Op, e: DmirrorIoctlEvent, start: bigint, end: bigint, write: boolean): { readonly pages: bigint[]; readonly complete: boolean } {
  const mirror = fileNow(op, e).file.mirror;
  const pages: bigint[] = [];
  for (let a = start; a < end; a += 4096n) {
    const entry = mirror?.get(Number(a >> PAGE_SHIFT));
    if (entry === undefined || (write && entry.tag !== 'write')) return { pages, complete: false };
    pages.push(entry.phys);
  }
  return { pages, complete: true };
}

/**
 * @kernel dmirror_read lib/test_hmm.c — read the pages the device has; at
 * the first it lacks, dmirror_fault the rest (faults++) and read on from
 * there; then copy_to_user of the whole bounce buffer to `ptr` (EFAULT).
 */
function dmirrorRead(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  if (file.mm === undefined) throw new Error('model bug: a dmirror file without an mm');
  const images: PageImage[] = [];
  let faults = 0n;
  let at = start;
  for (;;) {
    const got = devicePages(op, e, at, end, false);
    // kmap + memcpy into the bounce buffer, page by page, before anything is copied out.
    images.push(...readImages(op, got.pages, 'dmirror_do_read'));
    if (got.complete) break;
    at = start + (BigInt(images.length) << PAGE_SHIFT);
    const f = dmirrorFault(op, e, at, end, false);
    if (f !== null) return f;
    faults++;
  }
  const ptr = ptrOf(op, e);
  if ((ptr & 0xfffn) !== 0n) return fail(op, 'dmirror_read', 'ENOTTY', 'not-modelled:unaligned-ptr');
  if (!copyPagesToUser(op, e.pid, ptr, images)) return fail(op, 'dmirror_read', 'EFAULT', 'copy_to_user');
  return done(BigInt(images.length), faults);
}

/**
 * @kernel dmirror_write lib/test_hmm.c — copy_from_user of the buffer at
 * `ptr` first (EFAULT), then write the pages the device has writable; at
 * the first it lacks, dmirror_fault the rest for writing (faults++) and go
 * on from there.
 */
function dmirrorWrite(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  if (file.mm === undefined) throw new Error('model bug: a dmirror file without an mm');
  const ptr = ptrOf(op, e);
  if ((ptr & 0xfffn) !== 0n) return fail(op, 'dmirror_write', 'ENOTTY', 'not-modelled:unaligned-ptr');
  const images = copyPagesFromUser(op, e.pid, ptr, Number((end - start) >> PAGE_SHIFT));
  if (images === null) return fail(op, 'dmirror_write', 'EFAULT', 'copy_from_user');
  let done_ = 0;
  let faults = 0n;
  let at = start;
  for (;;) {
    const got = devicePages(op, e, at, end, true);
    for (const phys of got.pages) {
      // dmirror_do_write's kmap of a device page stored by dmirror_do_fault: the same direct-map oops as a read.
      if (op.state.hmm.pages.get(Number(phys >> PAGE_SHIFT)) !== undefined) {
        op.branch('dmirror_do_write', 'kmap-device-private');
        throw directMapOops('dmirror_do_write', phys, op.state.config.physmemBits);
      }
    }
    for (const phys of got.pages) putPageImage(op, Number(phys >> PAGE_SHIFT), images[done_++] as PageImage);
    if (got.complete) break;
    at = start + (BigInt(done_) << PAGE_SHIFT);
    const f = dmirrorFault(op, e, at, end, true);
    if (f !== null) return f;
    faults++;
  }
  return done(BigInt(done_), faults);
}

/** HMM_DMIRROR_PROT_* (lib/test_hmm_uapi.h). */
const PROT = { ERROR: 0xff, NONE: 0x00, READ: 0x01, WRITE: 0x02, PMD: 0x04, PUD: 0x08, ZERO: 0x10, DEV_PRIVATE_LOCAL: 0x20 } as const;

/**
 * @kernel dmirror_mkentry lib/test_hmm.c — the byte SNAPSHOT reports for one
 * page: ERROR, NONE for no valid entry, else ZERO for the zero page (only
 * the 4 KiB one: the huge zero page's pfns are not is_zero_pfn), READ or
 * WRITE, and PMD or PUD by the map order.
 */
function mkentry(op: Op, pfn: HmmPfn): number {
  if (pfn.error) return PROT.ERROR;
  if (!pfn.valid) return PROT.NONE;
  // is_device_private_page: hmm_range_fault only reports this device's own (dev_private_owner), so LOCAL.
  const device = op.state.hmm.pages.get(Number(pfn.phys >> PAGE_SHIFT)) !== undefined;
  let perm = device ? PROT.DEV_PRIVATE_LOCAL : pfn.phys === ZERO_PAGE_PHYS ? PROT.ZERO : PROT.NONE;
  perm |= pfn.write ? PROT.WRITE : PROT.READ;
  if (pfn.order === 9) perm |= PROT.PMD;
  else if (pfn.order === 18) perm |= PROT.PUD;
  return perm;
}

/**
 * @kernel dmirror_snapshot lib/test_hmm.c — the mirrored mm must be alive
 * (EINVAL); per 64 pages, hmm_range_fault without faulting
 * (dmirror_range_snapshot) and copy_to_user of one byte per page to `ptr`
 * (EFAULT), cpages counting the pages done.
 */
function dmirrorSnapshot(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  const mm = mirroredPid(op, file);
  if (mm === null) return fail(op, 'dmirror_snapshot', 'EINVAL', 'mm-gone');
  let uptr = ptrOf(op, e);
  let cpages = 0n;
  for (let addr = start; addr < end; ) {
    const next = addr + WINDOW < end ? addr + WINDOW : end;
    const r = hmmRangeFault(op, e.pid, mm, addr, next, { fault: false, write: false, owner: dmirrorIndex(file.dev) });
    if (!r.ok) return 'notModelled' in r ? fail(op, 'hmm_range_fault', 'ENOTTY', `not-modelled:${r.notModelled}`) : fail(op, 'dmirror_range_snapshot', r.errno);
    if (!copyBytesToUser(op, e.pid, uptr, r.pfns.map((pfn) => mkentry(op, pfn)))) return fail(op, 'dmirror_snapshot', 'EFAULT', 'copy_to_user');
    cpages += BigInt(r.pfns.length);
    uptr += BigInt(r.pfns.length);
    addr = next;
  }
  return done(cpages, 0n);
}

/** The user address `ptr` names in the caller (0 for a NULL ptr). */
export function ptrOf(op: Op, e: DmirrorIoctlEvent): bigint {
  const p = e.args.ptr;
  return p === null ? 0n : (mapAddress(processOf(op, e.pid), p.map) + p.offset) & U64;
}

/**
 * @kernel HMM_DMIRROR_RELEASE in dmirror_fops_unlocked_ioctl →
 * dmirror_device_remove_chunks lib/test_hmm.c: every chunk of the file's
 * device is evicted (its pages back to system memory, in every process),
 * unmapped and released; the device has no chunk until it needs a page
 * again.
 */
function dmirrorRelease(op: Op, file: OpenFile): void {
  const index = dmirrorIndex(file.dev);
  if (op.state.hmm.devices[index] === undefined) throw new Error(`model bug: ${file.dev} is not a loaded dmirror device`);
  dmirrorDeviceRemoveChunks(op, index);
}
