/**
 * Process life (kernel/fork.c dup_mm / dup_mmap, kernel/exit.c do_exit)
 * and the fd table (fs/open.c, fs/file.c): fork copies the fds and every
 * vma not marked VM_DONTCOPY, each taking a file reference; a shared file
 * vma's entries are not copied (vma_needs_copy: no anon_vma, not
 * PFNMAP/MIXEDMAP), so the child faults them in afresh; a VM_PFNMAP one's
 * (the RFC's map=none) are copied by copy_page_range, except PMD entries
 * (copy_huge_pmd: "Skip if can be re-fill on fault" for a vma that is not
 * anonymous). exit unmaps everything (exit_mm) and then closes the fds
 * (exit_files).
 */
import type { OpenMode } from '../../log/programEvents.js';
import { IntMap } from '../../util/intMap.js';
import { chrdevAt } from '../fs/chrdev.js';
import { err, OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { fput, getFile, installFile, newProcess, processOf, setMm, setProcess } from './process.js';
import { mmuNotifierInvalidate, mmuNotifierRelease } from './mmuNotifier.js';
import { copyAnonVma, zapAnonRange } from './anon.js';
import { PAGE_SHIFT, withProcess, withVma, type Vma } from './types.js';

/** @kernel do_sys_open fs/open.c → chrdev_open: the fd handle names the new file. An open fd under the same handle is closed first (dup2-like), as the guest helper does. */
export function doOpen(op: Op, pid: string, fd: string, path: string, mode: OpenMode, sync: boolean): Ret {
  const node = chrdevAt(op.state, path);
  if (node === null) {
    op.branch('do_sys_open', 'ENOENT');
    return err('ENOENT');
  }
  const rc = node.fops.open(op, node.dev, path, mode, sync, processOf(op, pid).mm);
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
  let p = processOf(op, pid);
  for (const id of p.fds.values()) getFile(op, id);
  const kept = p.vmas.filter((v) => !v.flags.dontcopy);
  const copied = copyPageRange(kept);
  let { pteTables, pmdTables } = copied;
  let rssAnon = 0;
  const childVmas = copied.vmas.slice();
  let parentVmas: Vma[] | null = null;
  kept.forEach((v, i) => {
    if (v.file !== null) {
      getFile(op, v.file);
      return;
    }
    // An anonymous vma: copy_page_range write-protects the parent's entries too.
    const c = copyAnonVma(op, v);
    // copy_page_range of a COW mapping: MMU_NOTIFY_PROTECTION_PAGE over the parent's vma before write-protecting it.
    mmuNotifierInvalidate(op, p.mm, v.start, v.end);
    childVmas[i] = c.child;
    rssAnon += c.rss;
    for (const r of c.pteRegions) pteTables = pteTables.set(r, true);
    for (const r of c.pmdRegions) pmdTables = pmdTables.set(r, true);
    if (c.parent !== v) (parentVmas ??= p.vmas.slice())[p.vmas.indexOf(v)] = c.parent;
  });
  if (parentVmas !== null) p = withProcess(p, { vmas: parentVmas });
  setProcess(op, pid, p);
  setProcess(op, child, { fds: new Map(p.fds), maps: new Map(p.maps), vmas: childVmas, pteTables, pmdTables, rssAnon, mm: newProcess(op).mm });
  return OK;
}

/**
 * @kernel dup_mmap kernel/fork.c → copy_page_range mm/memory.c (v6.1) — only
 * where vma_needs_copy (VM_PFNMAP here; a devmap vma is faulted afresh):
 * PTEs (copy_pte_range, allocating the child's PTE table and the PMD table
 * above it), PUD entries (copy_huge_pud), and no PMD entry (copy_huge_pmd
 * skips a vma that is not anonymous, though copy_pmd_range allocated the
 * PMD table for it). The write-protection copy_huge_pud applies to both
 * sides is not modelled: a dax vma's entries follow its prot here.
 */
function copyPageRange(vmas: readonly Vma[]): { readonly vmas: Vma[]; readonly pteTables: IntMap<true>; readonly pmdTables: IntMap<true> } {
  let pteTables = IntMap.empty<true>();
  let pmdTables = IntMap.empty<true>();
  const out = vmas.map((v) => {
    if (v.file === null) return v; // doFork copies anonymous vmas (copyAnonVma)
    if (!v.flags.pfnmap || v.ptes.size === 0) return v.ptes.size === 0 ? v : withVma(v, { ptes: v.ptes.emptyLike() });
    let ptes = v.ptes.emptyLike();
    for (const [k, pte] of v.ptes.entries()) {
      const at = v.start + (BigInt(k) << PAGE_SHIFT);
      if (pte.level !== 'pud') pmdTables = pmdTables.set(Number(at >> 30n), true);
      if (pte.level === 'pmd') continue;
      if (pte.level === 'pte') pteTables = pteTables.set(Number(at >> 21n), true);
      ptes = ptes.set(k, pte);
    }
    return withVma(v, { ptes });
  });
  return { vmas: out, pteTables, pmdTables };
}

/** @kernel do_exit kernel/exit.c — exit_mm (every vma's file reference), then exit_files. */
export function doExit(op: Op, pid: string): Ret {
  let p = processOf(op, pid);
  // exit_mmap → unmap_vmas: anonymous pages lose this process's mappings (the last one frees them).
  p.vmas.forEach((v, i) => {
    if (v.file === null) p = zapAnonRange(op, p, i, v.start, v.end);
  });
  const procs = new Map(op.state.mm.procs);
  procs.delete(pid);
  setMm(op, { procs });
  for (const v of p.vmas) if (v.file !== null) fput(op, v.file);
  for (const id of p.fds.values()) fput(op, id);
  mmuNotifierRelease(op, p.mm);
  return OK;
}
