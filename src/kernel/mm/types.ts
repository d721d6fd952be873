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
import { RerootMap } from '../../util/rerootMap.js';
import type { OpenMode, Prot } from '../../log/programEvents.js';

export const SZ_4K = 4096n;
export const SZ_2M = 2n << 20n;
export const SZ_1G = 1n << 30n;
export const PAGE_SHIFT = 12n;
/** empty_zero_page: in the kernel image's .bss (loaded at 16 MiB, CONFIG_PHYSICAL_START), never handed out. */
export const ZERO_PAGE_PFN = 0x2e00;
/** The physical address of empty_zero_page (ZERO_PAGE(0)). */
export const ZERO_PAGE_PHYS = BigInt(ZERO_PAGE_PFN) << PAGE_SHIFT;

/** The page-table level an entry sits at: PTE (4 KiB), PMD (2 MiB), PUD (1 GiB). */
export type PteLevel = 'pte' | 'pmd' | 'pud';
export const LEVEL_SIZE: Readonly<Record<PteLevel, bigint>> = { pte: SZ_4K, pmd: SZ_2M, pud: SZ_1G };
/** ~(size - 1) of each level (PAGE_MASK, PMD_MASK, PUD_MASK), made once: each BigInt operation allocates, and every fault masks. */
export const LEVEL_MASK: Readonly<Record<PteLevel, bigint>> = { pte: ~(SZ_4K - 1n), pmd: ~(SZ_2M - 1n), pud: ~(SZ_1G - 1n) };

/** One installed page-table entry: a driver's (devmap or, with the RFC, special) or an anonymous one. */
export interface Pte {
  readonly level: PteLevel;
  /** The physical address the entry holds: the frame the driver inserted (aligned unless a bug says otherwise), or the anonymous page. */
  readonly phys: bigint;
  /** pte_special/pmd_special/pud_special (the RFC's PFN_SPECIAL region): no struct page behind it. */
  readonly special: boolean;
  /** Set on entries of anonymous vmas (src/kernel/mm/anon.ts); a driver's entries have none. */
  readonly anon?: AnonPte;
}

/**
 * What an anonymous entry says beyond its frame. The page it maps is an
 * anon folio in MmState.anon (its identity is `phys`), the shared zero
 * page (4 KiB) / huge zero page (PMD), which is never writable, or (kind
 * `device`, PTE level only) a device-private swap entry
 * (SWP_DEVICE_WRITE / SWP_DEVICE_READ, include/linux/swapops.h): not
 * present, `phys` is the device page's frame (swp_offset), its data lives
 * in the page's backing page (HmmState.pages), and any CPU access faults
 * (do_swap_page → migrate_to_ram); or (kind `exclusive`, PTE level only) a
 * device-exclusive swap entry (SWP_DEVICE_EXCLUSIVE_WRITE / _READ,
 * page_make_device_exclusive_one mm/rmap.c): not present, `phys` is the
 * anon page itself (its data stays there), the page's mapping was removed
 * (page_remove_rmap) but the entry keeps its reference (Folio.devExclusive),
 * and any CPU access restores the page (do_swap_page →
 * remove_device_exclusive_entry; src/kernel/mm/deviceExclusive.ts).
 */
export interface AnonPte {
  readonly kind: 'page' | 'zero' | 'device' | 'exclusive';
  /** pte_write / pmd_write; for a device entry is_writable_device_private_entry, for an exclusive one is_writable_device_exclusive_entry. */
  readonly write: boolean;
  /**
   * PageAnonExclusive of the mapped page (mm/rmap.c, v5.19+). An exclusive
   * page has exactly one mapping, so the bit can live with that mapping
   * here; fork's page_try_dup_anon_rmap clears it, do_wp_page's reuse sets it.
   * A device-exclusive entry keeps the bit of the entry it replaced: neither
   * page_remove_rmap nor restore_exclusive_pte's page_add_anon_rmap
   * (RMAP_NONE) touches the page flag.
   */
  readonly exclusive: boolean;
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
  /**
   * VM_ACCOUNT: a private writable mapping is charged to the commit limit (mmap_region's accountable_mapping;
   * mprotect_fixup sets it when a private vma gains VM_WRITE and never clears it). smaps prints "ac".
   */
  readonly account: boolean;
  /** VM_EXEC (smaps "ex"): the exec-time [vdso] and /bin/ddx text; PROT_EXEC is not in the log's vocabulary. */
  readonly exec: boolean;
  /** VM_MAYEXEC ("me"): do_mmap sets it on every mapping (no noexec mount); [vvar] lacks it. */
  readonly mayexec: boolean;
  /** VM_IO ("io"): [vvar] (map_vdso). */
  readonly io: boolean;
  /** VM_DONTEXPAND ("de"): special mappings (__install_special_mapping); vma_to_resize refuses to grow them (EFAULT). */
  readonly dontexpand: boolean;
  /** VM_DONTDUMP ("dd"): [vvar]. */
  readonly dontdump: boolean;
  /** VM_GROWSDOWN ("gd"): [stack]; vm_start_gap keeps stack_guard_gap below it free. */
  readonly growsdown: boolean;
  /** VM_SOFTDIRTY ("sd"): mmap_region and __install_special_mapping set it; setup_arg_pages' stack has none. */
  readonly softdirty: boolean;
}

