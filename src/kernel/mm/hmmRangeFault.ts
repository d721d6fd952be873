/**
 * hmm_range_fault (mm/hmm.c, Debian linux-source-6.1 6.1.192): a device
 * driver's snapshot of a process's page table over [start, end), one
 * HMM pfn per 4 KiB page, faulting pages in first when asked
 * (HMM_PFN_REQ_FAULT, and HMM_PFN_REQ_WRITE for writable ones).
 *
 * The walk as the kernel does it: a page without a vma is a hole (EFAULT when
 * a fault is required, else HMM_PFN_ERROR); a vma without VM_READ or with
 * VM_IO/VM_PFNMAP fails the test (EFAULT or ERROR); an empty or
 * insufficient entry is faulted (hmm_vma_fault: EPERM for a write fault on
 * a vma without VM_WRITE, EFAULT when handle_mm_fault fails) over the rest
 * of its PMD range, then the walk restarts (-EBUSY); a THP or devmap PMD
 * gives every subpage with the PMD's order; the zero page is a valid,
 * read-only pfn.
 *
 * Modelled for anonymous vmas (src/kernel/mm/anon.ts). A file vma's entry
 * (a device-dax devmap entry) has no write bit in the model, which
 * pmd_to_hmm_pfn_flags would need: those ranges are reported as not
 * modelled rather than guessed. A device-private entry of the owner's
 * device is a valid pfn (the device page, HMM_PFN_WRITE if the entry is
 * writable) and never faulted; any other device's is not valid, and faulted
 * (do_swap_page → migrate_to_ram) when a fault is asked. A device-exclusive
 * entry is never valid: faulted (do_swap_page → remove_device_exclusive_entry)
 * when a fault is asked, not valid otherwise.
 */
import type { Op } from '../op.js';
import { entryAt, handleMmFault, needsFault } from './fault.js';
import { processOf, setProcess, vmaAt } from './process.js';
import { LEVEL_SIZE, ZERO_PAGE_PHYS, type Pte, type Vma } from './types.js';

const PAGE = 4096n;
const SZ_2M = 2n << 20n;

/** One HMM pfn (include/linux/hmm.h): HMM_PFN_VALID, _WRITE, _ERROR and the map order, with the page's frame. */
export interface HmmPfn {
  readonly valid: boolean;
  readonly write: boolean;
  readonly error: boolean;
  /** Physical address of the 4 KiB page (valid only). */
  readonly phys: bigint;
  /** hmm_pfn_to_map_order: 0, 9 (PMD) or 18 (PUD). */
  readonly order: number;
}

const NONE: HmmPfn = { valid: false, write: false, error: false, phys: 0n, order: 0 };
const ERROR: HmmPfn = { valid: false, write: false, error: true, phys: 0n, order: 0 };

export type HmmRangeResult = { readonly ok: true; readonly pfns: readonly HmmPfn[] } | { readonly ok: false; readonly errno: 'EFAULT' | 'EPERM' } | { readonly ok: false; readonly notModelled: string };

export interface HmmRequest {
  /** HMM_PFN_REQ_FAULT in default_flags. */
  readonly fault: boolean;
  /** HMM_PFN_REQ_WRITE in default_flags. */
  readonly write: boolean;
  /** dev_private_owner: the dmirror device whose device-private pages are reported as they are, not faulted. */
  readonly owner: number;
}

/** The CPU flags of an entry (pte_to_hmm_pfn_flags / pmd_to_hmm_pfn_flags). */
function cpuPfn(pte: Pte, unit: bigint, addr: bigint): HmmPfn {
  const order = pte.level === 'pte' ? 0 : pte.level === 'pmd' ? 9 : 18;
  return { valid: true, write: pte.anon?.write === true, error: false, phys: (pte.phys & ~(LEVEL_SIZE[pte.level] - 1n)) + (addr - unit) - ((addr - unit) % PAGE), order };
}

/** hmm_pte_need_fault: whether the request needs a (write) fault for these CPU flags. */
function needFault(req: HmmRequest, cpu: HmmPfn): 'none' | 'read' | 'write' {
  if (!req.fault) return 'none';
  if (req.write && !cpu.write) return 'write';
  return cpu.valid ? 'none' : 'read';
}

/**
 * @kernel hmm_range_fault mm/hmm.c — on `mm` (the process a pid handle
 * names: the mirrored mm), for the caller `comm`. Faults change that
 * process (setProcess), as handle_mm_fault would.
 */
