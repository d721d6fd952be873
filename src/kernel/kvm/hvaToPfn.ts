/**
 * KVM's lookup of the host page behind guest memory (virt/kvm/kvm_main.c,
 * v6.1 hva_to_pfn): get_user_pages first (hva_to_pfn_fast/_slow), and for a
 * VM_IO/VM_PFNMAP vma, which has no pages, hva_to_pfn_remapped through
 * follow_pte. Model-only: the guest has no KVM here. Which pfn the guest
 * gets is what the RFC "device-dax: Support devices without PFN metadata"
 * (2020) needs for guests backed by /dev/daxX.Y without struct pages.
 */
import type { Outcome } from '../../log/events.js';
import { followFaultPfn } from '../mm/followPte.js';
import { getUserPage } from '../mm/gup.js';
import { processOf, vmaAt } from '../mm/process.js';
import type { Op } from '../op.js';

function errorPfn(op: Op, why: string): Outcome {
  // KVM_PFN_ERR_FAULT: the vCPU's fault handler (kvm_handle_error_pfn) makes KVM_RUN return -EFAULT.
  op.branch('hva_to_pfn', `EFAULT(${why})`);
  return { ok: false, errno: 'EFAULT' };
}

/**
 * @kernel hva_to_pfn virt/kvm/kvm_main.c — `write` is write_fault. A page
 * GUP finds is the answer; else no vma or a vma with pages is
 * KVM_PFN_ERR_FAULT; a VM_PFNMAP vma goes through hva_to_pfn_remapped:
 * follow_pte, fixup_user_fault, follow_pte again, any error being
 * KVM_PFN_ERR_FAULT. A read-only entry for a write fault is
 * KVM_PFN_ERR_RO_FAULT, which x86 turns into MMIO emulation, not a pfn:
 * reported here as EFAULT too (no page is mapped for the guest). A pfn
 * without struct page passes kvm_try_get_pfn (kvm_is_reserved_pfn: not
 * pfn_valid).
 */
export function hvaToPfn(op: Op, comm: string, pid: string, addr: bigint, write: boolean): Outcome {
  const page = getUserPage(op, comm, pid, addr, { write, force: false });
  if (page.ok) return { ok: true, value: `0x${(page.phys & ~0xfffn).toString(16)}` };
  const at = vmaAt(processOf(op, pid), addr);
  if (at === null) return errorPfn(op, 'no-vma');
  if (!at.vma.flags.pfnmap) return errorPfn(op, `gup:${page.why}`);
  const r = followFaultPfn(op, comm, pid, addr, write);
  if (!r.ok) return errorPfn(op, `hva_to_pfn_remapped:${r.errno}`);
  if (write && !r.write) return errorPfn(op, 'KVM_PFN_ERR_RO_FAULT');
  return { ok: true, value: `0x${(r.phys & ~0xfffn).toString(16)}` };
}
