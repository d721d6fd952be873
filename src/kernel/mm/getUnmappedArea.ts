/**
 * Where a mapping goes: mirrors mm/mmap.c (v6.1: vm_unmapped_area,
 * unmapped_area, unmapped_area_topdown, get_unmapped_area, find_vma),
 * include/linux/mm.h (vm_start_gap, vm_end_gap), arch/x86/mm/mmap.c
 * (mmap_base with no randomisation, mmap_address_hint_valid),
 * arch/x86/kernel/sys_x86_64.c (arch_get_unmapped_area and its top-down
 * twin) and mm/huge_memory.c (v6.12 __thp_get_unmapped_area for anonymous
 * mappings, by the profile's anonThpAlign). Address for address the
 * kernel's, x86-64 with ASLR off as the harness runs its helper:
 * test/realkernel/placement.test.ts holds every placed address of the
 * recorded corpora to the recorded one. Left out: MAP_32BIT.
 */
import type { Op } from '../op.js';
import { fopsOf } from '../fs/chrdev.js';
import { err, type Ret } from '../errno.js';
import { pageAlign, TASK_SIZE } from './vma.js';
import { PAGE_SHIFT, SZ_2M, type OpenFile, type Process, type Vma } from './types.js';

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
const TASK_UNMAPPED_BASE = pageAlign(TASK_SIZE / 3n);

/** stack_guard_gap mm/mmap.c: 256 pages kept free below a VM_GROWSDOWN vma. */
const STACK_GUARD_GAP = 256n << PAGE_SHIFT;

/** @kernel vm_start_gap include/linux/mm.h — a stack's start less its guard gap (0 if that wraps). */
function vmStartGap(v: Vma): bigint {
  if (!v.flags.growsdown) return v.start;
  const s = v.start - STACK_GUARD_GAP;
  return s < 0n ? 0n : s;
}

/** @kernel vm_end_gap include/linux/mm.h — the end (x86 has no VM_GROWSUP). */
function vmEndGap(v: Vma): bigint {
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

const ULONG_MAX = (1n << 64n) - 1n;

/**
 * The highest of gaps(p), cut to [low, max], that holds `length`: as
 * [start, last], or null. gaps(p) walked from the top without building it
 * (every mmap of a program asks: the list and its reversed copy were most of
 * the search's cost).
 */
function highestGap(p: Process, low: bigint, max: bigint, length: bigint): readonly [bigint, bigint] | null {
  const vmas = p.vmas;
  // i: the gap below vmas[i]; i = vmas.length: the gap above the last vma, up to ULONG_MAX.
  for (let i = vmas.length; i >= 0; i--) {
    const s = i === 0 ? 0n : (vmas[i - 1] as Vma).end;
    const above = i === vmas.length ? null : (vmas[i] as Vma);
    // As gaps(): a gap only where the vma starts above the end of the one before.
    if (above !== null && above.start <= s) continue;
    const l = above === null ? ULONG_MAX : above.start - 1n;
    const lo = s > low ? s : low;
    const hi = l < max ? l : max;
    if (hi >= lo && hi - lo + 1n >= length) return [lo, hi];
  }
  return null;
}

/** The first vma starting above `addr` (vmas are sorted by start). */
function vmaAbove(p: Process, addr: bigint): Vma | undefined {
  for (const v of p.vmas) if (v.start > addr) return v;
  return undefined;
}

/** The last vma ending at or below `addr`. */
function vmaEndingBy(p: Process, addr: bigint): Vma | undefined {
  for (let i = p.vmas.length - 1; i >= 0; i--) if ((p.vmas[i] as Vma).end <= addr) return p.vmas[i];
  return undefined;
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
    const found = highestGap(p, info.lowLimit, highLimit - 1n, length);
    if (found === null) return null;
    const gapEnd = found[1];
    let gap = gapEnd + 1n - info.length;
    gap -= (gap - info.alignOffset) & info.alignMask;
    const next = vmaAbove(p, gapEnd);
    if (next !== undefined && next.flags.growsdown) {
      if (vmStartGap(next) <= gapEnd) {
        highLimit = vmStartGap(next);
        continue;
      }
    } else {
      const prev = vmaEndingBy(p, found[0]);
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
function archGetUnmappedArea(p: Process, addr: bigint, len: bigint, pgoff: bigint): Ret<bigint> {
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
