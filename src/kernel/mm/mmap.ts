/**
 * Mirrors mm/mmap.c and mm/util.c (v6.1): ksys_mmap_pgoff → do_mmap →
 * get_unmapped_area → mmap_region → the driver's ->mmap, and
 * mm/mprotect.c's do_mprotect_pkey. Placement is the kernel's, address for
 * address (x86-64 with no randomisation, as the harness runs its helper):
 * mmap_base 0x7ffff7fff000 (arch/x86/mm/mmap.c), arch_get_unmapped_area_topdown
 * (a free hint as given, else vm_unmapped_area → unmapped_area_topdown: the
 * highest gap below mmap_base, holes between vmas reused, stack guard gap
 * respected; the bottom-up arch_get_unmapped_area when nothing fits), the
 * driver's ->get_unmapped_area (dax_get_unmapped_area) and 6.7+'s
 * thp_get_unmapped_area for anonymous mappings (the profile's anonThpAlign).
 * Every process starts with exec's vmas (src/kernel/mm/exec.ts), which is
 * where [vvar] puts the first mapping's top. test/realkernel/placement.test.ts
 * holds every placed address of the recorded corpora to the kernel's.
 * Anonymous private mappings: doMmapAnon (src/kernel/mm/anon.ts faults them).
 * Left out: private file mappings, shared anonymous (shmem) mappings, MAP_32BIT, MAP_FIXED_NOREPLACE, pkeys, mlock.
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Errno } from '../errno.js';
import { fopsOf } from '../fs/chrdev.js';
import { err, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import type { MapFlag, Prot } from '../../log/programEvents.js';
import { PageTable } from './pageTable.js';
import { changeProtection } from './anon.js';
import { handleMmFault, entryAt } from './fault.js';
import { fileOf, fput, getFile, setProcess, processOf, vmaAt } from './process.js';
import { doMunmap, mergeAdjacent, pageAlign, releaseVmas, splitAt, TASK_SIZE } from './vma.js';
import { LEVEL_SIZE, PAGE_SHIFT, SZ_2M, withProcess, withVma, type OpenFile, type Process, type Vma, type VmFlags } from './types.js';

/** SIZE_128M, mmap_base's least gap below the top of the address space (arch/x86/mm/mmap.c). */
const SIZE_128M = 128n << 20n;

/**
 * mm->mmap_base with no randomisation (PF_RANDOMIZE off: the harness runs its
 * helper with ASLR disabled): arch/x86/mm/mmap.c mmap_base() takes the gap
 * RLIMIT_STACK (8 MiB) + stack_guard_gap (1 MiB), raises it to 128 MiB and
 * subtracts it from DEFAULT_MAP_WINDOW: 0x7ffff7fff000, the top of every
 * top-down search ([vvar]/[vdso] take the first pages below it at exec).
 */
export const MMAP_BASE = TASK_SIZE - SIZE_128M;

/** mm->mmap_legacy_base, where the bottom-up search starts: __TASK_UNMAPPED_BASE, PAGE_ALIGN(task_size / 3). */
export const TASK_UNMAPPED_BASE = pageAlign(TASK_SIZE / 3n);

/** stack_guard_gap mm/mmap.c: 256 pages kept free below a VM_GROWSDOWN vma. */
export const STACK_GUARD_GAP = 256n << PAGE_SHIFT;

/** @kernel vm_start_gap include/linux/mm.h — a stack's start less its guard gap (0 if that wraps). */
export function vmStartGap(v: Vma): bigint {
  if (!v.flags.growsdown) return v.start;
  const s = v.start - STACK_GUARD_GAP;
  return s < 0n ? 0n : s;
}

/** @kernel vm_end_gap include/linux/mm.h — the end (x86 has no VM_GROWSUP). */
export function vmEndGap(v: Vma): bigint {
  return v.end;
}

/** @kernel find_vma mm/mmap.c — the first vma ending above addr (a linear walk: a process has few). */
function findVma(p: Process, addr: bigint): Vma | null {
  for (const v of p.vmas) if (v.end > addr) return v;
  return null;
}

