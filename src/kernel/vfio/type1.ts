/**
 * VFIO type1's pinning of a DMA mapping's pages (drivers/vfio/vfio_iommu_type1.c,
 * v6.1 vaddr_get_pfns, follow_fault_pfn), one page of VFIO_IOMMU_MAP_DMA.
 * Model-only: the guest has no IOMMU here. Since "vfio/type1: Use follow_pfn
 * for VM_PFNMAP VMAs" (v5.6, the 2020 RFC's 9/10) a VM_PFNMAP vma's pfn comes
 * from its page tables, not from vm_pgoff.
 */
import type { Outcome } from '../../log/events.js';
import { followFaultPfn } from '../mm/followPte.js';
import { getUserPage } from '../mm/gup.js';
import { processOf, vmaAt } from '../mm/process.js';
import type { Op } from '../op.js';

/**
 * @kernel vaddr_get_pfns drivers/vfio/vfio_iommu_type1.c —
 * pin_user_pages_remote(FOLL_LONGTERM, FOLL_WRITE for IOMMU_WRITE); on
 * failure, a VM_PFNMAP vma goes through follow_fault_pfn (follow_pte,
 * fixup_user_fault, follow_pte: its errno is the ioctl's; a read-only entry
 * for a writable DMA map is -EFAULT), and the pfn is accepted when
 * is_invalid_reserved_pfn holds: a device without struct pages has no
 * memmap there, so pfn_valid is false. Any other failure is GUP's -EFAULT.
 */
export function vaddrGetPfns(op: Op, comm: string, pid: string, addr: bigint, write: boolean): Outcome {
  const page = getUserPage(op, comm, pid, addr, { write, force: false });
  if (page.ok) return { ok: true, value: `0x${(page.phys & ~0xfffn).toString(16)}` };
  const at = vmaAt(processOf(op, pid), addr);
  if (at === null || !at.vma.flags.pfnmap) {
    op.branch('vaddr_get_pfns', `EFAULT(gup:${page.why})`);
    return { ok: false, errno: 'EFAULT' };
  }
  const r = followFaultPfn(op, comm, pid, addr, write);
  if (!r.ok) {
    op.branch('follow_fault_pfn', r.errno);
    return { ok: false, errno: r.errno };
  }
  if (write && !r.write) {
    op.branch('follow_fault_pfn', 'EFAULT(!pte_write)');
    return { ok: false, errno: 'EFAULT' };
  }
  return { ok: true, value: `0x${(r.phys & ~0xfffn).toString(16)}` };
}
