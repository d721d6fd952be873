/**
 * The fault chain (mm/memory.c v6.1 __handle_mm_fault): with the PUD entry
 * empty and THP allowed, the driver's huge_fault at PUD size; on
 * VM_FAULT_FALLBACK (or a PMD table already there) the same at PMD size; then
 * the PTE fault. Page-table pages are tracked because they decide which
 * sizes are tried: pmd_alloc runs once the PUD attempt is past, a PTE table
 * exists once a PTE was inserted, and zapping entries leaves the tables.
 */
import { fopsOf } from '../fs/chrdev.js';
import type { Op } from '../op.js';
import type { FaultResult } from './ops.js';
import { anonFault } from './anon.js';
import { fileOf } from './process.js';
import { LEVEL_MASK, PAGE_SHIFT, withFaulted, withProcess, withPtes, type Process, type Pte, type PteLevel, type Vma } from './types.js';

/** The entry mapping `addr` in `v` and the start of its unit, or null. */
export function entryAt(v: Vma, addr: bigint): { readonly pte: Pte; readonly unit: bigint } | null {
  const pte = pteAt(v, addr);
  return pte === undefined ? null : { pte, unit: addr & LEVEL_MASK[pte.level] };
}

/** Pages per entry at each level. */
const PMD_PAGES = 512;
const PUD_PAGES = 512 * 512;

/**
 * The entry mapping `addr` in `v`, or undefined: the walk of entryAt without
 * its unit, and without a BigInt operation or an allocation, because every
 * access and /proc/PID/mem word runs it. Page numbers as doubles: exact,
 * since a user address is below 2^57.
 */
export function pteAt(v: Vma, addr: bigint): Pte | undefined {
  return pteAtAddress(v, Number(addr));
}

/** pteAt with the address as a double (`a`, exact: below 2^57), for a caller that also needs it so. */
export function pteAtAddress(v: Vma, a: number): Pte | undefined {
  const t = v.ptes;
  if (t.size === 0) return undefined;
  const page = Math.floor(a / 4096);
  const first = Number(v.start) / 4096;
  // Units by floor division: exact for powers of two, and a double `%` is a library call (fmod) in V8.
  if (t.hasLevel('pud')) {
    const unit = Math.floor(page / PUD_PAGES) * PUD_PAGES;
    const pte = unit < first ? undefined : t.get(unit - first);
    if (pte !== undefined && pte.level === 'pud') return pte;
  }
  if (t.hasLevel('pmd')) {
    const unit = Math.floor(page / PMD_PAGES) * PMD_PAGES;
    const pte = unit < first ? undefined : t.get(unit - first);
    if (pte !== undefined && pte.level === 'pmd') return pte;
  }
  if (t.hasLevel('pte')) {
    const pte = t.get(page - first);
    if (pte !== undefined && pte.level === 'pte') return pte;
  }
  return undefined;
}

/** Bytes per entry at each level, as numbers (physWordOf's arithmetic). */
const LEVEL_BYTES: Readonly<Record<PteLevel, number>> = { pte: 4096, pmd: 2 * 1024 * 1024, pud: 1024 * 1024 * 1024 };

/**
 * The index of the 64-bit word (physical address / 8) an access at address
 * `a` (a double, exact: below 2^57) reaches through `pte`: physOf in doubles, exact below 2^53 (physical
 * addresses have at most 52 bits), so the access path allocates no BigInt.
 */
export function physWordAt(pte: Pte, a: number): number {
  const size = LEVEL_BYTES[pte.level];
  const phys = Number(pte.phys);
  // Floor division, not `%` (a library call on doubles): exact, since size is a power of two.
  return (Math.floor(phys / size) * size + (a - Math.floor(a / size) * size)) / 8;
}

/**
 * @kernel hugepage_vma_check mm/huge_memory.c (in_pf): VM_NOHUGEPAGE says no;
 * for a DAX vma a page fault may otherwise always try the huge sizes (the
 * handlers check alignment themselves).
 */
export function hugepageVmaCheck(v: Vma): boolean {
  return !v.flags.nohugepage;
}

export type FaultOutcome = { readonly kind: 'installed'; readonly proc: Process; readonly vma: Vma; readonly pte: Pte; readonly unit: bigint } | { readonly kind: 'sigbus'; readonly proc: Process };

/**
 * @kernel __handle_mm_fault mm/memory.c — `index` is the vma's index in the
 * process. Returns the process with the entry (or only the page-table pages
 * allocated on the way) and the entry.
 */