/** struct vm_unmapped_area_info (include/linux/mm.h). */
interface VmUnmappedAreaInfo {
  readonly topdown: boolean;
  readonly length: bigint;
  readonly lowLimit: bigint;
  readonly highLimit: bigint;
  readonly alignMask: bigint;
  readonly alignOffset: bigint;
}

/**
 * The free ranges of the address space as the maple tree's empty slots
 * see them: [start, last] (inclusive) between vmas, below the first and
 * above the last (to ULONG_MAX, which the limits cut).
 */
function gaps(p: Process): Array<readonly [bigint, bigint]> {
  const out: Array<readonly [bigint, bigint]> = [];
  let from = 0n;
  for (const v of p.vmas) {
    if (v.start > from) out.push([from, v.start - 1n]);
    from = v.end;
  }
  out.push([from, (1n << 64n) - 1n]);
  return out;
}

/**
 * @kernel unmapped_area_topdown mm/mmap.c (v6.1) — mas_empty_area_rev: the
 * highest free range inside [low_limit, high_limit) that holds length +
 * align_mask; the mapping takes its top (aligned down to align_offset
 * modulo the mask). Holes between vmas are reused. A stack's guard gap
 * above the range, or a vma below reaching into it, lowers high_limit and
 * searches again. null: -ENOMEM.
 */
function unmappedAreaTopdown(p: Process, info: VmUnmappedAreaInfo): bigint | null {
  const length = info.length + info.alignMask;
  let highLimit = info.highLimit;
  for (;;) {
    const max = highLimit - 1n;
    let found: readonly [bigint, bigint] | null = null;
    for (const [s, l] of gaps(p).reverse()) {
      const lo = s > info.lowLimit ? s : info.lowLimit;
      const hi = l < max ? l : max;
      if (hi >= lo && hi - lo + 1n >= length) {
        found = [lo, hi];
        break;
      }
    }
    if (found === null) return null;
    const gapEnd = found[1];
    let gap = gapEnd + 1n - info.length;
    gap -= (gap - info.alignOffset) & info.alignMask;
    const next = p.vmas.find((v) => v.start > gapEnd);
    if (next !== undefined && next.flags.growsdown) {
      if (vmStartGap(next) <= gapEnd) {
        highLimit = vmStartGap(next);
        continue;
      }
    } else {
      const prev = [...p.vmas].reverse().find((v) => v.end <= found[0]);
      if (prev !== undefined && vmEndGap(prev) > gap) {
        highLimit = prev.start;
        continue;
      }
    }
    return gap;
  }
}

/**
 * @kernel unmapped_area mm/mmap.c (v6.1) — bottom-up: the lowest free range
 * inside [low_limit, high_limit) that holds length + align_mask, its start
 * aligned up; a stack's guard gap or the vma below raises low_limit and
 * searches again. null: -ENOMEM.
 */
function unmappedArea(p: Process, info: VmUnmappedAreaInfo): bigint | null {
  const length = info.length + info.alignMask;
  let lowLimit = info.lowLimit;
  for (;;) {
    const max = info.highLimit - 1n;
    let found: readonly [bigint, bigint] | null = null;
    for (const [s, l] of gaps(p)) {
      const lo = s > lowLimit ? s : lowLimit;
      const hi = l < max ? l : max;
      if (hi >= lo && hi - lo + 1n >= length) {
        found = [lo, hi];
        break;
      }
    }
    if (found === null) return null;
    let gap = found[0];
    gap += (info.alignOffset - gap) & info.alignMask;
    const next = p.vmas.find((v) => v.start > found[0]);
    if (next !== undefined && next.flags.growsdown) {
      if (vmStartGap(next) < gap + length - 1n) {
        lowLimit = next.end;
        continue;
      }
    } else {
      const prev = [...p.vmas].reverse().find((v) => v.end <= found[0]);
      if (prev !== undefined && vmEndGap(prev) > gap) {
        lowLimit = vmEndGap(prev);
        continue;
      }
    }
    return gap;
  }
}

/** @kernel vm_unmapped_area mm/mmap.c */
function vmUnmappedArea(p: Process, info: VmUnmappedAreaInfo): Ret<bigint> {
  const a = info.topdown ? unmappedAreaTopdown(p, info) : unmappedArea(p, info);
  return a === null ? err('ENOMEM') : { ok: true, value: a };
}

