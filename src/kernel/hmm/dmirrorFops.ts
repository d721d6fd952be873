/**
 * Mirrors lib/test_hmm.c (Debian 6.1.192) dmirror_fops, the parts the model
 * keeps: open (dmirror_fops_open: a struct dmirror and an mmu interval
 * notifier over the whole address space; the model never fails them) and
 * release, with chrdev_open's fops_get taking a reference on the module
 * (.owner = THIS_MODULE; none for a built-in test_hmm, whose owner is NULL)
 * that __fput drops, so rmmod of a module with an open file is -EWOULDBLOCK
 * (src/kernel/hmm/testHmm.ts).
 *
 * Left out: dmirror_fops_mmap (it allocates and vm_insert_page's zeroed
 * pages: not modelled, refused with ENODEV under a not-modelled branch). The
 * commands are in dmirrorIoctl.ts.
 */
import { err, OK } from '../errno.js';
import { dmirrorFopsUnlockedIoctl } from './dmirrorIoctl.js';
import { dmirrorDeviceEvictChunk } from './dmirrorMigrate.js';
import { dmirrorIndex } from '../mm/mmuNotifier.js';
import type { FileOperations } from '../mm/ops.js';

export const dmirrorFops: FileOperations = {
  /** @kernel dmirror_fops_open lib/test_hmm.c — the interval notifier is on the opener's mm (current->mm). */
  open: (_op, dev, path, mode, sync, current) => ({ ok: true, value: { driver: 'dmirror', path, dev, mode, sync, private: true, gen: 0, refs: 1, mm: current } }),
  /**
   * @kernel dmirror_fops_release lib/test_hmm.c — the notifier goes (the
   * file is already out of the table), then every chunk of the device is
   * evicted, not only this file's pages; the chunks stay. The module
   * reference goes with the file (fops_put in __fput).
   */
  release: (op, file) => {
    const dev = op.state.hmm.devices[dmirrorIndex(file.dev)];
    if (dev === undefined) return;
    for (const c of dev.chunks) dmirrorDeviceEvictChunk(op, c, false);
  },
  mmap: (op) => {
    op.branch('dmirror_fops_mmap', 'ENODEV(not-modelled)');
    return err('ENODEV');
  },
  getUnmappedArea: (_op, _f, _addr, len, _pgoff, fallback) => fallback(len),
  mapSync: false,
  ioctl: dmirrorFopsUnlockedIoctl,
  vmOps: {
    fault: () => ({ kind: 'sigbus' }),
    maySplit: () => OK,
    pagesize: () => 4096n,
  },
};

/** The dmirror device a /dev path names while test_hmm is loaded (hmm_dmirror0, hmm_dmirror1), or null. */
export function dmirrorDevAt(loadedDevices: number, path: string): string | null {
  const m = /^\/dev\/(hmm_dmirror([0-9]+))$/.exec(path);
  if (m === null) return null;
  return Number(m[2]) < loadedDevices && String(Number(m[2])) === m[2] ? (m[1] as string) : null;
}
