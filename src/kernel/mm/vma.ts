/**
 * Vma surgery (mm/mmap.c v6.1): __split_vma with the driver's may_split,
 * do_munmap, zapping entries (zap_page_range / unmap_mapping_range) and
 * freeing page-table pages no vma needs any more (free_pgtables).
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import { PageTable } from './pageTable.js';
import type { Errno } from '../errno.js';
import { err, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { fopsOf } from '../fs/chrdev.js';
import { fileOf, fput, getFile } from './process.js';
import { withState } from '../state.js';
import { zapAnonRange } from './anon.js';
import { splitPmdAt } from './hugeMemory.js';
import { LEVEL_SIZE, PAGE_SHIFT, SZ_2M, sameVmFlags, withMm, withProcess, withVma, type OpenFile, type Process, type Vma } from './types.js';

/** Entries of `v` whose unit lies wholly in [lo, hi) (addresses), re-keyed from `base`. */
function entriesIn(v: Vma, lo: bigint, hi: bigint, base: bigint): PageTable {
  let out = v.ptes.emptyLike();
  const first = Number((lo - v.start) >> PAGE_SHIFT);
  const last = Number((hi - v.start) >> PAGE_SHIFT) - 1;
  for (const [k, pte] of v.ptes.range(first, last)) {
    const at = v.start + (BigInt(k) << PAGE_SHIFT);
    if (at + LEVEL_SIZE[pte.level] > hi) continue; // a huge entry straddling the cut: __split_huge_pmd zaps it (file vma)
    out = out.set(Number((at - base) >> PAGE_SHIFT), pte);
  }
  return out;
}

/**
 * @kernel __split_vma mm/mmap.c — asks vm_ops->may_split first; the new vma
 * takes a file reference. Returns the two halves.
 */
export function splitVma(op: Op, v: Vma, addr: bigint): Ret<readonly [Vma, Vma]> {
  // [vvar] and [vdso] are special mappings: special_mapping_split (mm/mmap.c v6.1) refuses every split ("kernel
  // has expectations over the number of pages in mapping"), so a munmap, mprotect or madvise cutting one is EINVAL.
  if (v.name === '[vvar]' || v.name === '[vdso]') {
    op.branch('__split_vma', 'special_mapping_split');
    return err('EINVAL');
  }
  // An anonymous vma has no vm_ops (no ->may_split) and no file to reference.
  if (v.file !== null) {
    const file = fileOf(op, v.file);
    if (!op.state.profile.daxNoMaySplit) {
      const rc = fopsOf(file).vmOps.maySplit(op, file, v, addr);
      if (!rc.ok) {
        op.branch('__split_vma', rc.errno);
        return err(rc.errno);
      }
    }
    getFile(op, v.file);
  }
  const left = withVma(v, { end: addr, ptes: entriesIn(v, v.start, addr, v.start) });
  const right = withVma(v, { start: addr, pgoff: v.pgoff + ((addr - v.start) >> PAGE_SHIFT), ptes: entriesIn(v, addr, v.end, addr) });
  return { ok: true, value: [left, right] };
}

/** Split the vma containing `addr` there, if `addr` is inside one and not at its start. */
export function splitAt(op: Op, p: Process, addr: bigint): Ret<Process> {
  const i = p.vmas.findIndex((v) => v.start < addr && addr < v.end);
  if (i < 0) return { ok: true, value: p };
  // vma_adjust_trans_huge → split_huge_pmd_if_needed: a cut inside a 2 MiB block the vma holds whole calls
  // split_huge_pmd_address wherever the PMD table exists (mm_find_pmd only needs the PUD), and __split_huge_pmd
  // starts its MMU_NOTIFY_CLEAR over the block before it looks for a huge PMD (`kernel fuzz --hmm` seed 1210 run
  // 28: one page unmapped, a device page table lost the whole block); an anonymous THP there is split into PTEs.
  const v = p.vmas[i] as Vma;
  const haddr = addr & ~(SZ_2M - 1n);
  if (haddr >= v.start && haddr + SZ_2M <= v.end && p.pmdTables.has(Number(addr >> 30n))) mmuNotifierInvalidate(op, p.mm, haddr, haddr + SZ_2M);
  const q = splitPmdAt(op, p, i, addr);
  const rc = splitVma(op, q.vmas[i] as Vma, addr);
  if (!rc.ok) return err(rc.errno);
  const vmas = [...q.vmas.slice(0, i), rc.value[0], rc.value[1], ...q.vmas.slice(i + 1)];
  return { ok: true, value: withProcess(q, { vmas }) };
}