/** Every VmFlags field once (a field added to VmFlags and not named here fails to type-check). */
const VM_FLAG_SET: Readonly<Record<keyof VmFlags, true>> = { mayshare: true, maywrite: true, hugepage: true, nohugepage: true, dontcopy: true, sync: true, pfnmap: true, account: true, exec: true, mayexec: true, io: true, dontexpand: true, dontdump: true, growsdown: true, softdirty: true };
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
  /** The struct file (an id in MmState.files), or null for a private anonymous vma (vma_is_anonymous: no vm_ops, vm_pgoff = start >> PAGE_SHIFT). */
  readonly file: number | null;
  readonly prot: Prot;
  readonly flags: VmFlags;
  /** The device's align when dax_mmap accepted this vma (the split rule's unit). */
  readonly mmapAlign: bigint;
  /** The end was moved by mremap growing the vma in place, which no driver hook checks (vma_to_resize). */
  readonly grown: boolean;
  /** Installed entries, keyed by page index from `start`. */
  readonly ptes: PageTable;
  /**
   * What exec made this vma for (src/kernel/mm/exec.ts), as show_map_vma names it: the special mappings
   * [vvar] and [vdso] (special_mapping_vmops: no split, no remote access), the [stack], a /bin/ddx segment.
   * Absent for what the log's program mapped.
   */
  readonly name?: ExecVmaName;
}

/** The names show_map_vma prints for the vmas exec makes. */
export type ExecVmaName = '[vvar]' | '[vdso]' | '[stack]' | '/bin/ddx';

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
  /** MM_ANONPAGES (get_mm_counter): 4 KiB anonymous pages mapped (a THP PMD counts 512; zero pages none). */
  readonly rssAnon: number;
  /**
   * The struct mm_struct's identity (MmState.nextMm when the process was
   * made, by first use or fork): what an mmu notifier is registered on, and
   * what a driver that mirrors this address space names (0: no process).
   */
  readonly mm: number;
}

/** A device page-table entry (lib/test_hmm.c DPT_XA_TAG_*): the page (its frame) and how the device may use it. */
export interface MirrorEntry {
  readonly phys: bigint;
  readonly tag: 'read' | 'write' | 'atomic';
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
   * mmu_interval_notifier_insert(current->mm)): the opener's Process.mm,
   * null once that process exited (mmget_not_zero fails from then on);
   * absent for drivers that keep none.
   */
  readonly mm?: number | null;
  /**
   * What a device mirrors of that mm (test_hmm's struct dmirror `pt`, an
   * xarray of pages by virtual pfn): cleared where the mm's mmu notifier
   * invalidates (src/kernel/mm/mmuNotifier.ts). Absent for other drivers.
   */
  readonly mirror?: WideIntMap<MirrorEntry>;
}

/**
 * Every key of OpenFile, marked optional or required: a key added to
 * OpenFile and not listed here fails to type-check, and a test holds
 * withFileRefs' fast path to the optional keys listed (mm, mirror).
 */
export const OPEN_FILE_KEYS: { readonly [K in keyof OpenFile]-?: undefined extends OpenFile[K] ? 'optional' : 'required' } = {
  driver: 'required',
  path: 'required',
  dev: 'required',
  mode: 'required',
  sync: 'required',
  private: 'required',
  gen: 'required',
  refs: 'required',
  mm: 'optional',
  mirror: 'optional',
};

