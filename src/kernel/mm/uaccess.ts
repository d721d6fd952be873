/**
 * copy_to_user / copy_from_user on the calling process's memory
 * (arch/x86/lib/usercopy_64.c and the page fault a kernel access to a user
 * address takes, arch/x86/mm/fault.c do_user_addr_fault, v6.1): each page is
 * reached through the caller's page table, faulted in as a user access
 * would be; an address with no vma, a write to a vma without VM_WRITE, any
 * access to PROT_NONE, or a fault ending in SIGBUS stops the copy there
 * (the bytes before it were copied) and the call fails with EFAULT.
 *
 * Page contents move as images (physmem.ts: a page fill and the words that
 * differ from it), taken before any byte is written, as a driver's bounce
 * buffer holds them.
 */
import type { Op } from '../op.js';
import { entryAt, handleMmFault, needsFault, physOf } from './fault.js';
import { physFillPage, physWrite, physRead } from './physmem.js';
import { processOf, setProcess, vmaAt } from './process.js';
import type { MmState } from './types.js';

const WORDS_PER_PAGE = 512;

/** One page's contents: the value every word holds unless listed, and the words that differ (by index in the page). */
export interface PageImage {
  readonly fill: bigint;
  readonly words: ReadonlyArray<readonly [number, bigint]>;
}

/** The contents of physical page `pfn` now (kmap + memcpy into a bounce buffer). */
export function pageImage(mm: MmState, pfn: number): PageImage {
  const fill = mm.fills.size === 0 ? 0n : (mm.fills.get(pfn) ?? 0n);
  const words: Array<readonly [number, bigint]> = [];
  if (mm.mem.size > 0) for (const [w, v] of mm.mem.range(pfn * WORDS_PER_PAGE, pfn * WORDS_PER_PAGE + WORDS_PER_PAGE - 1)) words.push([w - pfn * WORDS_PER_PAGE, v]);
  return { fill, words };
}

/** Physical page `pfn` becomes `img` (memcpy from a bounce buffer). */
export function putPageImage(op: Op, pfn: number, img: PageImage): void {
  physFillPage(op, pfn, img.fill);
  for (const [i, v] of img.words) if (v !== img.fill) physWrite(op, (BigInt(pfn) << 12n) + BigInt(i * 8), v);
}

/**
 * The physical address of the caller's user address `addr`, faulted in for
 * a read or a write as the CPU would; null where the copy stops (EFAULT).
 */
export function userPagePhys(op: Op, pid: string, addr: bigint, write: boolean): bigint | null {
  const p = processOf(op, pid);
  const at = vmaAt(p, addr);
  if (at === null || at.vma.prot === 'none' || (write && at.vma.prot !== 'rw')) return null;
  const have = entryAt(at.vma, addr);
  if (have !== null && !needsFault(have.pte, write)) return physOf(have.pte, have.unit, addr);
  const r = handleMmFault(op, pid, p, at.index, addr, write);
  setProcess(op, pid, r.proc);
  return r.kind === 'sigbus' ? null : physOf(r.pte, r.unit, addr);
}

/** @kernel copy_to_user — whole pages to the page-aligned user address `uaddr`; false at the first page it cannot reach. */
export function copyPagesToUser(op: Op, pid: string, uaddr: bigint, pages: readonly PageImage[]): boolean {
  for (let i = 0; i < pages.length; i++) {
    const phys = userPagePhys(op, pid, uaddr + (BigInt(i) << 12n), true);
    if (phys === null) return false;
    putPageImage(op, Number(phys >> 12n), pages[i] as PageImage);
  }
  return true;
}

/** @kernel copy_from_user — `n` whole pages from the page-aligned user address `uaddr`; null at the first page it cannot reach. */
export function copyPagesFromUser(op: Op, pid: string, uaddr: bigint, n: number): PageImage[] | null {
  const out: PageImage[] = [];
  for (let i = 0; i < n; i++) {
    const phys = userPagePhys(op, pid, uaddr + (BigInt(i) << 12n), false);
    if (phys === null) return null;
    out.push(pageImage(op.state.mm, Number(phys >> 12n)));
  }
  return out;
}

/** @kernel copy_to_user — bytes to any user address (little-endian words); false at the first page it cannot reach. */
export function copyBytesToUser(op: Op, pid: string, uaddr: bigint, bytes: readonly number[]): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const a = uaddr + BigInt(i);
    const phys = userPagePhys(op, pid, a, true);
    if (phys === null) return false;
    const word = phys & ~7n;
    const shift = (phys & 7n) * 8n;
    const old = physRead(op.state.mm, word);
    physWrite(op, word, (old & ~(0xffn << shift)) | (BigInt(bytes[i] as number) << shift));
  }
  return true;
}
