/**
 * Invariants of device-exclusive entries (KERNEL-FACTS-HMM §5.1 item 5;
 * src/kernel/mm/deviceExclusive.ts, src/kernel/hmm/dmirrorExclusive.ts):
 * where such an entry may be, what it holds of its page, and test_hmm's
 * ATOMIC device page-table entries, which may exist only while the page
 * is still exclusive to the device. Incremental: a step that changed no
 * process, no file and no folio changed nothing they judge; otherwise the
 * state is judged whole when the step touched anything exclusive (rare:
 * the test_hmm machines only).
 */
import { entryAt } from '../../src/kernel/mm/fault.js';
import { vmaAt } from '../../src/kernel/mm/process.js';
import { HPAGE_PMD_NR } from '../../src/kernel/mm/pageAlloc.js';
import { PAGE_SHIFT, type AnonState, type MirrorEntry, type Process, type Pte, type Vma } from '../../src/kernel/mm/types.js';
import { touchedKeys } from './hmmMirror.js';
import type { KernelState } from '../../src/kernel/state.js';
import { hex } from '../../src/util/u64.js';
import { pairsOf } from './anonPairs.js';
import type { Invariant, InvariantContext } from './types.js';
import { testHmmBuilt } from './testHmmBuilt.js';

/** The folio record holding frame `pfn`, or undefined. */
function folioOf(a: AnonState, pfn: number): { readonly head: number; readonly devExclusive: number } | undefined {
  const f = a.folios.get(pfn);
  if (f !== undefined) return { head: pfn, devExclusive: f.devExclusive ?? 0 };
  const head = pfn - (pfn % HPAGE_PMD_NR);
  const t = a.folios.get(head);
  return t !== undefined && t.order === 9 ? { head, devExclusive: t.devExclusive ?? 0 } : undefined;
}

function isExclusive(pte: Pte | undefined): boolean {
  return pte?.anon?.kind === 'exclusive';
}

/**
 * Whether the step may have made or broken an exclusive entry: a changed
 * entry that is or was device-exclusive, a vma that went holding one, or a
 * folio whose device-exclusive references changed.
 */
/** Whether any entry of `v` is device-exclusive (a callback scan: no iterator per entry). */
function anyExclusive(v: Vma): boolean {
  if (v.ptes.size === 0) return false;
  let found = false;
  v.ptes.forEach((_k, pte) => {
    if (!found && isExclusive(pte)) found = true;
  });
  return found;
}

function touchesExclusive(ctx: InvariantContext): boolean {
  const { before, after } = ctx;
  if (ctx.full || before === null) return true;
  if (before.mm.procs === after.mm.procs && before.mm.anon.folios === after.mm.anon.folios) return false;
  const pairs = pairsOf(ctx);
  for (const [, v, old] of pairs.added) {
    if (old === undefined) {
      if (anyExclusive(v)) return true;
      continue;
    }
    for (const k of v.ptes.changedKeys(old.ptes)) if (isExclusive(v.ptes.get(k)) || isExclusive(old.ptes.get(k))) return true;
  }
  for (const [, v] of pairs.removed) if (anyExclusive(v)) return true;
  if (before.mm.anon.folios !== after.mm.anon.folios) {
    for (const h of before.mm.anon.folios.changedKeys(after.mm.anon.folios)) {
      if ((before.mm.anon.folios.get(h)?.devExclusive ?? 0) !== (after.mm.anon.folios.get(h)?.devExclusive ?? 0)) return true;
    }
  }
  return false;
}

/**
 * hmm-exclusive-entry. page_make_device_exclusive_one replaces a present PTE
 * of an anonymous folio (folio_make_device_exclusive refuses any other)
 * by a device-exclusive swap entry and removes the page's mapping
 * (page_remove_rmap) while the entry keeps the reference; every other
 * mapping of the folio is converted in the same rmap walk, and the page is
 * mapped again only by restore_exclusive_pte, which replaces the entry. So
 * a device-exclusive entry lies in a private anonymous vma, at PTE level,
 * on an allocated anon folio that counts it (refcount ≥ 1), and no present
 * entry anywhere maps its page (page_mapcount 0 while exclusive).
 */