/**
 * @kernel vma_merge mm/mmap.c (as mprotect_fixup and madvise_update_vma call
 * it, v6.1) — after a range's protection or flags change, a vma whose
 * boundary lies in [lo, hi] merges with its neighbour when nothing tells
 * them apart: the same file at contiguous offsets, the same prot and
 * vm_flags (is_mergeable_vma; dax_vm_ops has no ->close). The model's own
 * `mmapAlign` must agree too (two vmas made under different aligns are not
 * merged: a case no recorded trace has shown). The vmas merged away are
 * returned: the caller stores the process, then drops their file
 * references with releaseVmas (__vma_adjust's fput of the removed next).
 */
export function mergeAdjacent(p: Process, lo: bigint, hi: bigint): { readonly proc: Process; readonly removed: readonly Vma[] } {
  const out: Vma[] = [];
  const removed: Vma[] = [];
  for (const v of p.vmas) {
    const prev = out[out.length - 1];
    if (
      prev !== undefined &&
      prev.end === v.start &&
      v.start >= lo &&
      v.start <= hi &&
      prev.file === v.file &&
      prev.pgoff + ((prev.end - prev.start) >> PAGE_SHIFT) === v.pgoff &&
      prev.prot === v.prot &&
      prev.mmapAlign === v.mmapAlign &&
      sameVmFlags(prev.flags, v.flags)
    ) {
      let ptes = prev.ptes;
      const shift = Number((v.start - prev.start) >> PAGE_SHIFT);
      for (const [k, pte] of v.ptes.entries()) ptes = ptes.set(k + shift, pte);
      out[out.length - 1] = withVma(prev, { end: v.end, grown: prev.grown || v.grown, ptes });
      removed.push(v);
      continue;
    }
    out.push(v);
  }
  return { proc: removed.length > 0 ? withProcess(p, { vmas: out }) : p, removed };
}

/**
 * @kernel free_pgtables mm/memory.c (free_pgd_range's floor/ceiling): the
 * page-table pages over the unmapped range [start, end) that no remaining vma
 * shares go (per 2 MiB PTE table and 1 GiB PMD table). Tables elsewhere stay:
 * each was made by a fault or a fork under a vma that still covers it, so the
 * walk follows the range unmapped, not every table the process has.
 */
export function freePgtables(p: Process, start: bigint, end: bigint): Process {
  let pte = p.pteTables;
  for (const [k] of p.pteTables.range(Number(start >> 21n), Number((end - 1n) >> 21n))) if (!vmaOverlaps(p.vmas, BigInt(k) << 21n, (BigInt(k) + 1n) << 21n)) pte = pte.delete(k);
  let pmd = p.pmdTables;
  for (const [k] of p.pmdTables.range(Number(start >> 30n), Number((end - 1n) >> 30n))) if (!vmaOverlaps(p.vmas, BigInt(k) << 30n, (BigInt(k) + 1n) << 30n)) pmd = pmd.delete(k);
  return pte === p.pteTables && pmd === p.pmdTables ? p : withProcess(p, { pteTables: pte, pmdTables: pmd });
}

/** Whether a vma of `vmas` overlaps [lo, hi) (a loop, not closures: tsx's keepNames wraps each closure a call makes). */
function vmaOverlaps(vmas: readonly Vma[], lo: bigint, hi: bigint): boolean {
  for (const v of vmas) if (v.start < hi && lo < v.end) return true;
  return false;
}

/**
 * @kernel do_munmap mm/mmap.c (__do_munmap): split at both ends (each may
 * fail, the first split staying done), then unmap every vma inside. The
 * returned process still holds the removed vmas' file references: the
 * caller drops them once the process is stored (fput may run ->release).
 */
