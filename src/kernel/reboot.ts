/**
 * A clean reboot (SPEC §7's `reboot` event): kernel_restart
 * (kernel/reboot.c) ends every process and the kernel's state; firmware and
 * the boot description bring the machine up again (bootKernel). RAM loses
 * its contents; persistent memory (pmem regions: an NVDIMM namespace or
 * legacy pmem) keeps every word, so a kmem persistence superblock, index and
 * data survive for the next probe. No shutdown hook of the kmem persistence
 * RFC runs (it has none).
 */
import { bootKernel } from './boot.js';
import { physKeepOnly } from './mm/physmem.js';
import type { Op } from './op.js';

/** The physical ranges whose contents survive a reboot: every persistent dax region (pmem by default), namespace metadata included. */
export function persistentRanges(op: Op): Array<{ start: bigint; end: bigint }> {
  return op.state.boot.daxRegions.filter((r) => r.persistent ?? r.kind === 'pmem').map((r) => ({ start: r.start, end: r.start + r.size - 1n }));
}

/** @kernel kernel_restart kernel/reboot.c — then the boot again. */
export function reboot(op: Op): void {
  const kept = physKeepOnly(op.state.mm, persistentRanges(op));
  const r = bootKernel(op.state.boot, kept);
  for (const line of r.log) op.print(line);
  op.state = r.state;
}