export function handleMmFault(op: Op, comm: string, p: Process, index: number, addr: bigint, write: boolean): FaultOutcome {
  const vma = p.vmas[index] as Vma;
  // vma_is_anonymous: no vm_ops, the anonymous fault paths (and do_wp_page for a present read-only entry).
  if (vma.file === null) return anonFault(op, p, index, addr, write);
  const file = fileOf(op, vma.file);
  const vmOps = fopsOf(file).vmOps;
  const thp = hugepageVmaCheck(vma);
  // The table regions in doubles: exact, as a user address is below 2^56 (TASK_SIZE with 5-level paging) and 8-aligned.
  const a = Number(addr);
  const pudRegion = Math.floor(a / PUD_BYTES);
  const pmdRegion = Math.floor(a / PMD_BYTES);
  const vmf = { comm, file, vma, address: addr, write };
  // pud_none(*vmf.pud): no PMD table below it (a PUD entry would have been found before faulting).
  const hadPmdTable = p.pmdTables.has(pudRegion);
  if (!hadPmdTable && thp) {
    const r = installed(vmOps.fault(op, vmf, 'pud'), 'pud', p, null, index, vma, addr);
    if (r !== null) return r;
  }
  // pmd_alloc: from here on a PMD table exists for this 1 GiB region (made into the process with the entry,
  // one copy of it per fault).
  const pmdTables = hadPmdTable ? null : p.pmdTables.set(pudRegion, true);
  if (!p.pteTables.has(pmdRegion) && thp) {
    const r = installed(vmOps.fault(op, vmf, 'pmd'), 'pmd', p, pmdTables, index, vma, addr);
    if (r !== null) return r;
  }
  const r = installed(vmOps.fault(op, vmf, 'pte'), 'pte', p, pmdTables, index, vma, addr);
  // A PTE-level fallback has nowhere to go: VM_FAULT_FALLBACK from ->fault is a SIGBUS for the task.
  return r ?? { kind: 'sigbus', proc: pmdTables === null ? p : withProcess(p, { pmdTables }) };
}

const PMD_BYTES = 2 * 1024 * 1024;
const PUD_BYTES = 1024 * 1024 * 1024;

/**
 * The handler's answer at `level`: the entry installed in the vma (and, at
 * PTE level, the PTE table this 2 MiB region now has), SIGBUS, or null for
 * VM_FAULT_FALLBACK (the next level down is tried); `pmdTables` is the PMD
 * table the walk allocated on the way, if it did. A module function, not a
 * closure per fault (tsx's keepNames wraps each closure it makes).
 */
function installed(r: FaultResult, level: PteLevel, proc: Process, pmdTables: Process['pmdTables'] | null, index: number, vma: Vma, addr: bigint): FaultOutcome | null {
  if (r.kind === 'fallback') return null;
  if (r.kind === 'sigbus') return { kind: 'sigbus', proc: pmdTables === null ? proc : withProcess(proc, { pmdTables }) };
  const unit = addr & LEVEL_MASK[level];
  const next = withPtes(vma, vma.ptes.set(Number((unit - vma.start) >> PAGE_SHIFT), r.pte));
  const vmas = proc.vmas.slice();
  vmas[index] = next;
  const pteTables = level === 'pte' ? proc.pteTables.set(Math.floor(Number(addr) / PMD_BYTES), true) : proc.pteTables;
  const done = withFaulted(proc, vmas, pteTables, pmdTables ?? proc.pmdTables);
  return { kind: 'installed', proc: done, vma: next, pte: r.pte, unit };
}

/**
 * Whether an access must fault although an entry is there: a device-private
 * or device-exclusive entry is not present (do_swap_page), and a write
 * through an anonymous entry without write permission goes to
 * handle_pte_fault's do_wp_page (or do_huge_pmd_wp_page).
 */
export function needsFault(pte: Pte, write: boolean): boolean {
  if (pte.anon?.kind === 'device' || pte.anon?.kind === 'exclusive') return true;
  return write && pte.anon !== undefined && !pte.anon.write;
}

/** The physical address an access at `addr` reaches through `pte`: the MMU takes the frame bits of the entry's level. */
export function physOf(pte: Pte, unit: bigint, addr: bigint): bigint {
  return (pte.phys & LEVEL_MASK[pte.level]) + (addr - unit);
}