/**
 * @kernel arch_get_unmapped_area arch/x86/kernel/sys_x86_64.c — the
 * bottom-up allocator, from mmap_legacy_base up to the 47-bit window: a
 * free page-aligned hint as given, else the lowest gap. Only the top-down
 * one's fallback here (sysctl legacy_va_layout is 0).
 */
export function archGetUnmappedArea(p: Process, addr: bigint, len: bigint, pgoff: bigint): Ret<bigint> {
  const begin = TASK_UNMAPPED_BASE;
  const end = TASK_SIZE;
  if (len > end) return err('ENOMEM');
  if (addr !== 0n) {
    const a = pageAlign(addr);
    const vma = findVma(p, a);
    if (end - len >= a && (vma === null || a + len <= vmStartGap(vma))) return { ok: true, value: a };
  }
  // filp's get_align_mask() is 0 unless va_align (AMD family 15h) is on.
  return vmUnmappedArea(p, { topdown: false, length: len, lowLimit: begin, highLimit: end, alignMask: 0n, alignOffset: pgoff << PAGE_SHIFT });
}

/** @kernel mmap_address_hint_valid arch/x86/mm/mmap.c — the hint's range fits under TASK_SIZE (one side of the 47-bit window). */
function mmapAddressHintValid(addr: bigint, len: bigint): boolean {
  return TASK_SIZE - len >= addr;
}

/**
 * @kernel arch_get_unmapped_area_topdown arch/x86/kernel/sys_x86_64.c
 * (mm->get_unmapped_area of every process here) — a free page-aligned hint
 * is taken as it is (nothing below vm_start_gap of the vma after it);
 * otherwise vm_unmapped_area top-down in [PAGE_SIZE, mmap_base), falling
 * back to the bottom-up allocator when nothing fits.
 */
export function archGetUnmappedAreaTopdown(p: Process, addr0: bigint, len: bigint, pgoff: bigint): Ret<bigint> {
  if (len > TASK_SIZE) return err('ENOMEM');
  if (addr0 !== 0n) {
    const addr = addr0 & ~0xfffn;
    if (mmapAddressHintValid(addr, len)) {
      const vma = findVma(p, addr);
      if (vma === null || addr + len <= vmStartGap(vma)) return { ok: true, value: addr };
    }
  }
  const got = vmUnmappedArea(p, { topdown: true, length: len, lowLimit: 4096n, highLimit: MMAP_BASE, alignMask: 0n, alignOffset: pgoff << PAGE_SHIFT });
  if (got.ok) return got;
  return archGetUnmappedArea(p, addr0, len, pgoff);
}

/**
 * @kernel __thp_get_unmapped_area mm/huge_memory.c (v6.12, PMD_SIZE) — ask
 * for len + 2 MiB and return the address inside congruent to the offset
 * modulo 2 MiB; top-down, an answer already congruent moves up by 2 MiB
 * (the top of the padded range). null where the kernel returns 0 (the
 * caller asks again without padding).
 */
function thpGetUnmappedAreaPadded(p: Process, addr: bigint, len: bigint, off: bigint): bigint | null {
  const offEnd = off + len;
  const offAlign = (off + SZ_2M - 1n) & ~(SZ_2M - 1n);
  if (offEnd <= offAlign || offEnd - offAlign < SZ_2M) return null;
  const ret = archGetUnmappedAreaTopdown(p, addr, len + SZ_2M, off >> PAGE_SHIFT);
  if (!ret.ok) return null;
  if (ret.value === addr) return addr;
  const offSub = (off - ret.value) & (SZ_2M - 1n);
  // MMF_TOPDOWN: every process here.
  if (offSub === 0n) return ret.value + SZ_2M;
  return ret.value + offSub;
}

/**
 * @kernel get_unmapped_area mm/mmap.c — for a mapping of no file (a private
 * anonymous mmap, or mremap moving an anonymous vma): the mm's own
 * allocator on 6.1; from v6.7 thp_get_unmapped_area when the profile's rule
 * takes the length and there is no hint (efa7df3e3bb5 for any length of
 * 2 MiB or more, 'len-ge-pmd'; from v6.12 d4148aeab412 only a multiple of
 * 2 MiB, 'len-multiple-pmd', the condition `!file && !addr &&
 * IS_ALIGNED(len, PMD_SIZE)` of __get_unmapped_area), with pgoff treated as
 * 0 ("Always treat pgoff as zero for anonymous memory").
 */
