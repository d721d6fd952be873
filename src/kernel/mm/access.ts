/**
 * A CPU load or store of one aligned 64-bit word (arch/x86/mm/fault.c
 * do_user_addr_fault → handle_mm_fault), and the same through
 * /proc/PID/mem (fs/proc/base.c mem_rw → access_remote_vm → mm/gup.c
 * get_user_pages_remote with FOLL_FORCE). Memory contents are words keyed
 * by physical address; memory never written reads as zero.
 */
import type { Outcome } from '../../log/events.js';
import type { Op } from '../op.js';
import { handleMmFault, needsFault, physWordAt, pteAtAddress } from './fault.js';
import { getUserPage } from './gup.js';
import { physRead, physReadWord, physWrite, physWriteWord } from './physmem.js';
import { setProcess, vmaIndexAt } from './process.js';
import type { Process, Vma } from './types.js';

/** A store's outcome: one frozen object for every word stored (most events of a program log are stores). */
const STORED: Outcome = Object.freeze({ ok: true });

/**
 * The index of the word (physical address / 8) at `addr` through an
 * installed entry, faulting it in first; -1 when the fault ends in SIGBUS.
 * In doubles (physWordAt): this is every CPU access's path.
 */
function translate(op: Op, comm: string, pid: string, p: Process, index: number, vma: Vma, addr: bigint, write: boolean): number {
  // The address as a double once: each BigInt-to-number conversion is a builtin call.
  const a = Number(addr);
  const pte = pteAtAddress(vma, a);
  if (pte !== undefined && !needsFault(pte, write)) return physWordAt(pte, a);
  const r = handleMmFault(op, comm, p, index, addr, write);
  setProcess(op, pid, r.proc);
  if (r.kind === 'sigbus') return -1;
  return physWordAt(r.pte, a);
}

/**
 * @kernel do_user_addr_fault arch/x86/mm/fault.c — no vma: SIGSEGV
 * SEGV_MAPERR; access_error (a write to a vma without VM_WRITE, any access
 * to PROT_NONE): SIGSEGV SEGV_ACCERR; VM_FAULT_SIGBUS: SIGBUS BUS_ADRERR.
 */
export function userAccess(op: Op, comm: string, pid: string, p: Process, addr: bigint, write: boolean, value: bigint | null): Outcome {
  const index = vmaIndexAt(p, addr);
  if (index < 0) return { ok: false, signal: 'SIGSEGV', code: 'SEGV_MAPERR' };
  const vma = p.vmas[index] as Vma;
  if (vma.prot === 'none' || (write && vma.prot !== 'rw')) return { ok: false, signal: 'SIGSEGV', code: 'SEGV_ACCERR' };
  const w = translate(op, comm, pid, p, index, vma, addr, write);
  if (w < 0) return { ok: false, signal: 'SIGBUS', code: 'BUS_ADRERR' };
  if (write) {
    physWriteWord(op, w, value ?? 0n);
    return STORED;
  }
  return { ok: true, value: `0x${physReadWord(op.state.mm, w).toString(16)}` };
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
    physWrite(op, page.phys, value ?? 0n);
    return { ok: true };
  }
  return { ok: true, value: `0x${physRead(op.state.mm, page.phys).toString(16)}` };
}
