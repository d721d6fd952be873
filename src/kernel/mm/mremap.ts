/**
 * Mirrors mm/mremap.c (v6.1): the mremap syscall's shrink, grow-in-place
 * and move paths, vma_to_resize, and move_vma with the driver's may_split
 * check (73d5e0629919, v5.11; the profile switch mremapChecksMaySplit).
 * Entries move with the vma (move_page_tables). Growing in place asks no
 * driver: a device-dax vma can end unaligned, and then every fault in it
 * fails check_vma (SIGBUS).
 * Anonymous vmas move with their pages (moveAnonVma).
 * Left out: MREMAP_DONTUNMAP, mlocked and accountable (private) vmas.
 */
import type { MremapFlag } from '../../log/programEvents.js';
import type { Errno } from '../errno.js';
import { fopsOf } from '../fs/chrdev.js';
import { err, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { getUnmappedAreaAnon, getUnmappedAreaFile } from './getUnmappedArea.js';
import { insertVma } from './mmap.js';
import { fileOf, getFile, processOf, setProcess, vmaAt } from './process.js';
import { rssPages } from './anonFolio.js';
import { splitHugePmd, splitPmdAt } from './hugeMemory.js';
import { LEVEL_SIZE, PAGE_SHIFT, SZ_2M, withProcess, withVma, type Process, type Vma } from './types.js';
import { doMunmap, pageAlign, releaseVmas, TASK_SIZE } from './vma.js';

export interface MremapArgs {
  readonly pid: string;
  readonly map: string;
  readonly addr: bigint;
  readonly oldLen: bigint;
  readonly newLen: bigint;
  readonly flags: readonly MremapFlag[];
  readonly newAddr: bigint | null;
  /** The offset of `addr` in the handle's mapping: the handle follows the moved part. */
  readonly offset: bigint;
}

function fail<T>(op: Op, fn: string, errno: Errno): Ret<T> {
  op.branch(fn, errno);
  return err(errno);
}

/** munmap inside mremap: store the process whatever happened, release what went. */
function munmap(op: Op, pid: string, start: bigint, len: bigint): Errno | null {
  const un = doMunmap(op, processOf(op, pid), start, len);
  setProcess(op, pid, un.proc);
  releaseVmas(op, un.removed);
  return un.errno;
}

/** @kernel mremap (SYSCALL_DEFINE5) mm/mremap.c */
export function doMremap(op: Op, a: MremapArgs): Ret<bigint> {
  if ((a.addr & 0xfffn) !== 0n) return fail(op, 'mremap', 'EINVAL');
  const oldLen = pageAlign(a.oldLen);
  const newLen = pageAlign(a.newLen);
  if (newLen === 0n) return fail(op, 'mremap', 'EINVAL');
  // v6.1 looks the vma up first (since the hugetlb mremap support of v5.16): no vma at addr is
  // EFAULT even for a shrink or an equal length, which used to succeed (seen on 6.1.0-57).
  if (vmaAt(processOf(op, a.pid), a.addr) === null) return fail(op, 'mremap', 'EFAULT');
  if (a.flags.includes('fixed')) return mremapTo(op, a, oldLen, newLen);
  if (oldLen >= newLen) {
    if (oldLen > newLen) {
      const e = munmap(op, a.pid, a.addr + newLen, oldLen - newLen);
      if (e !== null) return fail(op, 'mremap', e);
    }
    return { ok: true, value: a.addr };
  }
  const r = vmaToResize(processOf(op, a.pid), a.addr, oldLen, newLen);
  if (!r.ok) return fail(op, 'vma_to_resize', r.errno);
  const { vma, index } = r.value;
  // Grow in place when the range after the vma is free (vma_expandable).
  if (oldLen === vma.end - a.addr) {
    const p = processOf(op, a.pid);
    const newEnd = vma.end + (newLen - oldLen);
    const next = p.vmas[index + 1];
    if (newEnd <= TASK_SIZE && (next === undefined || next.start >= newEnd)) {
      const vmas = p.vmas.slice();
      vmas[index] = withVma(vma, { end: newEnd, grown: true });
      setProcess(op, a.pid, withProcess(p, { vmas }));
      return { ok: true, value: a.addr };
    }
  }
  if (!a.flags.includes('maymove')) return fail(op, 'mremap', 'ENOMEM');
  // get_unmapped_area(vma->vm_file, 0, new_len, pgoff of addr, ...): the driver places it (dax_get_unmapped_area);
  // an anonymous vma gets the mm's own allocator.
  const proc = processOf(op, a.pid);
  const file = vma.file === null ? null : fileOf(op, vma.file);
  const pgoff = vma.pgoff + ((a.addr - vma.start) >> PAGE_SHIFT);
  const to = file === null ? getUnmappedAreaAnon(op, proc, 0n, newLen, pgoff) : getUnmappedAreaFile(op, proc, file, 0n, newLen, pgoff);
  if (!to.ok) return fail(op, 'get_unmapped_area', to.errno);
  return moveVma(op, a, vma, oldLen, newLen, to.value);
}

/** @kernel mremap_to mm/mremap.c — MREMAP_FIXED: clear the target, shrink, then move. */
function mremapTo(op: Op, a: MremapArgs, oldLen: bigint, newLen: bigint): Ret<bigint> {
  const to = a.newAddr ?? 0n;
  if ((to & 0xfffn) !== 0n) return fail(op, 'mremap_to', 'EINVAL');
  if (newLen > TASK_SIZE || to > TASK_SIZE - newLen) return fail(op, 'mremap_to', 'EINVAL');
  // Overlapping source and destination.
  if (to + newLen > a.addr && a.addr + oldLen > to) return fail(op, 'mremap_to', 'EINVAL');
  const e = munmap(op, a.pid, to, newLen);
  if (e !== null) return fail(op, 'mremap_to', e);
  let old = oldLen;
  if (oldLen > newLen) {
    const e2 = munmap(op, a.pid, a.addr + newLen, oldLen - newLen);
    if (e2 !== null) return fail(op, 'mremap_to', e2);
    old = newLen;
  }
  const r = vmaToResize(processOf(op, a.pid), a.addr, old, newLen);
  if (!r.ok) return fail(op, 'vma_to_resize', r.errno);
  return moveVma(op, a, r.value.vma, old, newLen, to);
}

/** @kernel vma_to_resize mm/mremap.c */
function vmaToResize(p: Process, addr: bigint, oldLen: bigint, newLen: bigint): Ret<{ readonly vma: Vma; readonly index: number }> {
  const at = vmaAt(p, addr);
  if (at === null) return err('EFAULT');
  if (oldLen > at.vma.end - addr) return err('EFAULT');
  if (newLen === oldLen) return { ok: true, value: at };
  if (at.vma.flags.dontexpand || at.vma.flags.pfnmap) return err('EFAULT');
  return { ok: true, value: at };
}

/**
 * @kernel move_vma mm/mremap.c — may_split at both ends of the moved part
 * (since v5.11), copy_vma to the new place, move_page_tables, then unmap
 * the old range.
 */
function moveVma(op: Op, a: MremapArgs, vma0: Vma, oldLen: bigint, newLen: bigint, to: bigint): Ret<bigint> {
  if (vma0.file === null) return moveAnonVma(op, a, vma0, oldLen, newLen, to);
  const vma = vma0;
  const file = fileOf(op, vma0.file);
  if (op.state.profile.mremapChecksMaySplit && !op.state.profile.mremapNoSplitCheck) {
    const ops = fopsOf(file).vmOps;
    let rc: Ret = { ok: true, value: true };
    if (vma.start !== a.addr) rc = ops.maySplit(op, file, vma, a.addr);
    if (rc.ok && vma.end !== a.addr + oldLen) rc = ops.maySplit(op, file, vma, a.addr + oldLen);
    if (!rc.ok) return fail(op, 'move_vma', rc.errno);
  }
  // move_page_tables: the entries of the moved part, re-keyed at the new place.
  let ptes = vma.ptes.emptyLike();
  for (const [k, pte] of vma.ptes.entries()) {
    const at = vma.start + (BigInt(k) << PAGE_SHIFT);
    if (at >= a.addr && at + LEVEL_SIZE[pte.level] <= a.addr + oldLen) ptes = ptes.set(Number((at - a.addr) >> PAGE_SHIFT), pte);
  }
  getFile(op, vma0.file);
  const moved = withVma(vma, {
    start: to,
    end: to + newLen,
    pgoff: vma.pgoff + ((a.addr - vma.start) >> PAGE_SHIFT),
    grown: vma.grown || newLen > oldLen,
    ptes,
  });
  const checked = op.state.profile.mremapChecksMaySplit && !op.state.profile.mremapNoSplitCheck;
  const e = munmap(op, a.pid, a.addr, oldLen);
  // Before v5.11 a failed unmap of the old range was ignored ("OOM: unable to split vma"): both copies stay.
  if (e !== null && checked) throw new Error(`model bug: the old range of a checked move failed to unmap: ${e}`);
  if (e !== null) op.branch('move_vma', `unmap-failed-ignored(${e})`);
  const p = processOf(op, a.pid);
  const maps = new Map(p.maps);
  maps.set(a.map, to - a.offset);
  setProcess(op, a.pid, withProcess(p, { vmas: insertVma(p.vmas, moved), maps }));
  return { ok: true, value: to };
}

/**
 * @kernel move_vma mm/mremap.c for an anonymous vma — no ->may_split;
 * move_page_tables takes the entries (move_huge_pmd only when the PMD stays
 * 2 MiB-aligned, else split_huge_pmd first), so the pages, their contents
 * and RSS go with them; then the old range is unmapped with nothing left to
 * free.
 */
function moveAnonVma(op: Op, a: MremapArgs, vma: Vma, oldLen: bigint, newLen: bigint, to: bigint): Ret<bigint> {
  let p = processOf(op, a.pid);
  const index = p.vmas.indexOf(vma);
  for (const cut of [a.addr, a.addr + oldLen]) p = splitPmdAt(op, p, index, cut);
  if (((to - a.addr) & (SZ_2M - 1n)) !== 0n) {
    const v = p.vmas[index] as Vma;
    for (const [k, pte] of v.ptes.entries()) if (pte.level === 'pmd') p = splitHugePmd(op, p, index, v.start + (BigInt(k) << PAGE_SHIFT));
  }
  const v = p.vmas[index] as Vma;
  let ptes = v.ptes.emptyLike();
  let left = v.ptes;
  let rss = 0;
  // move_page_tables allocates the page-table pages at the destination (alloc_new_pmd, pte_alloc): recorded once the
  // old range is unmapped (its free_pgtables sees no vma over the destination yet).
  const pteRegions: number[] = [];
  const pmdRegions: number[] = [];
  for (const [k, pte] of v.ptes.entries()) {
    const at = v.start + (BigInt(k) << PAGE_SHIFT);
    if (at < a.addr || at + LEVEL_SIZE[pte.level] > a.addr + oldLen) continue;
    ptes = ptes.set(Number((at - a.addr) >> PAGE_SHIFT), pte);
    left = left.delete(k);
    rss += rssPages(pte);
    const dest = to + (at - a.addr);
    pmdRegions.push(Number(dest >> 30n));
    if (pte.level === 'pte') pteRegions.push(Number(dest >> 21n));
  }
  const vmas = p.vmas.slice();
  vmas[index] = withVma(v, { ptes: left });
  setProcess(op, a.pid, withProcess(p, { vmas, rssAnon: p.rssAnon - rss }));
  op.branch('move_vma', 'anon');
  const moved = withVma(v, { start: to, end: to + newLen, pgoff: v.pgoff + ((a.addr - v.start) >> PAGE_SHIFT), ptes });
  const e = munmap(op, a.pid, a.addr, oldLen);
  if (e !== null) throw new Error(`model bug: the old range of an anonymous move failed to unmap: ${e}`);
  p = processOf(op, a.pid);
  let { pteTables, pmdTables } = p;
  for (const r of pteRegions) pteTables = pteTables.set(r, true);
  for (const r of pmdRegions) pmdTables = pmdTables.set(r, true);
  const maps = new Map(p.maps);
  maps.set(a.map, to - a.offset);
  setProcess(op, a.pid, withProcess(p, { vmas: insertVma(p.vmas, moved), maps, rssAnon: p.rssAnon + rss, pteTables, pmdTables }));
  return { ok: true, value: to };
}