export function getUnmappedAreaAnon(op: Op, p: Process, addr: bigint, len: bigint, pgoff: bigint): Ret<bigint> {
  if (len > TASK_SIZE) return err('ENOMEM');
  const rule = op.state.profile.anonThpAlign;
  const thp = addr === 0n && (rule === 'len-ge-pmd' ? len >= SZ_2M : rule === 'len-multiple-pmd' ? len % SZ_2M === 0n : false);
  let got: Ret<bigint>;
  if (thp) {
    // thp_get_unmapped_area_vmflags: the padded search, or the plain one when it returns 0.
    const a = thpGetUnmappedAreaPadded(p, addr, len, 0n);
    if (a !== null) op.branch('thp_get_unmapped_area', 'anon-aligned');
    got = a !== null ? { ok: true, value: a } : archGetUnmappedAreaTopdown(p, addr, len, 0n);
  } else got = archGetUnmappedAreaTopdown(p, addr, len, rule === 'none' ? pgoff : 0n);
  return checkUnmappedArea(got, len);
}

/**
 * @kernel get_unmapped_area mm/mmap.c — for a file: its
 * ->get_unmapped_area (dax_get_unmapped_area) or the mm's allocator, then
 * the checks on what came back (past TASK_SIZE ENOMEM, unaligned EINVAL).
 */
export function getUnmappedAreaFile(op: Op, p: Process, file: OpenFile, addr: bigint, len: bigint, pgoff: bigint): Ret<bigint> {
  if (len > TASK_SIZE) return err('ENOMEM');
  const got = fopsOf(file).getUnmappedArea(op, file, addr, len, pgoff, (l) => archGetUnmappedAreaTopdown(p, addr, l, pgoff));
  return checkUnmappedArea(got, len);
}

function checkUnmappedArea(got: Ret<bigint>, len: bigint): Ret<bigint> {
  if (!got.ok) return got;
  if (got.value > TASK_SIZE - len) return err('ENOMEM');
  if ((got.value & 0xfffn) !== 0n) return err('EINVAL');
  return got;
}

/**
 * The vm_flags do_mmap and mmap_region give every mapping before the
 * driver's ->mmap: VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC (mm->def_flags none),
 * VM_SOFTDIRTY; the caller sets the rest.
 */
const MMAP_VM_FLAGS: VmFlags = { mayshare: false, maywrite: true, hugepage: false, nohugepage: false, dontcopy: false, sync: false, pfnmap: false, account: false, exec: false, mayexec: true, io: false, dontexpand: false, dontdump: false, growsdown: false, softdirty: true };

export interface MmapArgs {
  readonly comm: string;
  readonly pid: string;
  readonly map: string;
  /** The fd handle, or null for MAP_ANONYMOUS. */
  readonly fd: string | null;
  readonly addr: bigint | null;
  readonly length: bigint;
  readonly offset: bigint;
  readonly prot: Prot;
  readonly flags: readonly MapFlag[];
}

/** MAP_TYPE of the flags: MAP_SHARED 1, MAP_PRIVATE 2, MAP_SHARED_VALIDATE 3 (the bits OR together), 0 for none. */
function mapType(flags: readonly MapFlag[]): number {
  return (flags.includes('shared') ? 1 : 0) | (flags.includes('private') ? 2 : 0) | (flags.includes('validate') ? 3 : 0);
}

