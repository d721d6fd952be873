/**
 * get_user_pages for one page (mm/gup.c, v6.1 __get_user_pages): the vma's
 * flags are checked (check_vma_flags), then the entry is followed
 * (follow_page_mask; follow_devmap_pmd/pud hand out the subpage of a
 * device-dax unit) and, when none is there, faulted in (faultin_page →
 * handle_mm_fault). A device-dax page is a ZONE_DEVICE page, which
 * FOLL_LONGTERM may pin (is_longterm_pinnable_page: not movable, not
 * coherent device memory), and a character device is not fsdax, so the
 * long-term pins of VFIO behave like the others here.
 */
import type { Op } from '../op.js';
import { entryAt, handleMmFault, physOf } from './fault.js';
import { processOf, setProcess, vmaAt } from './process.js';
import type { Pte, Vma } from './types.js';

export interface GupFlags {
  /** FOLL_WRITE */
  readonly write: boolean;
  /** FOLL_FORCE (ptrace and /proc/PID/mem) */
  readonly force: boolean;
}

/** A page GUP found (its physical address, the byte `addr` names), or why it found none (the callers' errno differs). */
export type GupResult = { readonly ok: true; readonly phys: bigint } | { readonly ok: false; readonly why: string };

/**
 * @kernel check_vma_flags mm/gup.c — VM_IO|VM_PFNMAP has no pages (-EFAULT);
 * a write needs VM_WRITE, or FOLL_FORCE on a COW mapping (a dax vma is
 * shared: never); a read needs VM_READ, or FOLL_FORCE with VM_MAYREAD.
 * The reason, or null when the vma may be walked.
 */
export function checkVmaFlags(vma: Vma, flags: GupFlags): string | null {
  if (vma.flags.pfnmap) return 'check_vma_flags:VM_PFNMAP';
  if (flags.write && vma.prot !== 'rw' && (!flags.force || vma.flags.mayshare)) return 'check_vma_flags:shared-readonly';
  if (!flags.write && vma.prot === 'none' && !flags.force) return 'check_vma_flags:no-VM_READ';
  return null;
}

/**
 * @kernel can_follow_write_pte mm/gup.c (v6.1, after 5535be309971 removed
 * FOLL_COW) — follow_page_pte hands out a page for a write only through a
 * writable entry, or with FOLL_FORCE through a read-only entry of a private
 * vma without VM_WRITE whose page is an exclusive anon page (what the forced
 * write fault's COW or reuse left); otherwise faultin_page runs the write
 * fault first. Reads and a driver's entries always follow.
 */
function canFollow(vma: Vma, pte: Pte, flags: GupFlags): boolean {
  const a = pte.anon;
  // follow_page_pte: a device-private or device-exclusive entry is not present (no page): faultin_page migrates
  // it back or restores it.
  if (a?.kind === 'device' || a?.kind === 'exclusive') return false;
  if (!flags.write || a === undefined || a.write) return true;
  return flags.force && vma.prot !== 'rw' && a.kind === 'page' && a.exclusive;
}

/**
 * @kernel __get_user_pages mm/gup.c — one page of `pid` at `addr`:
 * find_extend_vma, check_vma_flags, follow_page_mask, else faultin_page
 * (VM_FAULT_SIGBUS is -EFAULT).
 */
export function getUserPage(op: Op, comm: string, pid: string, addr: bigint, flags: GupFlags): GupResult {
  const p = processOf(op, pid);
  const at = vmaAt(p, addr);
  if (at === null) return { ok: false, why: 'no-vma' };
  const bad = checkVmaFlags(at.vma, flags);
  if (bad !== null) return { ok: false, why: bad };
  const have = entryAt(at.vma, addr);
  if (have !== null && canFollow(at.vma, have.pte, flags)) return { ok: true, phys: physOf(have.pte, have.unit, addr) };
  const r = handleMmFault(op, comm, p, at.index, addr, flags.write);
  setProcess(op, pid, r.proc);
  if (r.kind === 'sigbus') return { ok: false, why: 'fault' };
  return { ok: true, phys: physOf(r.pte, r.unit, addr) };
}
