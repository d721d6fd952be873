/**
 * The disk kmem<node> of the kmem persistence RFC's type BLK (patch 4/4,
 * drivers/dax/kmem_blk.c as posted: kmem_blk_disk_init, a bio-based disk
 * with 4 KiB logical and physical blocks, discard and write-zeroes up to
 * UINT_MAX sectors, no partitions) as a program sees it through /dev/kmemN:
 * def_blk_fops (block/fops.c, 6.1) for direct I/O and the block ioctls
 * (block/ioctl.c blk_ioctl_discard, blk_ioctl_zeroout), with the block
 * layer's checks, then kmem_blk_submit_bio.
 * Left out: buffered I/O and the page cache (logs do direct I/O), mmap of
 * the disk (ENODEV here; the kernel would map its page cache).
 */
import { isBlockIoctl, readValue, type IoctlEvent } from '../../log/programEvents.js';
import type { Outcome } from '../../log/events.js';
import { err, OK, type Ret } from '../errno.js';
import type { FileOperations } from '../mm/ops.js';
import type { OpenFile } from '../mm/types.js';
import type { Op } from '../op.js';
import { findDevice, type KernelState } from '../state.js';
import { kmemBlkDiscard, kmemBlkRead, kmemBlkWrite } from '../dax/kmemBlk.js';
import type { KmemPersistInstance } from '../dax/kmemPersistTypes.js';

const LBS = 4096n;

/** The dax device whose BLK instance has the disk kmem<nid> added, or null. */
export function kmemDiskOwner(s: KernelState, nid: number): string | null {
  for (const d of s.devices) {
    const p = d.kmem?.persist;
    if (p !== undefined && p.nid === nid && p.type === 1 && p.blk?.disk === true) return d.name;
  }
  return null;
}

/** Every disk kmem<nid> that exists, by node. */
export function kmemDisks(s: KernelState): Array<{ readonly nid: number; readonly dev: string; readonly persist: KmemPersistInstance }> {
  const out: Array<{ nid: number; dev: string; persist: KmemPersistInstance }> = [];
  for (const d of s.devices) {
    const p = d.kmem?.persist;
    if (p !== undefined && p.type === 1 && p.blk?.disk === true) out.push({ nid: p.nid, dev: d.name, persist: p });
  }
  return out.sort((a, b) => a.nid - b.nid);
}

/** bdev_nr_bytes: capacity e × 8 sectors. */
export function kmemDiskBytes(p: KmemPersistInstance): bigint {
  return BigInt(p.blk?.e ?? 0) * LBS;
}

/** The disk behind an open file, while it exists (a file kept open across del_gendisk sees a disk of capacity 0). */
function liveDisk(s: KernelState, f: OpenFile): KmemPersistInstance | null {
  const p = findDevice(s, f.dev)?.kmem?.persist;
  return p !== undefined && p.type === 1 && p.blk?.disk === true ? p : null;
}

/**
 * Direct I/O alignment (blkdev_direct_IO → bio_iov_iter_get_pages): offset
 * and length multiples of the logical block size, else -EINVAL.
 */
function aligned(op: Op, fn: string, offset: bigint, length: bigint): boolean {
  if (offset % LBS === 0n && length % LBS === 0n) return true;
  op.branch(fn, 'EINVAL(unaligned)');
  return false;
}

/** @kernel blkdev_read_iter block/fops.c — a read at or past the end reads nothing; one crossing it is cut. */
export function kmemDiskRead(op: Op, f: OpenFile, offset: bigint, length: bigint): Ret<string> {
  const p = liveDisk(op.state, f);
  if (f.mode === 'wronly') {
    op.branch('vfs_read', 'EBADF');
    return err('EBADF');
  }
  if (!aligned(op, 'blkdev_read_iter', offset, length)) return err('EINVAL');
  // A file kept open across kmem_blk_cleanup: del_gendisk set the capacity to 0, so every read is at the end.
  const size = p === null ? 0n : kmemDiskBytes(p);
  if (p === null) op.branch('blkdev_read_iter', 'eof(disk-gone)');
  if (p === null || offset >= size || length === 0n) return { ok: true, value: '' };
  const len = offset + length > size ? size - offset : length;
  return { ok: true, value: readValue(kmemBlkRead(op, f.dev, offset, len)) };
}