/** @kernel ksys_mmap_pgoff mm/mmap.c (via x86's sys_mmap, which refuses an unaligned offset) → do_mmap → mmap_region */
export function doMmap(op: Op, a: MmapArgs): Ret<bigint> {
  if ((a.offset & 0xfffn) !== 0n) return fail(op, 'sys_mmap', 'EINVAL');
  if (a.fd === null) return doMmapAnon(op, a);
  let p = processOf(op, a.pid);
  const id = p.fds.get(a.fd);
  if (id === undefined) return fail(op, 'ksys_mmap_pgoff', 'EBADF');
  const file = fileOf(op, id);
  const fops = fopsOf(file);
  const fixed = a.flags.includes('fixed');
  // do_mmap
  const l = mmapLength(op, a);
  if (!l.ok) return l;
  const len = l.value;
  const pgoff = a.offset >> PAGE_SHIFT;
  // get_unmapped_area
  let addr: bigint;
  if (fixed) {
    const at = fixedAddress(op, a, len);
    if (!at.ok) return at;
    addr = at.value;
  } else {
    const got = getUnmappedAreaFile(op, p, file, a.addr ?? 0n, len, pgoff);
    if (!got.ok) return fail(op, 'get_unmapped_area', got.errno);
    addr = got.value;
  }
  // The map type and the file's mode (do_mmap's switch on flags & MAP_TYPE).
  const type = mapType(a.flags);
  const write = a.prot === 'rw';
  let mayshare = false;
  let maywrite = true;
  if (type === 1 || type === 3) {
    if (type === 3 && a.flags.includes('sync') && !fops.mapSync) return fail(op, 'do_mmap', 'EOPNOTSUPP');
    if (write && file.mode === 'rdonly') return fail(op, 'do_mmap', 'EACCES');
    mayshare = true;
    if (file.mode === 'rdonly') maywrite = false;
  } else if (type !== 2) return fail(op, 'do_mmap', 'EINVAL');
  if (file.mode === 'wronly') return fail(op, 'do_mmap', 'EACCES');
  // mmap_region: MAP_FIXED first unmaps what is there (and that stays done if the driver refuses).
  if (fixed) {
    const un = unmapForFixed(op, a.pid, p, addr, len);
    if (!un.ok) return un;
    p = un.value;
  }
  getFile(op, id);
  const proposed: Vma = {
    start: addr,
    end: addr + len,
    pgoff,
    file: id,
    prot: a.prot,
    // VM_SYNC comes from calc_vm_flag_bits(flags), which do_mmap (v6.1 mm/mmap.c) computes before
    // `case MAP_SHARED: flags &= LEGACY_MAP_MASK`: MAP_SHARED|MAP_SYNC keeps VM_SYNC (smaps "sf",
    // seen on 6.1.0-57) though the flag is "silently ignored".
    flags: { ...MMAP_VM_FLAGS, mayshare, maywrite, sync: a.flags.includes('sync'), account: !mayshare && write },
    mmapAlign: 4096n,
    grown: false,
    ptes: PageTable.emptyFile(),
  };
  const rc = fops.mmap(op, { comm: a.comm, file: fileOf(op, id), vma: proposed });
  if (!rc.ok) {
    fput(op, id);
    return fail(op, 'mmap_region', rc.errno);
  }
  p = processOf(op, a.pid);
  const maps = new Map(p.maps);
  maps.set(a.map, addr);
  p = withProcess(p, { vmas: insertVma(p.vmas, rc.value), maps });
  setProcess(op, a.pid, p);
  if (a.flags.includes('populate') && type !== 2) populate(op, a.comm, a.pid, addr, addr + len);
  return { ok: true, value: addr };
}

/**
 * @kernel do_mmap mm/mmap.c for MAP_ANONYMOUS (no file): MAP_PRIVATE takes
 * pgoff = addr >> PAGE_SHIFT; any other map type but MAP_SHARED is EINVAL
 * (MAP_SHARED|MAP_ANONYMOUS is shmem_zero_setup's shmem file, which the
 * model leaves out: the log parser refuses it). Placement is the mm's own
 * get_unmapped_area: v6.1 does not align anonymous mappings to 2 MiB
 * (thp_get_unmapped_area serves only files whose ->get_unmapped_area it is;
 * the anonymous alignment, efa7df3e3bb5, came in v6.7). mmap_region
 * builds the vma with no vm_ops; MAP_POPULATE faults it in as
 * populate_vma_page_range does (a write fault where VM_WRITE).
 * vma_merge joins it to an adjacent anonymous vma of the same protection and
 * flags (the anon_vma compatibility rule, is_mergeable_anon_vma's singular
 * chain after fork, is left out). Left out: MAP_NORESERVE, MAP_GROWSDOWN.
 */
