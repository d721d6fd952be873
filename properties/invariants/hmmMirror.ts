/**
 * Invariants of test_hmm's device page table (KERNEL-FACTS-HMM §5.1, items
 * 6 and 8), over the dmirror files (src/kernel/hmm/dmirrorIoctl.ts) and the
 * mm each mirrors. Incremental: a step that changed no file and no process
 * changed neither side.
 */
import { entryAt } from '../../src/kernel/mm/fault.js';
import { vmaAt } from '../../src/kernel/mm/process.js';
import { dmirrorIndex } from '../../src/kernel/mm/mmuNotifier.js';
import { LEVEL_SIZE, PAGE_SHIFT, type MirrorEntry, type OpenFile, type Process } from '../../src/kernel/mm/types.js';
import type { WideIntMap } from '../../src/util/wideIntMap.js';
import type { KernelState } from '../../src/kernel/state.js';
import { hex } from '../../src/util/u64.js';
import type { Invariant } from './types.js';
import { testHmmBuilt } from './testHmmBuilt.js';

/** The dmirror files with device page-table entries, with the process whose mm they mirror (undefined: gone). */
function mirrors(s: KernelState): Array<{ readonly id: number; readonly file: OpenFile; readonly owner: Process | undefined }> {
  const out = [];
  for (const [id, f] of s.mm.files) {
    if (f.mirror === undefined || f.mirror.size === 0) continue;
    let owner: Process | undefined;
    for (const p of s.mm.procs.values()) if (f.mm !== null && f.mm !== undefined && p.mm === f.mm) owner = p;
    out.push({ id, file: f, owner });
  }
  return out;
}

/**
 * hmm-mirror-coherent: every entry of a device page table names the page
 * the CPU maps at that address in the mirrored mm, and is tagged WRITE only
 * where that mapping is writable. dmirror_do_fault copies what
 * hmm_range_fault saw; every later change of the CPU entry (zap, COW,
 * split, protection change, fork of a COW mapping) calls the interval
 * notifier first, and dmirror_interval_invalidate erases the range.
 */
export const hmmMirrorCoherent: Invariant = {
  name: 'hmm-mirror-coherent',
  appliesTo: testHmmBuilt,
  inputs: ['mm', 'hmm'],
  summary: "a dmirror device page-table entry maps the page the CPU maps at that address in the mirrored mm (for a device-private entry: that device page or its backing page, of the file's own device), writable only where the CPU's entry is; none once the mm is gone",
  kernel: 'lib/test_hmm.c dmirror_do_fault / dmirror_interval_invalidate; mm/mmu_notifier.c invalidations from unmap_region, zap_page_range, change_protection, copy_page_range (COW), wp_page_copy, __split_huge_pmd; exit_mmap → mmu_notifier_release',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.mm.files === after.mm.files && before.mm.procs === after.mm.procs && before.hmm.pages === after.hmm.pages) return [];
    const out: string[] = [];
    for (const { id, file, owner } of mirrors(after)) {
      if (owner === undefined) {
        out.push(`${file.path}: ${file.mirror?.size} device page-table entries, but the mm it mirrors is gone`);
        continue;
      }
      const mirror = file.mirror as WideIntMap<MirrorEntry>;
      // Incremental: the entries this step put in the table, and those under what changed on the CPU side.
      const keys = full || before === null ? null : touchedKeys(before, owner, before.mm.files.get(id), mirror);
      const entries: Iterable<[number, MirrorEntry]> = keys === null ? mirror.entries() : keys.flatMap((k): Array<[number, MirrorEntry]> => {
        const e = mirror.get(k);
        return e === undefined ? [] : [[k, e]];
      });
      for (const [vpfn, e] of entries) {
        const m = incoherence(after, owner, file, vpfn, e);
        if (m !== null) out.push(m);
      }
    }
    return out;
  },
  culprit: ({ step, before, after }) => {
    const t = step.event.type;
    // A READ/WRITE whose own stores are all coherent only re-shows an entry left stale earlier.
    if (t === 'ioctl' && before !== null && !storedIncoherent(before, after)) return 'dmirror_interval_invalidate';
    // A migration (MIGRATE_TO_DEV/SYS, a CPU fault back) invalidates with the device as owner: a stale entry after it is
    // dmirror_interval_invalidate's (it ignored the event); after READ/WRITE it is what dmirror_do_fault stored.
    if (t === 'ioctl' && (step.event.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' || step.event.cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS')) return 'dmirror_interval_invalidate';
    if (t === 'access' || t === 'procmem') return 'dmirror_interval_invalidate';
    return t === 'fork' ? 'copy_page_range' : t === 'mprotect' ? 'change_protection' : t === 'munmap' ? 'unmap_region' : t === 'madvise' ? 'zap_page_range' : t === 'exit' ? 'exit_mmap' : t === 'ioctl' ? 'dmirror_do_fault' : 'dmirror_interval_invalidate';
  },
};