/**
 * `f` with `refs` references (get_file, fput): a literal of the required
 * fields for a file without the optional ones (a device-dax file, whose
 * every mmap and munmap takes or drops one), else a spread.
 */
export function withFileRefs(f: OpenFile, refs: number): OpenFile {
  if (f.mm !== undefined || f.mirror !== undefined) return { ...f, refs };
  return { driver: f.driver, path: f.path, dev: f.dev, mode: f.mode, sync: f.sync, private: f.private, gen: f.gen, refs };
}

/** A folio of anonymous memory (struct folio), keyed in AnonState.folios by its head frame. */
export interface Folio {
  /** 0 (4 KiB) or HPAGE_PMD_ORDER 9 (a 2 MiB THP). */
  readonly order: 0 | 9;
  /**
   * Page-table entries mapping any part of it (a PMD counts once, each PTE
   * once): folio_mapcount, and with `devExclusive` folio_ref_count, as the
   * model has no pins and no swap cache.
   */
  readonly maps: number;
  /**
   * Device-exclusive entries naming its pages (absent: none). Making an
   * entry device-exclusive removes the page's mapping (page_remove_rmap in
   * page_make_device_exclusive_one) but keeps the reference the mapping
   * held ("There is a reference on the page for the swap entry"), so the
   * refcount is maps + devExclusive and the folio is freed only when both
   * are gone (zap_pte_range's put_page of an exclusive entry, without
   * page_remove_rmap).
   */
  readonly devExclusive?: number;
}

/** folio_ref_count of an anon folio: its mappings plus the references its device-exclusive entries hold. */
export function folioRefs(f: Folio): number {
  return f.maps + (f.devExclusive ?? 0);
}

/** The page allocator's share of anonymous memory (src/kernel/mm/pageAlloc.ts). */
export interface AnonState {
  /** Allocated anon folios by head pfn. */
  readonly folios: WideIntMap<Folio>;
  /** 4 KiB pages allocated: the sum of 2^order over folios, plus the huge zero page. */
  readonly pages: number;
  /** Freed order-0 frames, reused before new memory (no buddy merging). */
  readonly free4k: WideIntMap<true>;
  /** Freed order-9 blocks by head pfn. */
  readonly free2m: WideIntMap<true>;
  /** The 2 MiB block order-0 pages are carved from, and the next pfn in it; null when none is open. */
  readonly chunk: { readonly base: number; readonly next: number } | null;
  /** The next 2 MiB block handed out by the top-down walk is the one below this pfn; null until the first allocation. */
  readonly bump: number | null;
  /** The huge zero page's head pfn once get_huge_zero_page allocated it (kept: only a shrinker frees it). */
  readonly hugeZero: number | null;
}

export const EMPTY_ANON: AnonState = { folios: WideIntMap.empty(), pages: 0, free4k: WideIntMap.empty(), free2m: WideIntMap.empty(), chunk: null, bump: null, hugeZero: null };

export interface MmState {
  readonly procs: ReadonlyMap<string, Process>;
  readonly files: ReadonlyMap<number, OpenFile>;
  readonly nextFile: number;
  /** The next mm identity (Process.mm). */
  readonly nextMm: number;
  /** Memory contents: physical word (phys >> 3) → value; never written reads as zero. */
  readonly mem: RerootMap<bigint>;
  /**
   * Whole-page contents beneath `mem`: physical page (phys >> 12) → the value
   * every word of the page holds, unless `mem` has the word (block I/O writes
   * whole 4 KiB blocks, so a written disk holds one entry per block, not 512).
   */
  readonly fills: RerootMap<bigint>;
  /** Anonymous memory: folios and the allocator that hands them out. */
  readonly anon: AnonState;
}

export const EMPTY_MM: MmState = { procs: new Map(), files: new Map(), nextFile: 1, nextMm: 1, mem: RerootMap.empty(), fills: RerootMap.empty(), anon: EMPTY_ANON };

export function withMm(m: MmState, c: Partial<MmState>): MmState {
  return {
    procs: c.procs !== undefined ? c.procs : m.procs,
    files: c.files !== undefined ? c.files : m.files,
    nextFile: c.nextFile !== undefined ? c.nextFile : m.nextFile,
    nextMm: c.nextMm !== undefined ? c.nextMm : m.nextMm,
    mem: c.mem !== undefined ? c.mem : m.mem,
    fills: c.fills !== undefined ? c.fills : m.fills,
    anon: c.anon !== undefined ? c.anon : m.anon,
  };
}