/** @kernel do_mmap mm/mmap.c — a length of 0 is EINVAL, one that pages up past TASK_SIZE (or wraps) ENOMEM. */
function mmapLength(op: Op, a: MmapArgs): Ret<bigint> {
  if (a.length === 0n) return fail(op, 'do_mmap', 'EINVAL');
  const len = pageAlign(a.length);
  if (len === 0n || len > TASK_SIZE) return fail(op, 'do_mmap', 'ENOMEM');
  return { ok: true, value: len };
}

/** @kernel get_unmapped_area mm/mmap.c for MAP_FIXED — the address as given: unaligned EINVAL, past TASK_SIZE ENOMEM. */
function fixedAddress(op: Op, a: MmapArgs, len: bigint): Ret<bigint> {
  const at = a.addr ?? 0n;
  if ((at & 0xfffn) !== 0n) return fail(op, 'get_unmapped_area', 'EINVAL');
  if (at > TASK_SIZE - len) return fail(op, 'get_unmapped_area', 'ENOMEM');
  return { ok: true, value: at };
}

/**
 * @kernel mmap_region mm/mmap.c — MAP_FIXED first unmaps what is there (and
 * that stays done whatever follows: the unmapped vmas' files may lose their
 * last reference here); `if (do_mas_munmap(...)) return -ENOMEM;` (v6.1):
 * a refused split is ENOMEM. Returns the process after the unmap.
 */
function unmapForFixed(op: Op, pid: string, p: Process, addr: bigint, len: bigint): Ret<Process> {
  const un = doMunmap(op, p, addr, len);
  setProcess(op, pid, un.proc);
  if (un.removed.length > 0) op.branch('mmap_region', 'unmapped-before-mmap');
  releaseVmas(op, un.removed);
  if (un.errno !== null) return fail(op, 'mmap_region', 'ENOMEM');
  return { ok: true, value: processOf(op, pid) };
}

function doMmapAnon(op: Op, a: MmapArgs): Ret<bigint> {
  const l = mmapLength(op, a);
  if (!l.ok) return l;
  const len = l.value;
  const fixed = a.flags.includes('fixed');
  let p = processOf(op, a.pid);
  let addr: bigint;
  if (fixed) {
    const at = fixedAddress(op, a, len);
    if (!at.ok) return at;
    addr = at.value;
  } else {
    const got = getUnmappedAreaAnon(op, p, a.addr ?? 0n, len, a.offset >> PAGE_SHIFT);
    if (!got.ok) return fail(op, 'get_unmapped_area', got.errno);
    addr = got.value;
  }
  if (mapType(a.flags) !== 2) return fail(op, 'do_mmap', 'EINVAL');
  if (fixed) {
    const un = unmapForFixed(op, a.pid, p, addr, len);
    if (!un.ok) return un;
    p = un.value;
  }
  const vma: Vma = {
    start: addr,
    end: addr + len,
    pgoff: addr >> PAGE_SHIFT,
    file: null,
    prot: a.prot,
    flags: { ...MMAP_VM_FLAGS, sync: a.flags.includes('sync'), account: a.prot === 'rw' },
    mmapAlign: 4096n,
    grown: false,
    ptes: PageTable.empty(),
  };
  op.branch('do_mmap', 'anonymous');
  const maps = new Map(p.maps);
  maps.set(a.map, addr);
  // mmap_region's vma_merge: the new vma joins an adjacent anonymous one nothing tells apart (same protection and
  // flags; anonymous pgoffs are contiguous by construction). `kernel fuzz --hmm` seed 1210 run 28: a 2 MiB mapping
  // merged with two 1 MiB ones held a whole 2 MiB block, which a later split invalidated.
  const merged = mergeAdjacent(withProcess(p, { vmas: insertVma(p.vmas, vma), maps }), addr, addr + len);
  setProcess(op, a.pid, merged.proc);
  if (a.flags.includes('populate')) populate(op, a.comm, a.pid, addr, addr + len);
  return { ok: true, value: addr };
}

export function insertVma(vmas: readonly Vma[], v: Vma): Vma[] {
  const out = vmas.slice();
  let i = 0;
  while (i < out.length && (out[i] as Vma).start < v.start) i++;
  out.splice(i, 0, v);
  return out;
}

/**
 * @kernel populate_vma_page_range mm/gup.c (mm_populate for MAP_POPULATE):
 * fault every unit of the range in as a write would, ignoring failures.
 */
