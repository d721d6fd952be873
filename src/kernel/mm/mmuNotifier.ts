/**
 * mmu notifiers (mm/mmu_notifier.c, v6.1) as far as the model's drivers
 * subscribe: an interval notifier a driver inserted on an mm is called
 * whenever the CPU page table of that mm changes in its range
 * (mmu_notifier_invalidate_range_start: zap, copy-on-write, THP split,
 * mprotect, fork of a COW mapping, mremap, unmap_mapping_range), and when
 * the mm goes (exit_mmap → mmu_notifier_release). The only subscriber
 * today is test_hmm's struct dmirror (dmirror_interval_invalidate), whose
 * device page table lives in the file (OpenFile.mirror): the entries of the
 * range go. Callers name the mm by its identity (Process.mm).
 */
import type { Op } from '../op.js';
import { setFile } from './process.js';
import { WideIntMap } from '../../util/wideIntMap.js';

const PAGE_SHIFT = 12n;

/**
 * @kernel mmu_notifier_invalidate_range_start mm/mmu_notifier.c →
 * dmirror_interval_invalidate lib/test_hmm.c (dmirror_do_update): the
 * device forgets [start, end] of the mm: xa_for_each_range's last index
 * is inclusive and dmirror_do_update passes end >> PAGE_SHIFT, so the page
 * just after the range goes too (a COW of one page costs the device its
 * neighbour: `kernel fuzz --hmm` seed 1208 run 12, READ faults 1 on the
 * kernel, 0 in the model until this). Its one exception: an
 * MMU_NOTIFY_MIGRATE event whose owner is the file's device (`owner`, a
 * migration that device's driver runs) is ignored by every dmirror of that
 * device, although only the migrating one (`owner.file`) erases its entries
 * of the pages (dmirror_devmem_fault_alloc_and_copy): another file of the
 * device keeps the freed backing pages in its table (finding H3). Under the
 * fix patch dmirror-invalidate-other-files only the migrating file ignores it.
 */
export function mmuNotifierInvalidate(op: Op, mm: number, start: bigint, end: bigint, owner: { readonly device: number; readonly file: number } | null = null): void {
  if (end <= start || mm === 0) return;
  for (const [id, f] of op.state.mm.files) {
    if (f.mm !== mm || f.mirror === undefined || f.mirror.size === 0) continue;
    if (owner !== null && dmirrorIndex(f.dev) === owner.device && (!op.state.profile.dmirrorInvalidateOtherFiles || id === owner.file)) continue;
    const lo = Number(start >> PAGE_SHIFT);
    const hi = Number(end >> PAGE_SHIFT);
    let mirror = f.mirror;
    for (const [k] of f.mirror.range(lo, hi)) mirror = mirror.delete(k);
    if (mirror !== f.mirror) setFile(op, id, { ...f, mirror });
  }
}

/** The dmirror device index a file's device name carries (hmm_dmirror1 → 1). */
export function dmirrorIndex(dev: string): number {
  return Number(/([0-9]+)$/.exec(dev)?.[1] ?? -1);
}

/**
 * @kernel exit_mmap mm/mmap.c → mmu_notifier_release (mn_itree_release:
 * every interval invalidated with MMU_NOTIFY_RELEASE): files bound to the
 * mm forget everything and see it gone (mmget_not_zero fails from now on);
 * such a file may live on in a child that inherited the fd.
 */
export function mmuNotifierRelease(op: Op, mm: number): void {
  for (const [id, f] of op.state.mm.files) {
    if (f.mm !== mm) continue;
    setFile(op, id, f.mirror === undefined ? { ...f, mm: null } : { ...f, mm: null, mirror: WideIntMap.empty() });
  }
}
