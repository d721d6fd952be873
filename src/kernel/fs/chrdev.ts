/**
 * Character device nodes the model knows (fs/char_dev.c's cdev map, as
 * devtmpfs shows it under /dev): a path names a device's inode, and the
 * driver's file_operations serve it. /dev/daxX.Y exists while the dax
 * device exists, whatever driver is bound (__devm_create_dev_dax sets devt).
 */
import { daxFops } from '../dax/deviceFops.js';
import { kmemDiskFops, kmemDiskOwner } from '../block/kmemDisk.js';
import { dmirrorDevAt, dmirrorFops } from '../hmm/dmirrorFops.js';
import type { FileOperations } from '../mm/ops.js';
import type { FileDriver, OpenFile } from '../mm/types.js';
import { findDevice, type KernelState } from '../state.js';

/** The device node at `path`: its driver's ops and the device it names, or null (ENOENT). */
export function chrdevAt(s: KernelState, path: string): { readonly fops: FileOperations; readonly dev: string } | null {
  const m = /^\/dev\/(dax[0-9]+\.[0-9]+)$/.exec(path);
  if (m !== null && findDevice(s, m[1] as string) !== undefined) return { fops: daxFops, dev: m[1] as string };
  // The block device node devtmpfs makes for the kmem persistence RFC's disk (add_disk), with def_blk_fops.
  const k = /^\/dev\/kmem([0-9]+)$/.exec(path);
  if (k !== null) {
    const owner = kmemDiskOwner(s, Number(k[1]));
    if (owner !== null) return { fops: kmemDiskFops, dev: owner };
  }
  // test_hmm's dmirror devices (cdev_device_add in dmirror_device_init) while the module is loaded.
  const dm = dmirrorDevAt(s.hmm.devices.length, path);
  if (dm !== null) return { fops: dmirrorFops, dev: dm };
  return null;
}

const FOPS: Readonly<Record<FileDriver, FileOperations>> = {
  get dax() {
    return daxFops;
  },
  get kmemblk() {
    return kmemDiskFops;
  },
  get dmirror() {
    return dmirrorFops;
  },
};

/** The ops of an open file (f->f_op). */
export function fopsOf(f: OpenFile): FileOperations {
  return FOPS[f.driver];
}