export function populate(op: Op, comm: string, pid: string, start: bigint, end: bigint): void {
  let addr = start;
  while (addr < end) {
    const p = processOf(op, pid);
    const at = vmaAt(p, addr);
    if (at === null) return;
    const have = entryAt(at.vma, addr);
    if (have !== null) {
      addr = have.unit + LEVEL_SIZE[have.pte.level];
      continue;
    }
    const r = handleMmFault(op, comm, p, at.index, addr, at.vma.prot === 'rw');
    setProcess(op, pid, r.proc);
    addr = r.kind === 'installed' ? r.unit + LEVEL_SIZE[r.pte.level] : (addr & ~0xfffn) + 4096n;
  }
}

/**
 * @kernel do_mprotect_pkey mm/mprotect.c — the whole range must be mapped
 * (ENOMEM at the first hole), a shared vma without VM_MAYWRITE cannot gain
 * PROT_WRITE (EACCES), and mprotect_fixup splits at both ends through
 * may_split. Vmas already changed stay changed when a later one fails.
 */
export function doMprotect(op: Op, pid: string, start: bigint, length: bigint, prot: Prot): Ret {
  if ((start & 0xfffn) !== 0n) return fail(op, 'do_mprotect_pkey', 'EINVAL');
  const len = pageAlign(length);
  if (len === 0n) return { ok: true, value: true };
  const end = start + len;
  if (end <= start) return fail(op, 'do_mprotect_pkey', 'ENOMEM');
  let p = processOf(op, pid);
  if (vmaAt(p, start) === null) return fail(op, 'do_mprotect_pkey', 'ENOMEM');
  let cursor = start;
  while (cursor < end) {
    const at = vmaAt(p, cursor);
    if (at === null) {
      setProcess(op, pid, p);
      return fail(op, 'do_mprotect_pkey', 'ENOMEM');
    }
    // `(newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS`: PROT_WRITE without VM_MAYWRITE (a shared map of an O_RDONLY
    // file, [vvar]) is EACCES.
    if (prot === 'rw' && !at.vma.flags.maywrite) {
      setProcess(op, pid, p);
      return fail(op, 'do_mprotect_pkey', 'EACCES');
    }
    // mprotect_fixup: nothing to do (no split, so no may_split refusal) when the protection
    // does not change (`if (newflags == oldflags) return 0`, v6.1 mm/mprotect.c).
    if (at.vma.prot === prot) {
      cursor = end < at.vma.end ? end : at.vma.end;
      continue;
    }
    // mprotect_fixup: split at the range's start and end inside this vma.
    for (const cut of [cursor, end < at.vma.end ? end : at.vma.end]) {
      const s = splitAt(op, p, cut);
      if (!s.ok) {
        setProcess(op, pid, p);
        return fail(op, 'mprotect_fixup', s.errno);
      }
      p = s.value;
    }
    const now = vmaAt(p, cursor);
    if (now === null) throw new Error('model bug: vma vanished in mprotect');
    const vmas = p.vmas.slice();
    // mprotect_fixup: a private vma gaining VM_WRITE is charged (VM_ACCOUNT), and stays so.
    const account = now.vma.flags.account || (prot === 'rw' && !now.vma.flags.mayshare);
    const flags = account === now.vma.flags.account ? now.vma.flags : { ...now.vma.flags, account };
    vmas[now.index] = changeProtection(withVma(now.vma, { prot, flags }), prot, op.state.profile.hmmMprotectKeepsWrite);
    // change_protection: MMU_NOTIFY_PROTECTION_VMA over the range it changes.
    mmuNotifierInvalidate(op, p.mm, now.vma.start, now.vma.end);
    p = withProcess(p, { vmas });
    cursor = now.vma.end;
  }
  // mprotect_fixup's vma_merge: the changed range joins neighbours it no longer differs from.
  const merged = mergeAdjacent(p, start, end);
  setProcess(op, pid, merged.proc);
  releaseVmas(op, merged.removed);
  return { ok: true, value: true };
}

function fail<T>(op: Op, fn: string, errno: Errno): Ret<T> {
  op.branch(fn, errno);
  return err(errno);
}
