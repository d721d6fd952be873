/**
 * HMM_DMIRROR_EXCLUSIVE and HMM_DMIRROR_CHECK_EXCLUSIVE (lib/test_hmm.c,
 * Debian linux-source-6.1 6.1.192): dmirror_exclusive makes the pages of the
 * mirrored mm device-exclusive 64 at a time (make_device_exclusive_range,
 * src/kernel/mm/deviceExclusive.ts) and maps them ATOMIC in the device page
 * table (OpenFile.mirror, tag `atomic`) when every page of the window
 * became exclusive; dmirror_check_atomic says whether any ATOMIC entry is
 * left in a range.
 *
 * The device page table and the ATOMIC tags: making an entry exclusive
 * sends MMU_NOTIFY_EXCLUSIVE with owner NULL, which
 * dmirror_interval_invalidate does not skip (it skips only MMU_NOTIFY_MIGRATE
 * of its own device), so the device forgets the window (and the page after
 * it: xa_for_each_range's inclusive end) before dmirror_atomic_map stores
 * the ATOMIC entries. A CPU access then restores the page
 * (remove_device_exclusive_entry), whose MMU_NOTIFY_EXCLUSIVE erases the
 * ATOMIC entry again: CHECK_EXCLUSIVE is -EPERM while some page of the range
 * is still exclusive to the device and mapped ATOMIC.
 */
import type { Outcome } from '../../log/events.js';
import type { DmirrorIoctlEvent } from '../../log/programEvents.js';
import type { Op } from '../op.js';
import { makeDeviceExclusiveRange } from '../mm/deviceExclusive.js';
import { setFile } from '../mm/process.js';
import type { MirrorEntry, OpenFile } from '../mm/types.js';
import { copyPagesToUser } from '../mm/uaccess.js';
import { WideIntMap } from '../../util/wideIntMap.js';
import { devicePages, done, fail, fileNow, mirroredPid, ptrOf, readImages } from './dmirrorIoctl.js';

const PAGE_SHIFT = 12n;
/** ARRAY_SIZE(pages): struct page *pages[64]. */
const NR_PAGES = 64;

/**
 * @kernel dmirror_exclusive lib/test_hmm.c — the mirrored mm must be alive
 * (mmget_not_zero: EINVAL); per window of 64 pages,
 * make_device_exclusive_range, then dmirror_atomic_map only when it
 * returned every page of the window (ret == npages; a NULL page, a tail page
 * or one folio_make_device_exclusive refused, is skipped there); fewer
 * pages mapped than the window holds is -EBUSY at once (earlier windows
 * stay exclusive and ATOMIC). Then dmirror_do_read over the whole range
 * (ENOENT at the first page without an entry), copy_to_user to `ptr`
 * (EFAULT), cpages the pages read.
 */
export function dmirrorExclusive(op: Op, file: OpenFile, e: DmirrorIoctlEvent, start: bigint, end: bigint): Outcome {
  const pid = mirroredPid(op, file);
  if (pid === null) return fail(op, 'dmirror_exclusive', 'EINVAL', 'mm-gone');
  // The on-stack array every window reuses: past what make_device_exclusive_range filled in, it holds what an
  // earlier window left (only variant B12 reads that part).
  const pages: Array<bigint | null> = [];
  for (let addr = start; addr < end; ) {
    const next = addr + (BigInt(NR_PAGES) << PAGE_SHIFT) < end ? addr + (BigInt(NR_PAGES) << PAGE_SHIFT) : end;
    const n = Number((next - addr) >> PAGE_SHIFT);
    const r = makeDeviceExclusiveRange(op, e.pid, pid, addr, next);
    r.pages.forEach((pg, i) => (pages[i] = pg));
    let mapped = 0;
    if (r.npages === n) mapped = dmirrorAtomicMap(op, e, addr, n, pages);
    else if (op.state.profile.hmmExclusiveMapsPartial) {
      // Variant B12: dmirror_atomic_map over the whole window, `pages[]` past r.npages as an earlier window left it.
      op.branch('dmirror_exclusive', 'B12-map-partial');
      mapped = dmirrorAtomicMap(op, e, addr, n, pages);
    }
    if (mapped < n) {
      op.branch('dmirror_exclusive', 'EBUSY');
      return { ok: false, errno: 'EBUSY' };
    }
    addr = next;
  }
  const got = devicePages(op, e, start, end, false);
  const images = readImages(op, got.pages, 'dmirror_do_read');
  // dmirror_do_read's -ENOENT: every window was mapped ATOMIC and nothing between the windows and this read
  // invalidates them in the model (no other thread runs), so this is the kernel's defensive path only.
  if (!got.complete) return { ok: false, errno: 'ENOENT' };
  const ptr = ptrOf(op, e);
  if ((ptr & 0xfffn) !== 0n) return fail(op, 'dmirror_exclusive', 'ENOTTY', 'not-modelled:unaligned-ptr');
  if (!copyPagesToUser(op, e.pid, ptr, images)) return fail(op, 'dmirror_exclusive', 'EFAULT', 'copy_to_user');
  op.branch('dmirror_exclusive', 'ok');
  return done(BigInt(images.length), 0n);
}

/**
 * @kernel dmirror_atomic_map lib/test_hmm.c — each non-NULL pages[i] of the
 * window [start, start + n pages) is stored tagged DPT_XA_TAG_ATOMIC at
 * its virtual pfn; the count stored.
 */
function dmirrorAtomicMap(op: Op, e: DmirrorIoctlEvent, start: bigint, n: number, pages: ReadonlyArray<bigint | null>): number {
  const { id, file } = fileNow(op, e);
  let mirror = file.mirror ?? WideIntMap.empty<MirrorEntry>();
  let mapped = 0;
  for (let i = 0; i < n; i++) {
    const phys = pages[i];
    if (phys === null || phys === undefined) continue;
    mirror = mirror.set(Number(start >> PAGE_SHIFT) + i, { phys, tag: 'atomic' });
    mapped++;
  }
  setFile(op, id, { ...file, mirror });
  return mapped;
}

/**
 * @kernel dmirror_check_atomic lib/test_hmm.c — -EPERM when an entry of the
 * device page table in [start, end) is tagged DPT_XA_TAG_ATOMIC, else 0.
 * It needs no mm: a file whose process exited has an empty table.
 */
export function dmirrorCheckAtomic(op: Op, file: OpenFile, start: bigint, end: bigint): Outcome {
  const mirror = file.mirror;
  if (mirror !== undefined && mirror.size > 0) {
    for (const [, entry] of mirror.range(Number(start >> PAGE_SHIFT), Number(end >> PAGE_SHIFT) - 1)) {
      if (entry.tag === 'atomic') {
        op.branch('dmirror_check_atomic', 'EPERM');
        return { ok: false, errno: 'EPERM' };
      }
    }
  }
  return done(0n, 0n);
}
