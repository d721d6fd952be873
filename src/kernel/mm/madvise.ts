/**
 * Mirrors mm/madvise.c (v6.1) for the advice device-dax users give:
 * MADV_HUGEPAGE / NOHUGEPAGE / DONTFORK / DOFORK change vm_flags on the
 * range (madvise_update_vma splits at its ends through may_split),
 * MADV_DONTNEED zaps the entries (no split; a huge entry straddling the
 * range goes whole, as __split_huge_pmd does for a file vma). MADV_HWPOISON
 * and MADV_SOFT_OFFLINE exist only with CONFIG_MEMORY_FAILURE, which the
 * modelled (Debian cloud) configuration lacks: EINVAL.
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Advice } from '../../log/programEvents.js';
import { err, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { zapAnonRange } from './anon.js';
import { processOf, setProcess, vmaAt } from './process.js';
import { sameVmFlags, withProcess, withVma, type Process, type VmFlags } from './types.js';
import { mergeAdjacent, pageAlign, releaseVmas, splitAt, zapRange } from './vma.js';

const FLAG_ADVICE: Partial<Readonly<Record<Advice, (f: VmFlags) => VmFlags>>> = {
  // hugepage_madvise mm/huge_memory.c
  hugepage: (f) => ({ ...f, hugepage: true, nohugepage: false }),
  nohugepage: (f) => ({ ...f, hugepage: false, nohugepage: true }),
  dontfork: (f) => ({ ...f, dontcopy: true }),
  dofork: (f) => ({ ...f, dontcopy: false }),
};

/** @kernel do_madvise mm/madvise.c — an unmapped part of the range gives ENOMEM after the mapped parts were done. */
export function doMadvise(op: Op, pid: string, start: bigint, length: bigint, advice: Advice): Ret {
  if (advice === 'hwpoison' || advice === 'soft_offline') {
    op.branch('madvise_behavior_valid', 'EINVAL');
    return err('EINVAL');
  }
  if ((start & 0xfffn) !== 0n) return err('EINVAL');
  const len = pageAlign(length);
  if (len === 0n) return { ok: true, value: true };
  const end = start + len;
  let p = processOf(op, pid);
  let unmapped = false;
  let cursor = start;
  const change = FLAG_ADVICE[advice];
  while (cursor < end) {
    const at = vmaAt(p, cursor);
    if (at === null) {
      unmapped = true;
      const next = p.vmas.find((v) => v.start > cursor && v.start < end);
      if (next === undefined) break;
      cursor = next.start;
      continue;
    }
    const stop = end < at.vma.end ? end : at.vma.end;
    if (change === undefined && at.vma.flags.pfnmap) {
      // madvise_dontneed_free_valid_vma: not on VM_LOCKED|VM_PFNMAP|VM_HUGETLB.
      setProcess(op, pid, p);
      op.branch('madvise_dontneed_free', 'EINVAL');
      return err('EINVAL');
    }
    // zap_page_range: MMU_NOTIFY_CLEAR over the range before the entries go.
    if (change === undefined) mmuNotifierInvalidate(op, p.mm, cursor, stop);
    if (change === undefined && at.vma.file === null) {
      // MADV_DONTNEED on anonymous memory: the pages go (a later read maps the zero page again).
      p = zapAnonRange(op, p, at.index, cursor, stop);
    } else if (change === undefined) {
      // MADV_DONTNEED: zap_page_range on the part of this vma.
      const vmas = p.vmas.slice();
      vmas[at.index] = zapRange(at.vma, cursor, stop);
      p = withProcess(p, { vmas });
    } else {
      const r = updateFlags(op, p, cursor, stop, change);
      if (!r.ok) {
        setProcess(op, pid, p);
        op.branch('madvise_update_vma', r.errno);
        return err(r.errno);
      }
      p = r.value;
    }
    cursor = stop;
  }
  // madvise_update_vma's vma_merge: a range whose flags changed joins neighbours it no longer differs from.
  const merged = change === undefined ? { proc: p, removed: [] } : mergeAdjacent(p, start, end);
  setProcess(op, pid, merged.proc);
  releaseVmas(op, merged.removed);
  if (unmapped) {
    op.branch('do_madvise', 'ENOMEM');
    return err('ENOMEM');
  }
  return { ok: true, value: true };
}

/** @kernel madvise_update_vma mm/madvise.c — split at both ends (only when the flags change), then set them. */
function updateFlags(op: Op, p: Process, lo: bigint, hi: bigint, change: (f: VmFlags) => VmFlags): Ret<Process> {
  const at = vmaAt(p, lo);
  if (at === null) throw new Error('model bug: madvise on no vma');
  const next = change(at.vma.flags);
  if (sameVmFlags(next, at.vma.flags)) return { ok: true, value: p };
  let proc = p;
  for (const cut of [lo, hi]) {
    const s = splitAt(op, proc, cut);
    if (!s.ok) return err(s.errno);
    proc = s.value;
  }
  const now = vmaAt(proc, lo);
  if (now === null) throw new Error('model bug: vma vanished in madvise');
  const vmas = proc.vmas.slice();
  vmas[now.index] = withVma(now.vma, { flags: next });
  return { ok: true, value: withProcess(proc, { vmas }) };
}
