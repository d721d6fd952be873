/**
 * What programs own in the model (SPEC §7): processes named by the log's
 * handles, open files, vmas, the page-table entries drivers installed and
 * the page-table pages behind them, and memory contents as 64-bit words.
 * All of it is immutable and grows with what a log touched: a vma's
 * entries live in a persistent map keyed by page index, memory words in one
 * keyed by physical word, so a TiB mapping touched in three places holds
 * three entries.
 */
import type { IntMap } from '../../util/intMap.js';
import type { PageTable } from './pageTable.js';
import { WideIntMap } from '../../util/wideIntMap.js';
import type { OpenMode, Prot } from '../../log/programEvents.js';

export const SZ_4K = 4096n;
export const SZ_2M = 2n << 20n;
export const SZ_1G = 1n << 30n;
export const PAGE_SHIFT = 12n;

/** The page-table level an entry sits at: PTE (4 KiB), PMD (2 MiB), PUD (1 GiB). */
export type PteLevel = 'pte' | 'pmd' | 'pud';
export const LEVEL_SIZE: Readonly<Record<PteLevel, bigint>> = { pte: SZ_4K, pmd: SZ_2M, pud: SZ_1G };

/** One installed page-table entry (a devmap or, with the RFC, special entry). */
export interface Pte {
  readonly level: PteLevel;
  /** The physical address the entry holds: the frame the driver inserted (aligned unless a bug says otherwise). */
  readonly phys: bigint;
  /** pte_special/pmd_special/pud_special (the RFC's PFN_SPECIAL region): no struct page behind it. */
  readonly special: boolean;
}

/** vm_flags bits the model tracks (include/linux/mm.h). */
export interface VmFlags {
  /** VM_MAYSHARE: MAP_SHARED / MAP_SHARED_VALIDATE. */
  readonly mayshare: boolean;
  /** VM_MAYWRITE: the file was opened for writing (do_mmap clears it otherwise for shared maps). */
  readonly maywrite: boolean;
  /** VM_HUGEPAGE (dax_mmap sets it; MADV_HUGEPAGE). */
  readonly hugepage: boolean;
  /** VM_NOHUGEPAGE (MADV_NOHUGEPAGE). */
  readonly nohugepage: boolean;
  /** VM_DONTCOPY (MADV_DONTFORK). */
  readonly dontcopy: boolean;
  /** VM_SYNC (MAP_SYNC; with plain MAP_SHARED too: calc_vm_flag_bits runs before the flag is dropped). */
  readonly sync: boolean;
  /** VM_PFNMAP (the devdax-map-none RFC's special mappings). */
  readonly pfnmap: boolean;
}

/** Every VmFlags field once (a field added to VmFlags and not named here fails to type-check). */
const VM_FLAG_SET: Readonly<Record<keyof VmFlags, true>> = { mayshare: true, maywrite: true, hugepage: true, nohugepage: true, dontcopy: true, sync: true, pfnmap: true };
const VM_FLAGS = Object.keys(VM_FLAG_SET) as ReadonlyArray<keyof VmFlags>;

/** The same vm_flags (what vma_merge and madvise_update_vma compare). */
export function sameVmFlags(a: VmFlags, b: VmFlags): boolean {
  for (const f of VM_FLAGS) if (a[f] !== b[f]) return false;
  return true;
}

/** struct vm_area_struct: [start, end), the file it maps from page offset pgoff. */
export interface Vma {
  readonly start: bigint;
  readonly end: bigint;
  /** vm_pgoff, in pages. */
  readonly pgoff: bigint;
  /** The struct file (an id in MmState.files); every modelled vma maps a file. */
  readonly file: number;
  readonly prot: Prot;
  readonly flags: VmFlags;
  /** The device's align when dax_mmap accepted this vma (the split rule's unit). */
  readonly mmapAlign: bigint;
  /** The end was moved by mremap growing the vma in place, which no driver hook checks (vma_to_resize). */
  readonly grown: boolean;
  /** Installed entries, keyed by page index from `start`. */
  readonly ptes: PageTable;
}

