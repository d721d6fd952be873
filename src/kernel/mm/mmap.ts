/**
 * Mirrors mm/mmap.c and mm/util.c (v6.1): ksys_mmap_pgoff → do_mmap →
 * get_unmapped_area → mmap_region → the driver's ->mmap, and
 * mm/mprotect.c's do_mprotect_pkey. Addresses below mmap_base are handed
 * out top-down; the model never reuses a hole, which changes no outcome
 * the log compares (an mmap address is compared by its alignment).
 * Anonymous private mappings: doMmapAnon (src/kernel/mm/anon.ts faults them).
 * Left out: private file mappings, shared anonymous (shmem) mappings, stack guard gaps, MAP_FIXED_NOREPLACE, pkeys, mlock.
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
import { LEVEL_SIZE, PAGE_SHIFT, SZ_2M, withProcess, withVma, type Process, type Vma } from './types.js';

/** Where top-down allocation starts: below the stack, 1 GiB-aligned (mmap_base with no randomisation, rounded). */
export const MMAP_BASE = 0x7ff000000000n;

/** The lowest address any vma uses, or mmap_base. */
function lowest(p: Process): bigint {
  const first = p.vmas[0];
  return first === undefined || first.start > MMAP_BASE ? MMAP_BASE : first.start;
}

/**
 * @kernel arch_get_unmapped_area_topdown arch/x86/kernel/sys_x86_64.c — a
 * free page-aligned hint is taken as it is; otherwise the highest free range
 * below everything mapped (the model's simplification of vm_unmapped_area,
 * which would also reuse holes above the lowest vma).
 */
export function archGetUnmappedArea(p: Process, hint: bigint, len: bigint): Ret<bigint> {
  if (len > TASK_SIZE) return err('ENOMEM');
  if (hint !== 0n) {
    const a = pageAlign(hint);
    if (TASK_SIZE - len >= a && a >= 0x10000n && !p.vmas.some((v) => v.start < a + len && a < v.end)) return { ok: true, value: a };
  }
  const top = lowest(p);
  if (top < len + 0x20000n) return err('ENOMEM');
  // vm_unmapped_area (top-down, align_mask 0) returns the gap's end minus len. Below a vma the
  // model placed, the real vma is at least as aligned, so the real address is aligned to at
  // least the smaller of its alignment and len's: that much and no more (a 2M device mapping
  // below 2M-aligned ones lands 2M-aligned, and check_vma passes, as on 6.1.0-57 in
  // map-fixed-b3). Below mmap_base, whose real value the model does not know, a page.
  const unit = top === MMAP_BASE ? 4096n : minAlign(top, len);
  return { ok: true, value: exactly(top - len, unit) };
}

/** The largest power of two dividing both (a page at least, 1 GiB at most). */
function minAlign(a: bigint, b: bigint): bigint {
  let unit = 4096n;
  while (((a | b) & (unit * 2n - 1n)) === 0n && unit < 1n << 30n) unit *= 2n;
  return unit;
}

/**
 * The model's placement choice. Where the kernel puts a mapping depends on
 * mmap_base and what is already mapped, so a recorded address is compared
 * by alignment (src/replay/compare.ts): the model answers with an address
 * aligned to exactly what the kernel guarantees (`unit`) and no more, moving
 * down by one unit when it came out more aligned. Everything below the
 * model's lowest vma is free, so the lower address is as valid.
 */
export function exactly(addr: bigint, unit: bigint): bigint {
  return unit < 1n << 30n && (addr & unit) === 0n ? addr - unit : addr;
}

export interface MmapArgs {
  readonly comm: string;
  readonly pid: string;
  readonly map: string;
  /** The fd handle, or null for MAP_ANONYMOUS. */
  readonly fd: string | null;
  readonly addr: bigint | null;
  readonly length: bigint;
  readonly offset: bigint;
  /** Where the kernel put it, when a recorded log says so (a successful mmap's result); null otherwise. */
  readonly placed?: bigint | null;
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
    const hint = a.addr ?? 0n;
    const proc = p;
    const got = fops.getUnmappedArea(op, file, hint, len, pgoff, (l) => archGetUnmappedArea(proc, hint, l));
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
    flags: { mayshare, maywrite, hugepage: false, nohugepage: false, dontcopy: false, sync: a.flags.includes('sync'), pfnmap: false, account: !mayshare && write },
    mmapAlign: 4096n,
    grown: false,
    ptes: PageTable.empty(),
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
  } else if (a.placed !== undefined && a.placed !== null && (a.placed & 0xfffn) === 0n && a.placed <= TASK_SIZE - len && !p.vmas.some((v) => v.start < (a.placed as bigint) + len && (a.placed as bigint) < v.end)) {
    // The recorded address, where the model has room for it: the model's own choice only keeps the alignment the
    // kernel guarantees, not the neighbours (kernel fuzz --hmm seed 1220 run 3: two 4 KiB mappings the kernel put
    // side by side, so MADV_DONTNEED of the lower one erased the upper one's device page-table entry by
    // dmirror_do_update's inclusive end).
    addr = a.placed;
  } else {
    const got = anonGetUnmappedArea(op, p, a.addr ?? 0n, len);
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
    flags: { mayshare: false, maywrite: true, hugepage: false, nohugepage: false, dontcopy: false, sync: a.flags.includes('sync'), pfnmap: false, account: a.prot === 'rw' },
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

/**
 * @kernel __get_unmapped_area mm/mmap.c for a private anonymous mapping —
 * the mm's own allocator, or from v6.7 thp_get_unmapped_area
 * (__thp_get_unmapped_area: ask for len + 2 MiB, return a 2 MiB-aligned
 * address inside) when the profile's rule takes the length and there is no
 * hint (the switch anonThpAlign). The model answers exactly 2 MiB-aligned
 * (exactly()), as the kernel guarantees no more.
 */
function anonGetUnmappedArea(op: Op, p: Process, hint: bigint, len: bigint): Ret<bigint> {
  const rule = op.state.profile.anonThpAlign;
  const thp = hint === 0n && (rule === 'len-ge-pmd' ? len >= SZ_2M : rule === 'len-multiple-pmd' ? len % SZ_2M === 0n : false);
  if (!thp) {
    // A page and no more: archGetUnmappedArea's inference from the vma above (a device mapping below
    // aligned ones) does not hold for anonymous memory, whose vmas munmap cuts anywhere and whose holes
    // vm_unmapped_area reuses where the model does not know the neighbours (the differential fuzz of
    // test_hmm's programs, seed 1204: a 64 KiB mapping the model placed 64 KiB-aligned came back 4 KiB-aligned).
    const a = archGetUnmappedArea(p, hint, len);
    return a.ok && hint === 0n ? { ok: true, value: exactly(a.value, 4096n) } : a;
  }
  const padded = archGetUnmappedArea(p, 0n, len + SZ_2M);
  if (!padded.ok) return archGetUnmappedArea(p, hint, len);
  op.branch('thp_get_unmapped_area', 'anon-aligned');
  const up = (padded.value + SZ_2M - 1n) & ~(SZ_2M - 1n);
  return { ok: true, value: exactly(up, SZ_2M) };
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
    if (prot === 'rw' && at.vma.flags.mayshare && !at.vma.flags.maywrite) {
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
