/**
 * Mirrors mm/mmap.c and mm/util.c (v6.1): ksys_mmap_pgoff → do_mmap →
 * get_unmapped_area → mmap_region → the driver's ->mmap, and
 * mm/mprotect.c's do_mprotect_pkey. Where a mapping goes (mmap_base,
 * vm_unmapped_area with hole reuse, dax_get_unmapped_area's alignment,
 * thp_get_unmapped_area) is the kernel's, address for address:
 * src/kernel/mm/getUnmappedArea.ts. Every process starts with exec's vmas
 * (src/kernel/mm/exec.ts), which is where [vvar] puts the first mapping's top.
 * Anonymous private mappings: doMmapAnon (src/kernel/mm/anon.ts faults them).
 * Left out: private file mappings, shared anonymous (shmem) mappings, MAP_FIXED_NOREPLACE, pkeys, mlock.
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Errno } from '../errno.js';
import { fopsOf } from '../fs/chrdev.js';
import { err, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import type { MapFlag, Prot } from '../../log/programEvents.js';
import { PageTable } from './pageTable.js';
import { getUnmappedAreaAnon, getUnmappedAreaFile } from './getUnmappedArea.js';
import { changeProtection } from './anon.js';
import { handleMmFault, entryAt } from './fault.js';
import { fileOf, fput, getFile, setProcess, processOf, vmaAt } from './process.js';
import { doMunmap, mergeAdjacent, pageAlign, releaseVmas, splitAt, TASK_SIZE } from './vma.js';
import { LEVEL_SIZE, PAGE_SHIFT, withProcess, withVma, type Process, type Vma, type VmFlags } from './types.js';

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
