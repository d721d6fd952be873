/**
 * A CPU load or store of one aligned 64-bit word (arch/x86/mm/fault.c
 * do_user_addr_fault → handle_mm_fault), and the same through
 * /proc/PID/mem (fs/proc/base.c mem_rw → access_remote_vm → mm/gup.c
 * get_user_pages_remote with FOLL_FORCE). Memory contents are words keyed
 * by physical address; memory never written reads as zero.
 */
import type { Outcome } from '../../log/events.js';
import type { Op } from '../op.js';
import { entryAt, handleMmFault, needsFault, physOf } from './fault.js';
import { getUserPage } from './gup.js';
import { physRead, physWrite } from './physmem.js';
import { processOf, setProcess, vmaAt } from './process.js';
import type { Process, Vma } from './types.js';

function readWord(op: Op, phys: bigint): bigint {
  return physRead(op.state.mm, phys);
}

function writeWord(op: Op, phys: bigint, value: bigint): void {
  physWrite(op, phys, value);
}

/** The word at `addr` through an installed entry, faulting it in first; null when the fault ends in SIGBUS. */
function translate(op: Op, comm: string, pid: string, p: Process, index: number, vma: Vma, addr: bigint, write: boolean): bigint | null {
  const have = entryAt(vma, addr);
  if (have !== null && !needsFault(have.pte, write)) return physOf(have.pte, have.unit, addr);
  const r = handleMmFault(op, comm, p, index, addr, write);
  setProcess(op, pid, r.proc);
  if (r.kind === 'sigbus') return null;
  return physOf(r.pte, r.unit, addr);
}

/**
 * @kernel do_user_addr_fault arch/x86/mm/fault.c — no vma: SIGSEGV
 * SEGV_MAPERR; access_error (a write to a vma without VM_WRITE, any access
 * to PROT_NONE): SIGSEGV SEGV_ACCERR; VM_FAULT_SIGBUS: SIGBUS BUS_ADRERR.
 */
export function userAccess(op: Op, comm: string, pid: string, addr: bigint, write: boolean, value: bigint | null): Outcome {
  const p = processOf(op, pid);
  const at = vmaAt(p, addr);
  if (at === null) return { ok: false, signal: 'SIGSEGV', code: 'SEGV_MAPERR' };
  if (at.vma.prot === 'none' || (write && at.vma.prot !== 'rw')) return { ok: false, signal: 'SIGSEGV', code: 'SEGV_ACCERR' };
  const phys = translate(op, comm, pid, p, at.index, at.vma, addr, write);
  if (phys === null) return { ok: false, signal: 'SIGBUS', code: 'BUS_ADRERR' };
  if (write) {
    writeWord(op, phys, value ?? 0n);
    return { ok: true };
  }
  return { ok: true, value: `0x${readWord(op, phys).toString(16)}` };
}

/**
 * @kernel mem_rw fs/proc/base.c → __access_remote_vm mm/memory.c →
 * get_user_pages_remote mm/gup.c (FOLL_FORCE): check_vma_flags refuses
 * VM_IO/VM_PFNMAP and a forced write to a shared vma without VM_WRITE
 * (EFAULT); a forced read of PROT_NONE works while VM_MAYREAD. A failed
 * page makes access_remote_vm copy nothing, which mem_rw returns as EIO.
 */
export function procMemAccess(op: Op, comm: string, pid: string, addr: bigint, write: boolean, value: bigint | null): Outcome {
  const page = getUserPage(op, comm, pid, addr, { write, force: true });
  if (!page.ok) {
    op.branch('mem_rw', `EIO(${page.why})`);
    return { ok: false, errno: 'EIO' };
  }
  if (write) {
    writeWord(op, page.phys, value ?? 0n);
    return { ok: true };
  }
  return { ok: true, value: `0x${readWord(op, page.phys).toString(16)}` };
}
