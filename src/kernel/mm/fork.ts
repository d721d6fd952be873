/**
 * Process life (kernel/fork.c dup_mm / dup_mmap, kernel/exit.c do_exit)
 * and the fd table (fs/open.c, fs/file.c): fork copies the fds and every
 * vma not marked VM_DONTCOPY, each taking a file reference; a shared file
 * vma's entries are not copied (vma_needs_copy: no anon_vma, not
 * PFNMAP/MIXEDMAP), so the child faults them in afresh; a VM_PFNMAP one's
 * (the RFC's map=none) are. exit unmaps
 * everything (exit_mm) and then closes the fds (exit_files).
 */
import type { OpenMode } from '../../log/programEvents.js';
import { IntMap } from '../../util/intMap.js';
import { PageTable } from './pageTable.js';
import { chrdevAt } from '../fs/chrdev.js';
import { err, OK, type Ret } from '../memoryHotplug.js';
import type { Op } from '../op.js';
import { fput, getFile, installFile, processOf, setMm, setProcess } from './process.js';
import { withProcess, withVma } from './types.js';

/** @kernel do_sys_open fs/open.c → chrdev_open: the fd handle names the new file. An open fd under the same handle is closed first (dup2-like), as the guest helper does. */
export function doOpen(op: Op, pid: string, fd: string, path: string, mode: OpenMode, sync: boolean): Ret {
  const node = chrdevAt(op.state, path);
  if (node === null) {
    op.branch('do_sys_open', 'ENOENT');
    return err('ENOENT');
  }
  const rc = node.fops.open(op, node.dev, path, mode, sync);
  if (!rc.ok) return err(rc.errno);
  const old = processOf(op, pid).fds.get(fd);
  if (old !== undefined) closeFd(op, pid, fd);
  const id = installFile(op, rc.value);
  const p = processOf(op, pid);
  const fds = new Map(p.fds);
  fds.set(fd, id);
  setProcess(op, pid, withProcess(p, { fds }));
  return OK;
}

/** @kernel close_fd fs/file.c */
export function closeFd(op: Op, pid: string, fd: string): Ret {
  const p = processOf(op, pid);
  const id = p.fds.get(fd);
  if (id === undefined) {
    op.branch('close_fd', 'EBADF');
    return err('EBADF');
  }
  const fds = new Map(p.fds);
  fds.delete(fd);
  setProcess(op, pid, withProcess(p, { fds }));
  fput(op, id);
  return OK;
}

/** @kernel copy_process kernel/fork.c (dup_fd, dup_mm → dup_mmap) */
export function doFork(op: Op, pid: string, child: string): Ret {
  const p = processOf(op, pid);
  for (const id of p.fds.values()) getFile(op, id);
  // vma_needs_copy: a VM_PFNMAP vma's entries are copied (copy_page_range); a devmap one's are faulted afresh.
  const vmas = p.vmas.filter((v) => !v.flags.dontcopy).map((v) => (v.flags.pfnmap ? v : withVma(v, { ptes: PageTable.empty() })));
  for (const v of vmas) getFile(op, v.file);
  setProcess(op, pid, p);
  setProcess(op, child, { fds: new Map(p.fds), maps: new Map(p.maps), vmas, pteTables: IntMap.empty(), pmdTables: IntMap.empty() });
  return OK;
}

/** @kernel do_exit kernel/exit.c — exit_mm (every vma's file reference), then exit_files. */
export function doExit(op: Op, pid: string): Ret {
  const p = processOf(op, pid);
  const procs = new Map(op.state.mm.procs);
  procs.delete(pid);
  setMm(op, { procs });
  for (const v of p.vmas) fput(op, v.file);
  for (const id of p.fds.values()) fput(op, id);
  return OK;
}