export function hmmRangeFault(op: Op, comm: string, mm: string, start: bigint, end: bigint, req: HmmRequest): HmmRangeResult {
  const pfns: HmmPfn[] = [];
  let addr = start;
  // Each restart (-EBUSY after faults) walks again from the first page not yet stored; faults make progress, so it ends.
  for (let guard = 0; addr < end; guard++) {
    if (guard > 4 * Number((end - start) / PAGE) + 8) throw new Error('model bug: hmm_range_fault does not converge');
    const p = processOf(op, mm);
    const at = vmaAt(p, addr);
    if (at === null) {
      // hmm_vma_walk_hole without a vma, up to the next vma or the end.
      if (req.fault) return { ok: false, errno: 'EFAULT' };
      const next = p.vmas.find((v) => v.start > addr);
      const stop = next === undefined || next.start > end ? end : next.start;
      for (; addr < stop; addr += PAGE) pfns.push(ERROR);
      continue;
    }
    const vma = at.vma;
    const vend = vma.end < end ? vma.end : end;
    // hmm_vma_walk_test: no VM_READ, or VM_IO | VM_PFNMAP.
    if (vma.prot === 'none' || vma.flags.pfnmap) {
      if (req.fault) return { ok: false, errno: 'EFAULT' };
      for (; addr < vend; addr += PAGE) pfns.push(ERROR);
      continue;
    }
    if (vma.file !== null) return { ok: false, notModelled: 'file-vma' };
    const pmdEnd = (addr & ~(SZ_2M - 1n)) + SZ_2M;
    const walkEnd = pmdEnd < vend ? pmdEnd : vend;
    const have = entryAt(vma, addr);
    if (have !== null && have.pte.anon?.kind === 'device') {
      // hmm_vma_handle_pte, !pte_present: the caller's own device page is reported as it is.
      const page = op.state.hmm.pages.get(Number(have.pte.phys >> 12n));
      // Variant B16: any device's page is reported as it is (the non-owner fault did not exist).
      if (page?.device === req.owner || (page !== undefined && op.state.profile.hmmRangeFaultForeignValid)) {
        op.branch('hmm_vma_handle_pte', 'device-private-owner');
        pfns.push({ valid: true, write: have.pte.anon.write, error: false, phys: have.pte.phys, order: 0 });
        addr += PAGE;
        continue;
      }
      if (!req.fault) {
        op.branch('hmm_vma_handle_pte', 'device-private-other');
        pfns.push(NONE);
        addr += PAGE;
        continue;
      }
      op.branch('hmm_vma_handle_pte', 'device-private-fault');
      const r = hmmVmaFault(op, comm, mm, at.index, vma, addr, walkEnd, req.write);
      if (r !== null) return { ok: false, errno: r };
      continue;
    }
    if (have !== null && have.pte.anon?.kind === 'exclusive') {
      // hmm_vma_handle_pte, !pte_present: hmm_pte_need_fault with no CPU flags; is_device_exclusive_entry → fault.
      if (!req.fault) {
        op.branch('hmm_vma_handle_pte', 'device-exclusive');
        pfns.push(NONE);
        addr += PAGE;
        continue;
      }
      op.branch('hmm_vma_handle_pte', 'device-exclusive-fault');
      const r = hmmVmaFault(op, comm, mm, at.index, vma, addr, walkEnd, req.write);
      if (r !== null) return { ok: false, errno: r };
      continue;
    }
    const cpu = have === null ? NONE : cpuPfn(have.pte, have.unit, addr);
    const need = needFault(req, cpu);
    if (need !== 'none') {
      const r = hmmVmaFault(op, comm, mm, at.index, vma, addr, walkEnd, need === 'write');
      if (r !== null) return { ok: false, errno: r };
      continue; // -EBUSY: walk again from addr
    }
    if (have === null) {
      // pmd_none or pte_none without a fault asked: not valid.
      pfns.push(NONE);
      addr += PAGE;
      continue;
    }
    if (have.pte.level !== 'pte') {
      // hmm_vma_handle_pmd: every subpage to the end of this walk with the PMD's flags.
      for (; addr < walkEnd; addr += PAGE) pfns.push(cpuPfn(have.pte, have.unit, addr));
      continue;
    }
    // hmm_vma_handle_pte: a special entry other than the zero page is an error.
    if (have.pte.special && have.pte.phys !== ZERO_PAGE_PHYS) {
      if (req.fault) return { ok: false, errno: 'EFAULT' };
      pfns.push(ERROR);
    } else pfns.push(cpu);
    addr += PAGE;
  }
  return { ok: true, pfns };
}

/**
 * @kernel hmm_vma_fault mm/hmm.c — a write fault needs VM_WRITE (EPERM);
 * handle_mm_fault for every page of [addr, end) (FAULT_FLAG_REMOTE, and
 * FAULT_FLAG_WRITE for a write), EFAULT when one fails. A page already
 * mapped as asked takes no fault (handle_mm_fault finds it there).
 */
function hmmVmaFault(op: Op, comm: string, mm: string, index: number, vma: Vma, addr: bigint, end: bigint, write: boolean): 'EFAULT' | 'EPERM' | null {
  if (write && vma.prot !== 'rw') {
    op.branch('hmm_vma_fault', 'EPERM');
    return 'EPERM';
  }
  for (let a = addr; a < end; a += PAGE) {
    const p = processOf(op, mm);
    const v = p.vmas[index] as Vma;
    const have = entryAt(v, a);
    if (have !== null && !needsFault(have.pte, write)) continue;
    const r = handleMmFault(op, comm, p, index, a, write);
    setProcess(op, mm, r.proc);
    if (r.kind === 'sigbus') {
      op.branch('hmm_vma_fault', 'EFAULT');
      return 'EFAULT';
    }
  }
  return null;
}