export function doMunmap(op: Op, p: Process, start: bigint, length: bigint): MunmapResult {
  const len = pageAlign(length);
  if ((start & 0xfffn) !== 0n || start + len > TASK_SIZE || len === 0n) return { proc: p, removed: [], errno: 'EINVAL' };
  const end = start + len;
  const first = splitAt(op, p, start);
  if (!first.ok) return { proc: p, removed: [], errno: first.errno };
  const second = splitAt(op, first.value, end);
  if (!second.ok) return { proc: first.value, removed: [], errno: second.errno };
  let proc = second.value;
  // unmap_region → unmap_vmas: anonymous pages of the vmas going lose their mappings (and RSS) now.
  const vmas = proc.vmas;
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i] as Vma;
    if (v.start >= start && v.end <= end && v.file === null) proc = zapAnonRange(op, proc, i, v.start, v.end);
  }
  // The vmas inside the range go; the rest stay (loops, not closures: this runs on every munmap).
  const removed: Vma[] = [];
  const kept: Vma[] = [];
  for (const v of proc.vmas) (v.start >= start && v.end <= end ? removed : kept).push(v);
  // unmap_region: the range is invalidated for the mm's notifiers (a device mirroring it forgets it).
  if (removed.length > 0) mmuNotifierInvalidate(op, p.mm, start, end);
  if (removed.length > 0) proc = freePgtables(withProcess(proc, { vmas: kept }), start, end);
  return { proc, removed, errno: null };
}

/** What do_munmap left: the process (store it even on failure: a first split stays done), the vmas to release, the errno. */
export interface MunmapResult {
  readonly proc: Process;
  readonly removed: readonly Vma[];
  readonly errno: Errno | null;
}

/** Drop the file references of vmas that were unmapped. */
export function releaseVmas(op: Op, removed: readonly Vma[]): void {
  for (const v of removed) if (v.file !== null) fput(op, v.file);
}

/** @kernel zap_page_range mm/memory.c — entries overlapping [lo, hi) go; page-table pages stay. */
export function zapRange(v: Vma, lo: bigint, hi: bigint): Vma {
  if (v.ptes.size === 0) return v;
  let ptes = v.ptes;
  for (const [k, pte] of v.ptes.entries()) {
    const at = v.start + (BigInt(k) << PAGE_SHIFT);
    if (at < hi && lo < at + LEVEL_SIZE[pte.level]) ptes = ptes.delete(k);
  }
  return ptes === v.ptes ? v : withVma(v, { ptes });
}

/** 47-bit user address space (x86-64 4-level; 5-level keeps 47 bits without a hint above it). */
export const TASK_SIZE = (1n << 47n) - 4096n;

export function pageAlign(len: bigint): bigint {
  return (len + 0xfffn) & ~0xfffn;
}


/**
 * @kernel unmap_mapping_range mm/memory.c (whole file, even_cows) — every
 * entry of every vma that maps one of the inode's files is zapped; the vmas
 * stay, and fault again once the driver lets them.
 */
export function unmapMappingRange(op: Op, inode: (f: OpenFile) => boolean): void {
  const mm = op.state.mm;
  let procs: Map<string, Process> | null = null;
  const zapped: Array<readonly [number, Vma]> = [];
  for (const [pid, p] of mm.procs) {
    let vmas: Vma[] | null = null;
    p.vmas.forEach((v, i) => {
      if (v.ptes.size === 0 || v.file === null || !inode(fileOf(op, v.file))) return;
      (vmas ??= p.vmas.slice())[i] = withVma(v, { ptes: v.ptes.emptyLike() });
      zapped.push([p.mm, v]);
    });
    if (vmas !== null) (procs ??= new Map(mm.procs)).set(pid, withProcess(p, { vmas }));
  }
  if (procs !== null) op.state = withState(op.state, { mm: withMm(mm, { procs }) });
  // zap_page_range_single per vma: MMU_NOTIFY_CLEAR for each mm's range.
  for (const [m, v] of zapped) mmuNotifierInvalidate(op, m, v.start, v.end);
}