/**
 * What is wrong with the device page-table entry of `file` at virtual page `vpfn` in `s`, or null: it must
 * name the page the CPU maps there (for a device-private entry: dmirror_migrate_finalize_and_map stores the
 * backing page, dmirror_do_fault the device page hmm_range_fault reported, only the file's own device's: others
 * are faulted back first), WRITE only over a writable CPU entry.
 */
function incoherence(s: KernelState, owner: Process, file: OpenFile, vpfn: number, e: MirrorEntry): string | null {
  const addr = BigInt(vpfn) << PAGE_SHIFT;
  const at = vmaAt(owner, addr);
  const have = at === null ? null : entryAt(at.vma, addr);
  if (have === null) return `${file.path}: the device maps ${hex(addr)} to ${hex(e.phys)}, where the CPU maps nothing`;
  const page = (have.pte.phys & ~(LEVEL_SIZE[have.pte.level] - 1n)) + ((addr - have.unit) & ~0xfffn);
  const dpage = have.pte.anon?.kind === 'device' ? s.hmm.pages.get(Number(page >> PAGE_SHIFT)) : undefined;
  if (dpage !== undefined && dpage.device !== dmirrorIndex(file.dev)) return `${file.path}: the device maps ${hex(addr)}, a device-private page of hmm_dmirror${dpage.device}`;
  if (dpage !== undefined ? e.phys !== page && e.phys !== BigInt(dpage.rpage) << PAGE_SHIFT : page !== e.phys) return `${file.path}: the device maps ${hex(addr)} to ${hex(e.phys)}, the CPU to ${hex(page)}`;
  if (e.tag === 'write' && have.pte.anon?.write !== true) return `${file.path}: the device may write ${hex(addr)}, whose CPU entry is read-only`;
  return null;
}

/** Whether a step stored a device page-table entry (dmirror_do_fault, finalize_and_map) that is wrong. */
function storedIncoherent(before: KernelState, after: KernelState): boolean {
  if (before.mm.files === after.mm.files) return false;
  for (const { id, file, owner } of mirrors(after)) {
    const was = before.mm.files.get(id)?.mirror;
    const mirror = file.mirror;
    if (mirror === undefined || mirror === was || owner === undefined) continue;
    const keys = was === undefined ? [...mirror.entries()].map(([k]) => k) : mirror.changedKeys(was);
    for (const k of keys) {
      const e = mirror.get(k);
      if (e !== undefined && incoherence(after, owner, file, k, e) !== null) return true;
    }
  }
  return false;
}

/**
 * The device page-table keys a step may have made wrong: those it stored,
 * and those over CPU entries it changed (a page table one step from the
 * vma before names its key; a vma made, moved, cut or reprotected counts
 * whole, as does one that went). `was` is the file before the step.
 */
export function touchedKeys(before: KernelState, owner: Process, was: OpenFile | undefined, mirror: WideIntMap<MirrorEntry>): number[] {
  const out = new Set<number>();
  if (was?.mirror === undefined) for (const [k] of mirror.entries()) out.add(k);
  else if (was.mirror !== mirror) for (const k of mirror.changedKeys(was.mirror)) out.add(k);
  let old: Process | undefined;
  for (const p of before.mm.procs.values()) if (p.mm === owner.mm) old = p;
  if (old === owner) return [...out];
  const range = (lo: bigint, hi: bigint): void => {
    for (const [k] of mirror.range(Number(lo >> PAGE_SHIFT), Number((hi - 1n) >> PAGE_SHIFT))) out.add(k);
  };
  const oldVmas = new Set(old?.vmas ?? []);
  // Old vmas a vma of the same bounds and protection replaced (only its entries changed): judged by key below.
  const replaced = new Set<object>();
  for (const v of owner.vmas) {
    if (oldVmas.has(v)) continue;
    const prev = old?.vmas.find((o) => o.start === v.start && o.end === v.end && o.prot === v.prot);
    if (prev === undefined) {
      range(v.start, v.end);
      continue;
    }
    replaced.add(prev);
    for (const k of v.ptes.changedKeys(prev.ptes)) {
      const pte = v.ptes.get(k) ?? prev.ptes.get(k);
      const at = v.start + (BigInt(k) << PAGE_SHIFT);
      range(at, at + (pte === undefined ? 4096n : LEVEL_SIZE[pte.level]));
    }
  }
  // What went: the old vmas no vma of the owner is now, nor replaced.
  const now = new Set(owner.vmas);
  for (const v of old?.vmas ?? []) if (!now.has(v) && !replaced.has(v)) range(v.start, v.end);
  return [...out];
}

/**
 * hmm-dmirror-counters (and migrateCounters below): a successful READ, WRITE, SNAPSHOT or EXCLUSIVE
 * answers cpages = npages (dmirror_read/dmirror_write loop until every page
 * is done; dmirror_snapshot adds every window; dmirror_exclusive reads back
 * the whole range, every page of which it mapped ATOMIC), and READ/WRITE
 * count at most one fault pass per window that found pages missing.
 */