/** One process (struct task_struct + its mm), named by the log's pid handle. */
export interface Process {
  /** fd handle → open file id. */
  readonly fds: ReadonlyMap<string, number>;
  /** map handle → the address the last successful mmap/mremap with that handle returned. */
  readonly maps: ReadonlyMap<string, bigint>;
  /** The vmas, sorted by start, disjoint. */
  readonly vmas: readonly Vma[];
  /** 2 MiB regions (addr >> 21) that have a PTE table: pmd_none is false there. */
  readonly pteTables: IntMap<true>;
  /** 1 GiB regions (addr >> 30) that have a PMD table: pud_none is false there. */
  readonly pmdTables: IntMap<true>;
}

/** Which driver's file_operations serve a file (src/kernel/fs/chrdev.ts). */
export type FileDriver = 'dax' | 'kmemblk' | 'dmirror';

/** struct file for a character device the model knows. */
export interface OpenFile {
  readonly driver: FileDriver;
  readonly path: string;
  /** The dax device the file's inode belongs to. */
  readonly dev: string;
  readonly mode: OpenMode;
  readonly sync: boolean;
  /** filp->private_data was a live dev_dax when dax_open ran (false: NULL, see the cdev bug B1). */
  readonly private: boolean;
  /** The device's cdev generation (cdev_init count) when the file was opened. */
  readonly gen: number;
  /** References: fds in every process plus vmas mapping the file. */
  readonly refs: number;
  /**
   * The mm a driver bound the file to at open (dmirror_fops_open's
   * mmu_interval_notifier_insert(current->mm)): the opener's pid handle,
   * null once that process exited (mmget_not_zero fails from then on);
   * absent for drivers that keep none.
   */
  readonly mm?: string | null;
}

export interface MmState {
  readonly procs: ReadonlyMap<string, Process>;
  readonly files: ReadonlyMap<number, OpenFile>;
  readonly nextFile: number;
  /** Memory contents: physical word (phys >> 3) → value; never written reads as zero. */
  readonly mem: WideIntMap<bigint>;
  /**
   * Whole-page contents beneath `mem`: physical page (phys >> 12) → the value
   * every word of the page holds, unless `mem` has the word (block I/O writes
   * whole 4 KiB blocks, so a written disk holds one entry per block, not 512).
   */
  readonly fills: WideIntMap<bigint>;
}

export const EMPTY_MM: MmState = { procs: new Map(), files: new Map(), nextFile: 1, mem: WideIntMap.empty(), fills: WideIntMap.empty() };

export function withMm(m: MmState, c: Partial<MmState>): MmState {
  return {
    procs: c.procs !== undefined ? c.procs : m.procs,
    files: c.files !== undefined ? c.files : m.files,
    nextFile: c.nextFile !== undefined ? c.nextFile : m.nextFile,
    mem: c.mem !== undefined ? c.mem : m.mem,
    fills: c.fills !== undefined ? c.fills : m.fills,
  };
}

export function withVma(v: Vma, c: Partial<Vma>): Vma {
  return {
    start: c.start !== undefined ? c.start : v.start,
    end: c.end !== undefined ? c.end : v.end,
    pgoff: c.pgoff !== undefined ? c.pgoff : v.pgoff,
    file: c.file !== undefined ? c.file : v.file,
    prot: c.prot !== undefined ? c.prot : v.prot,
    flags: c.flags !== undefined ? c.flags : v.flags,
    mmapAlign: c.mmapAlign !== undefined ? c.mmapAlign : v.mmapAlign,
    grown: c.grown !== undefined ? c.grown : v.grown,
    ptes: c.ptes !== undefined ? c.ptes : v.ptes,
  };
}

export function withProcess(p: Process, c: Partial<Process>): Process {
  return {
    fds: c.fds !== undefined ? c.fds : p.fds,
    maps: c.maps !== undefined ? c.maps : p.maps,
    vmas: c.vmas !== undefined ? c.vmas : p.vmas,
    pteTables: c.pteTables !== undefined ? c.pteTables : p.pteTables,
    pmdTables: c.pmdTables !== undefined ? c.pmdTables : p.pmdTables,
  };
}
