/**
 * How users without struct pages find the pfn behind an address
 * (mm/memory.c and mm/gup.c, v6.1): follow_pte walks the page tables to a
 * present PTE, and fixup_user_fault faults one in first. KVM's
 * hva_to_pfn_remapped and VFIO type1's follow_fault_pfn use them for
 * VM_IO/VM_PFNMAP vmas, which get_user_pages refuses. The 2020 RFC's
 * patches 2/10 and 4/10 ("mm: Handle pmd/pud entries in follow_pfn()") teach
 * the walk huge special entries, which device-dax without struct pages
 * installs at 2 MiB and 1 GiB.
 */
import type { Op } from '../op.js';
import { entryAt, handleMmFault, physOf } from './fault.js';
import { processOf, setProcess, vmaAt } from './process.js';
import type { Vma } from './types.js';

export type FollowResult = { readonly ok: true; readonly phys: bigint; readonly write: boolean } | { readonly ok: false; readonly errno: 'EINVAL' };

/**
 * Whether the entry is writable. Every entry the device-dax handlers insert
 * carries vma->vm_page_prot (vmf_insert_mixed, vmf_insert_pfn_pmd/pud_prot),
 * which for a shared writable mapping of a character device (no writeback,
 * so no write-notify: vma_wants_writenotify) has _PAGE_RW, and mprotect's
 * change_protection keeps entries in step with the vma: pte_write is the
 * vma's PROT_WRITE.
 */
export function pteWrite(vma: Vma): boolean {
  return vma.prot === 'rw';
}

/**
 * @kernel follow_pte mm/memory.c — only a present PTE: a huge PMD or PUD
 * entry is pmd_bad/pud_bad to the walk (_PAGE_PSE is no table bit) and it
 * fails with -EINVAL, as for no entry; with the RFC's 2/10 and 4/10 (and not
 * under the follow-pfn-pte-only variant) the huge entry's subpage is the
 * answer.
 */
export function followPte(op: Op, vma: Vma, addr: bigint): FollowResult {
  const have = entryAt(vma, addr);
  const prof = op.state.profile;
  // follow_pte: pte_present fails for a device-private or device-exclusive entry as for none.
  if (have === null || have.pte.anon?.kind === 'device' || have.pte.anon?.kind === 'exclusive') return { ok: false, errno: 'EINVAL' };
  if (have.pte.level !== 'pte' && !(prof.devdaxMapNone && !prof.followPfnPteOnly)) {
    op.branch('follow_pte', `EINVAL(${have.pte.level}_bad)`);
    return { ok: false, errno: 'EINVAL' };
  }
  return { ok: true, phys: physOf(have.pte, have.unit, addr), write: pteWrite(vma) };
}

/**
 * @kernel fixup_user_fault mm/gup.c — vma_permits_fault (a write needs
 * VM_WRITE, a read VM_READ), then handle_mm_fault; VM_FAULT_SIGBUS is
 * -EFAULT (vm_fault_to_errno).
 */
export function fixupUserFault(op: Op, comm: string, pid: string, addr: bigint, write: boolean): { readonly ok: true } | { readonly ok: false; readonly errno: 'EFAULT' } {
  const p = processOf(op, pid);
  const at = vmaAt(p, addr);
  if (at === null || (write ? at.vma.prot !== 'rw' : at.vma.prot === 'none')) {
    op.branch('fixup_user_fault', 'EFAULT(vma_permits_fault)');
    return { ok: false, errno: 'EFAULT' };
  }
  const have = entryAt(at.vma, addr);
  if (have !== null && have.pte.anon?.kind !== 'device' && have.pte.anon?.kind !== 'exclusive') return { ok: true };
  const r = handleMmFault(op, comm, p, at.index, addr, write);
  setProcess(op, pid, r.proc);
  if (r.kind === 'sigbus') {
    op.branch('fixup_user_fault', 'EFAULT(VM_FAULT_SIGBUS)');
    return { ok: false, errno: 'EFAULT' };
  }
  return { ok: true };
}

/**
 * The common part of hva_to_pfn_remapped and follow_fault_pfn: follow_pte,
 * else fixup_user_fault and follow_pte again (its errno is the caller's).
 */
export function followFaultPfn(op: Op, comm: string, pid: string, addr: bigint, write: boolean): FollowResult | { readonly ok: false; readonly errno: 'EFAULT' } {
  const vmaNow = (): Vma => {
    const at = vmaAt(processOf(op, pid), addr);
    if (at === null) throw new Error('model bug: the vma went away under mmap_lock');
    return at.vma;
  };
  const first = followPte(op, vmaNow(), addr);
  if (first.ok) return first;
  const fixed = fixupUserFault(op, comm, pid, addr, write);
  if (!fixed.ok) return fixed;
  return followPte(op, vmaNow(), addr);
}