export const hmmDmirrorCounters: Invariant = {
  name: 'hmm-dmirror-counters',
  appliesTo: testHmmBuilt,
  onEvents: ['ioctl'],
  summary: 'a successful dmirror READ, WRITE, SNAPSHOT, EXCLUSIVE or MIGRATE_TO_DEV reports cpages = npages, READ/WRITE no more fault passes than pages, MIGRATE_TO_SYS the device pages it moved',
  kernel: 'lib/test_hmm.c dmirror_read, dmirror_write, dmirror_exclusive, dmirror_migrate_to_device (bounce.cpages), dmirror_snapshot (cmd->cpages += n), dmirror_migrate_to_system (dmirror_successful_migrated_pages)',
  onOutcome: true,
  check: ({ step, before, after }) => {
    const e = step.event;
    const o = step.outcome;
    if (e.type !== 'ioctl' || !o.ok || o.out === undefined || !('npages' in e.args)) return [];
    const npages = Number(e.args.npages);
    if (e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' || e.cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS') return migrateCounters(e.cmd, npages, o.out, before, after, e.pid, e.fd, e.args.addr.map, e.args.addr.offset);
    if (e.cmd !== 'HMM_DMIRROR_READ' && e.cmd !== 'HMM_DMIRROR_WRITE' && e.cmd !== 'HMM_DMIRROR_SNAPSHOT' && e.cmd !== 'HMM_DMIRROR_EXCLUSIVE') return [];
    const out: string[] = [];
    if (o.out['cpages'] !== npages) out.push(`${e.cmd} of ${npages} pages answered cpages=${o.out['cpages']}`);
    if ((o.out['faults'] ?? 0) > npages) out.push(`${e.cmd} of ${npages} pages counted ${o.out['faults']} fault passes`);
    return out;
  },
  culprit: ({ step }) => {
    const e = step.event;
    if (e.type !== 'ioctl') return 'dmirror_read';
    return e.cmd === 'HMM_DMIRROR_SNAPSHOT' ? 'dmirror_snapshot' : e.cmd === 'HMM_DMIRROR_EXCLUSIVE' ? 'dmirror_exclusive' : e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' ? 'dmirror_migrate_to_device' : e.cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS' ? 'dmirror_migrate_to_system' : 'dmirror_read';
  },
};

/**
 * MIGRATE_TO_DEV succeeds only when the whole range reads back (cpages =
 * npages, no fault pass); MIGRATE_TO_SYS's cpages is the number of the
 * device's pages it moved: its device-private entries over the range in the
 * mirrored mm before the command, less those still there after it
 * (dmirror_successful_migrated_pages counts the pages still MIGRATE after
 * migrate_vma_pages).
 */
function migrateCounters(cmd: string, npages: number, out: Readonly<Record<string, number>>, before: KernelState | null, after: KernelState, pid: string, fd: string, map: string, offset: bigint): string[] {
  const msgs: string[] = [];
  if (cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV') {
    if (out['cpages'] !== npages) msgs.push(`${cmd} of ${npages} pages answered cpages=${out['cpages']}`);
    if ((out['faults'] ?? 0) !== 0) msgs.push(`${cmd} counted ${out['faults']} fault passes`);
    return msgs;
  }
  if (before === null) return msgs;
  const caller = before.mm.procs.get(pid);
  const id = caller?.fds.get(fd);
  const file = id === undefined ? undefined : before.mm.files.get(id);
  const base = caller?.maps.get(map);
  if (file === undefined || base === undefined || file.mm === undefined || file.mm === null) return msgs;
  const device = dmirrorIndex(file.dev);
  const start = (base + offset) & ~0xfffn;
  const count = (s: KernelState): number => {
    let mirrored: Process | undefined;
    for (const p of s.mm.procs.values()) if (p.mm === file.mm) mirrored = p;
    if (mirrored === undefined) return 0;
    let n = 0;
    for (let i = 0; i < npages; i++) {
      const addr = start + (BigInt(i) << PAGE_SHIFT);
      const at = vmaAt(mirrored, addr);
      const pte = at === null ? null : entryAt(at.vma, addr)?.pte;
      if (pte?.anon?.kind === 'device' && s.hmm.pages.get(Number(pte.phys >> PAGE_SHIFT))?.device === device) n++;
    }
    return n;
  };
  const moved = count(before) - count(after);
  if (out['cpages'] !== moved) msgs.push(`${cmd} of ${npages} pages answered cpages=${out['cpages']}, but ${moved} of the device's pages left the range`);
  return msgs;
}

export const HMM_MIRROR_INVARIANTS: readonly Invariant[] = [hmmMirrorCoherent, hmmDmirrorCounters];