export const hmmExclusiveEntry: Invariant = {
  name: 'hmm-exclusive-entry',
  appliesTo: testHmmBuilt,
  inputs: ['mm'],
  mmParts: ['anonVmas', 'anon'],
  summary: 'a device-exclusive entry lies in a private anonymous vma at PTE level, names an allocated anonymous folio that counts it, and no present entry maps its page (mapcount 0 while exclusive)',
  kernel: 'mm/rmap.c folio_make_device_exclusive / page_make_device_exclusive_one (page_remove_rmap, the reference kept); mm/memory.c restore_exclusive_pte, zap_pte_range',
  check: (ctx) => {
    if (!touchesExclusive(ctx)) return [];
    const { after } = ctx;
    const a = after.mm.anon;
    const out: string[] = [];
    const exclusive = new Map<number, string>();
    const present = new Map<number, string>();
    for (const [pid, p] of after.mm.procs) {
      for (const v of p.vmas) {
        if (v.ptes.size === 0) continue;
        for (const [k, pte] of v.ptes.entries()) {
          // Worded only where it is used: a present page's address is kept for a message that is rarely made.
          const where = pte.anon?.kind === 'page' || isExclusive(pte) ? `${pid} ${hex(v.start + (BigInt(k) << PAGE_SHIFT))}` : '';
          if (pte.anon?.kind === 'page') {
            // A present anon page (a PMD maps its 512 frames; none of them can be exclusive: a THP with exclusive
            // entries was PTE-mapped by FOLL_SPLIT_PMD first).
            const n = pte.level === 'pmd' ? HPAGE_PMD_NR : 1;
            const pfn = Number(pte.phys >> PAGE_SHIFT);
            for (let i = 0; i < n; i++) if (!present.has(pfn + i)) present.set(pfn + i, where);
            continue;
          }
          if (!isExclusive(pte)) continue;
          if (v.file !== null || v.flags.mayshare) out.push(`${where}: a device-exclusive entry in a ${v.file !== null ? 'file' : 'shared'} vma`);
          if (pte.level !== 'pte') out.push(`${where}: a device-exclusive entry at ${pte.level} level`);
          const pfn = Number(pte.phys >> PAGE_SHIFT);
          const f = folioOf(a, pfn);
          if (f === undefined) out.push(`${where}: device-exclusive entry of frame ${hex(pte.phys)}, which is no allocated anonymous folio`);
          else if (f.devExclusive < 1) out.push(`${where}: device-exclusive entry of frame ${hex(pte.phys)}, whose folio counts no device-exclusive reference`);
          const other = exclusive.get(pfn);
          if (other !== undefined) out.push(`frame ${hex(pte.phys)} has device-exclusive entries at ${other} and ${where}`);
          exclusive.set(pfn, where);
        }
      }
    }
    for (const [pfn, where] of exclusive) {
      const at = present.get(pfn);
      if (at !== undefined) out.push(`frame ${hex(BigInt(pfn) << PAGE_SHIFT)} is device-exclusive at ${where} and mapped at ${at} (its mapcount is not 0)`);
    }
    return out;
  },
  culprit: ({ step }) => {
    const t = step.event.type;
    return t === 'fork' ? 'copy_nonpresent_pte' : t === 'munmap' || t === 'exit' || t === 'madvise' ? 'zap_pte_range' : t === 'ioctl' ? 'page_make_device_exclusive_one' : 'restore_exclusive_pte';
  },
};

/** The process whose mm a dmirror file mirrors, or undefined. */
function ownerOf(s: KernelState, mm: number | null | undefined): Process | undefined {
  if (mm === null || mm === undefined) return undefined;
  for (const p of s.mm.procs.values()) if (p.mm === mm) return p;
  return undefined;
}

/**
 * hmm-exclusive-atomic. dmirror_atomic_map stores a page tagged
 * DPT_XA_TAG_ATOMIC only after make_device_exclusive_range made it
 * exclusive, and every way the CPU gets the page back sends an
 * invalidation the dmirror does not skip (remove_device_exclusive_entry's
 * MMU_NOTIFY_EXCLUSIVE, fork's, mprotect's, zap's), which erases it. So an
 * ATOMIC entry names the page of a device-exclusive entry at that address
 * of the mirrored mm, and CHECK_EXCLUSIVE's -EPERM means some page of the
 * range is still exclusive to the device. Conversely no READ or WRITE
 * entry lies over a device-exclusive entry: making it sent
 * MMU_NOTIFY_EXCLUSIVE over the page, and hmm_range_fault never reports
 * one as valid.
 */
export const hmmExclusiveAtomic: Invariant = {
  name: 'hmm-exclusive-atomic',
  appliesTo: testHmmBuilt,
  inputs: ['mm'],
  summary: "a dmirror device page-table entry tagged ATOMIC names the page of a device-exclusive entry at that address of the mirrored mm (so CHECK_EXCLUSIVE is -EPERM only while a page is exclusive), and an entry over a device-exclusive entry is ATOMIC",
  kernel: 'lib/test_hmm.c dmirror_exclusive / dmirror_atomic_map / dmirror_check_atomic / dmirror_interval_invalidate; mm/memory.c remove_device_exclusive_entry (MMU_NOTIFY_EXCLUSIVE)',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.mm.files === after.mm.files && before.mm.procs === after.mm.procs) return [];
    const out: string[] = [];
    for (const [id, f] of after.mm.files) {
      if (f.mirror === undefined || f.mirror.size === 0) continue;
      const owner = ownerOf(after, f.mm);
      const mirror = f.mirror;
      // Incremental as hmm-mirror-coherent: the entries the step stored and those over CPU entries it changed.
      const keys = full || before === null || owner === undefined ? null : touchedKeys(before, owner, before.mm.files.get(id), mirror);
      const entries: Iterable<[number, MirrorEntry]> = keys === null ? mirror.entries() : keys.flatMap((k): Array<[number, MirrorEntry]> => {
        const e = mirror.get(k);
        return e === undefined ? [] : [[k, e]];
      });
      for (const [vpfn, e] of entries) {
        const addr = BigInt(vpfn) << PAGE_SHIFT;
        const at = owner === undefined ? null : vmaAt(owner, addr);
        const have = at === null ? null : entryAt(at.vma, addr);
        const cpuExclusive = have !== null && isExclusive(have.pte);
        if (e.tag === 'atomic') {
          if (!cpuExclusive) out.push(`${f.path}: ATOMIC entry at ${hex(addr)}, where the CPU's entry is ${have === null ? 'none' : `a present ${have.pte.anon?.kind ?? 'driver'} entry`}, not device-exclusive`);
          else if (have.pte.phys !== e.phys) out.push(`${f.path}: ATOMIC entry at ${hex(addr)} names ${hex(e.phys)}, the device-exclusive entry there ${hex(have.pte.phys)}`);
        } else if (cpuExclusive) out.push(`${f.path}: a ${e.tag.toUpperCase()} entry at ${hex(addr)}, over a device-exclusive entry`);
      }
    }
    return out;
  },
  culprit: ({ step }) => (step.event.type === 'ioctl' ? 'dmirror_atomic_map' : 'dmirror_interval_invalidate'),
};

export const HMM_EXCLUSIVE_INVARIANTS: readonly Invariant[] = [hmmExclusiveEntry, hmmExclusiveAtomic];