/** @kernel blkdev_write_iter block/fops.c — -ENOSPC at or past the end; a write crossing it is cut. */
export function kmemDiskWrite(op: Op, f: OpenFile, offset: bigint, length: bigint, value: bigint): Ret<string> {
  const p = liveDisk(op.state, f);
  if (f.mode === 'rdonly') {
    op.branch('vfs_write', 'EBADF');
    return err('EBADF');
  }
  if (!aligned(op, 'blkdev_write_iter', offset, length)) return err('EINVAL');
  if (length === 0n) return { ok: true, value: '0x0' };
  // After del_gendisk the capacity is 0: every write is past the end.
  const size = p === null ? 0n : kmemDiskBytes(p);
  if (p === null || offset >= size) {
    op.branch('blkdev_write_iter', p === null ? 'ENOSPC(disk-gone)' : 'ENOSPC');
    return err('ENOSPC');
  }
  const len = offset + length > size ? size - offset : length;
  const rc = kmemBlkWrite(op, f.dev, offset, len, value);
  return rc.ok ? { ok: true, value: `0x${len.toString(16)}` } : rc;
}

/**
 * @kernel blkdev_ioctl block/ioctl.c (6.1): blkdev_common_ioctl knows the
 * block commands; any other (a dmirror command sent to a disk) is
 * -ENOIOCTLCMD there, and the RFC's disk has no ->ioctl of its own, so
 * -ENOTTY.
 */
function blkdevIoctl(op: Op, f: OpenFile, e: IoctlEvent): Outcome {
  if (!isBlockIoctl(e)) {
    op.branch('blkdev_ioctl', 'ENOTTY');
    return { ok: false, errno: 'ENOTTY' };
  }
  const rc = kmemDiskIoctl(op, f, e.cmd, e.args.start, e.args.length);
  return rc.ok ? { ok: true } : { ok: false, errno: rc.errno };
}

/**
 * @kernel blk_ioctl_discard / blk_ioctl_zeroout block/ioctl.c (6.1): the fd
 * must be open for writing (EBADF), start and length 512-aligned and inside
 * the disk (EINVAL); blkdev_issue_discard / blkdev_issue_zeroout then
 * refuse a range that is not whole logical blocks (EINVAL). The RFC's bio
 * handler treats REQ_OP_WRITE_ZEROES as a discard.
 */
export function kmemDiskIoctl(op: Op, f: OpenFile, cmd: 'BLKDISCARD' | 'BLKZEROOUT', start: bigint, length: bigint): Ret {
  const fn = cmd === 'BLKDISCARD' ? 'blk_ioctl_discard' : 'blk_ioctl_zeroout';
  if (f.mode === 'rdonly') {
    op.branch(fn, 'EBADF');
    return err('EBADF');
  }
  const p = liveDisk(op.state, f);
  // After del_gendisk the capacity is 0: any range is outside it.
  const size = p === null ? 0n : kmemDiskBytes(p);
  if (start % 512n !== 0n || length % 512n !== 0n) {
    op.branch(fn, 'EINVAL(512)');
    return err('EINVAL');
  }
  const outside = cmd === 'BLKDISCARD' ? start + length > size : length === 0n || start + length - 1n >= size;
  if (outside) {
    op.branch(fn, 'EINVAL(range)');
    return err('EINVAL');
  }
  if (start % LBS !== 0n || length % LBS !== 0n) {
    op.branch(cmd === 'BLKDISCARD' ? 'blkdev_issue_discard' : 'blkdev_issue_zeroout', 'EINVAL(bs_mask)');
    return err('EINVAL');
  }
  if (length === 0n || p === null) return OK;
  return kmemBlkDiscard(op, f.dev, start, length);
}

/** def_blk_fops for /dev/kmemN: blkdev_open, blkdev_close; the mm hooks refuse (mmap of a disk is not modelled). */
export const kmemDiskFops: FileOperations = {
  open: (_op, dev, path, mode, sync) => ({ ok: true, value: { driver: 'kmemblk', path, dev, mode, sync, private: true, gen: 0, refs: 1 } }),
  release: () => undefined,
  mmap: (op) => {
    op.branch('blkdev_mmap', 'ENODEV(not-modelled)');
    return err('ENODEV');
  },
  getUnmappedArea: (_op, _f, _addr, len, _pgoff, fallback) => fallback(len),
  mapSync: false,
  readIter: kmemDiskRead,
  writeIter: kmemDiskWrite,
  ioctl: blkdevIoctl,
  vmOps: {
    fault: () => ({ kind: 'sigbus' }),
    maySplit: () => OK,
    pagesize: () => 4096n,
  },
};