/** withMm(m, { mem }) reading only `m` (a store's copy: see withMmState in state.ts). */
export function withMem(m: MmState, mem: MmState['mem']): MmState {
  return { procs: m.procs, files: m.files, nextFile: m.nextFile, nextMm: m.nextMm, mem, fills: m.fills, anon: m.anon };
}

/** withMm(m, { files, nextFile }) reading only `m` (an open, mmap or munmap's copy). */
export function withFiles(m: MmState, files: MmState['files'], nextFile: number): MmState {
  return { procs: m.procs, files, nextFile, nextMm: m.nextMm, mem: m.mem, fills: m.fills, anon: m.anon };
}

/** withMm(m, { procs }) reading only `m` (a fault's copy). */
export function withProcs(m: MmState, procs: MmState['procs']): MmState {
  return { procs, files: m.files, nextFile: m.nextFile, nextMm: m.nextMm, mem: m.mem, fills: m.fills, anon: m.anon };
}

export function withVma(v: Vma, c: Partial<Vma>): Vma {
  const start = c.start !== undefined ? c.start : v.start;
  const end = c.end !== undefined ? c.end : v.end;
  const pgoff = c.pgoff !== undefined ? c.pgoff : v.pgoff;
  const file = c.file !== undefined ? c.file : v.file;
  const prot = c.prot !== undefined ? c.prot : v.prot;
  const flags = c.flags !== undefined ? c.flags : v.flags;
  const mmapAlign = c.mmapAlign !== undefined ? c.mmapAlign : v.mmapAlign;
  const grown = c.grown !== undefined ? c.grown : v.grown;
  const ptes = c.ptes !== undefined ? c.ptes : v.ptes;
  // Two literals, not a spread of the optional name: a spread costs V8 more than the rest of the copy (every fault makes one).
  if (v.name === undefined) return { start, end, pgoff, file, prot, flags, mmapAlign, grown, ptes };
  return { start, end, pgoff, file, prot, flags, mmapAlign, grown, ptes, name: v.name };
}

/** withVma(v, { ptes }) reading only `v`: every fault installs an entry this way. */
export function withPtes(v: Vma, ptes: Vma['ptes']): Vma {
  const { start, end, pgoff, file, prot, flags, mmapAlign, grown } = v;
  if (v.name === undefined) return { start, end, pgoff, file, prot, flags, mmapAlign, grown, ptes };
  return { start, end, pgoff, file, prot, flags, mmapAlign, grown, ptes, name: v.name };
}

export function withAnon(a: AnonState, c: Partial<AnonState>): AnonState {
  return {
    folios: c.folios !== undefined ? c.folios : a.folios,
    pages: c.pages !== undefined ? c.pages : a.pages,
    free4k: c.free4k !== undefined ? c.free4k : a.free4k,
    free2m: c.free2m !== undefined ? c.free2m : a.free2m,
    chunk: c.chunk !== undefined ? c.chunk : a.chunk,
    bump: c.bump !== undefined ? c.bump : a.bump,
    hugeZero: c.hugeZero !== undefined ? c.hugeZero : a.hugeZero,
  };
}

/** withProcess(p, { vmas, pteTables, pmdTables }) reading only `p` (a fault's copy; see withMmState in state.ts). */
export function withFaulted(p: Process, vmas: readonly Vma[], pteTables: Process['pteTables'], pmdTables: Process['pmdTables']): Process {
  return { fds: p.fds, maps: p.maps, vmas, pteTables, pmdTables, rssAnon: p.rssAnon, mm: p.mm };
}

export function withProcess(p: Process, c: Partial<Process>): Process {
  return {
    fds: c.fds !== undefined ? c.fds : p.fds,
    maps: c.maps !== undefined ? c.maps : p.maps,
    vmas: c.vmas !== undefined ? c.vmas : p.vmas,
    pteTables: c.pteTables !== undefined ? c.pteTables : p.pteTables,
    pmdTables: c.pmdTables !== undefined ? c.pmdTables : p.pmdTables,
    rssAnon: c.rssAnon !== undefined ? c.rssAnon : p.rssAnon,
    mm: c.mm !== undefined ? c.mm : p.mm,
  };
}
