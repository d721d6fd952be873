/**
 * Data preservation of private anonymous memory (KERNEL-FACTS-HMM §5.1 item
 * 7): the word the CPU reads at every address is the last value written
 * there by the CPU or by the device, whichever was later, across any mix of
 * migration to the device, CPU faults back, device-exclusive entries, fork
 * and COW, mremap, MADV_DONTNEED and memory offlining.
 *
 * An independent shadow, not a re-read of the model's memory through its own
 * paths: per state, the words written so far, by (mm identity, virtual
 * word), derived only from the log's events and their outcomes (a CPU
 * store, a device WRITE, a copy into a user buffer, fork, mremap, zap). The
 * model's memory is then read through the page tables, as a CPU read would
 * find it without faulting: a present page (or a device-exclusive entry's
 * page) → that frame; a device-private entry → the device page's backing
 * page (BACKING_PAGE, whose copy dmirror_devmem_fault_alloc_and_copy brings
 * back); the zero page or no entry → 0 (do_anonymous_page maps a zeroed
 * page). A model that loses, misplaces or shares data shows as a word that
 * reads differently from the shadow.
 *
 * What the shadow cannot follow exactly it forgets (the words are no longer
 * judged) instead of guessing: a failed operation that may have partial
 * effects (a dmirror command failing after writing some pages, a failed
 * copy_to_user, MADV_DONTNEED over a hole, a failed mremap or MAP_FIXED
 * mmap), SNAPSHOT's permission bytes, a copy from words it does not know,
 * words that end up outside a private anonymous vma (device-dax and file
 * mappings are not judged), and everything after an oops.
 *
 * Incremental: a step judges only the pages it could have affected — those
 * its event wrote, those whose page-table entry or vma changed, and those
 * whose physical data page or device page changed (found through a reverse
 * index of where each known page's data was last found) — and every known
 * word under `paranoid`. The shadow and the index are kept per state (a
 * WeakMap keyed by the state object) and carried from the step before.
 */
import type { ProgramEvent } from '../../src/log/programEvents.js';
import { entryAt, physOf } from '../../src/kernel/mm/fault.js';
import { physRead } from '../../src/kernel/mm/physmem.js';
import { vmaAt } from '../../src/kernel/mm/process.js';
import { PAGE_SHIFT, type Process } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { pairsOf } from './anonPairs.js';
import { applyEvent, EMPTY_SHADOW, mayTeach, REF_SPAN, touchVma, WORD_MAX, WORDS_PER_PAGE, Work, type Shadow, type Where } from './anonShadow.js';
import { NO_MESSAGES, type Invariant, type InvariantContext } from './types.js';

/** The shadow after each state this invariant judged. */
const SHADOWS = new WeakMap<KernelState, Shadow>();
/** Whether SHADOWS has ever held a shadow: until then every state's is empty, and no lookup is needed to say so. */
let anyKept = false;

/**
 * Keep `shadow` as the one after `s`. An empty shadow is not stored: a state
 * with none reads as empty, and a WeakMap entry per step of a program that
 * has no anonymous memory costs the collector more than the step itself.
 * (The delete matters only for a state judged a second time, reached by
 * another way.)
 */
function keep(s: KernelState, shadow: Shadow): void {
  if (shadow.words.size === 0 && shadow.at.size === 0) {
    if (anyKept) SHADOWS.delete(s);
  } else {
    anyKept = true;
    SHADOWS.set(s, shadow);
  }
}

/** The shadow carried into `s` (tests: what the invariant knows). */
export function anonShadowOf(s: KernelState): Shadow | undefined {
  return anyKept ? SHADOWS.get(s) : undefined;
}

/** How the CPU would find page `vpage` of `p` now; 'gone' when it is no longer in a private anonymous vma. */
interface Found {
  readonly where: Where;
  /** The frame the words are read from (null: they read as zero), or 'lost' for a device entry naming no allocated device page. */
  readonly frame: number | null | 'lost';
  readonly how: string;
}

function resolve(s: KernelState, p: Process | undefined, vpage: number): Found | 'gone' {
  if (p === undefined) return 'gone';
  const addr = BigInt(vpage) << PAGE_SHIFT;
  const at = vmaAt(p, addr);
  if (at === null || at.vma.file !== null) return 'gone';
  const e = entryAt(at.vma, addr);
  if (e === null) return { where: { data: null, dev: null }, frame: null, how: 'no entry: a fresh zero-filled page' };
  const kind = e.pte.anon?.kind ?? 'page';
  if (kind === 'zero') return { where: { data: null, dev: null }, frame: null, how: 'the zero page' };
  if (kind === 'device') {
    const dev = Number(e.pte.phys >> PAGE_SHIFT);
    const page = s.hmm.pages.get(dev);
    if (page === undefined) return { where: { data: null, dev }, frame: 'lost', how: `device-private entry for pfn 0x${dev.toString(16)}` };
    return { where: { data: page.rpage, dev }, frame: page.rpage, how: `device-private entry for pfn 0x${dev.toString(16)}, backing page 0x${page.rpage.toString(16)}` };
  }
  const frame = Number(physOf(e.pte, e.unit, addr) >> PAGE_SHIFT);
  return { where: { data: frame, dev: null }, frame, how: `${kind === 'exclusive' ? 'device-exclusive entry of ' : ''}anonymous page 0x${frame.toString(16)}` };
}

function pidsByMm(s: KernelState): Map<number, readonly [string, Process]> {
  const out = new Map<number, readonly [string, Process]>();
  for (const [pid, p] of s.mm.procs) out.set(p.mm, [pid, p]);
  return out;
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** The shadow before this step: carried from the state before, empty at boot, after a reboot or when none was kept. */
function shadowBefore(ctx: InvariantContext): Shadow {
  if (ctx.before === null || !anyKept) return EMPTY_SHADOW;
  return SHADOWS.get(ctx.before) ?? EMPTY_SHADOW;
}

function check(ctx: InvariantContext): readonly string[] {
  const { step, before, after, full } = ctx;
  const prev = shadowBefore(ctx);
  const outcome = step.outcome;
  if (!outcome.ok && 'oops' in outcome) {
    // The machine is dead: what memory holds from here on is not followed.
    keep(after, EMPTY_SHADOW);
    return NO_MESSAGES;
  }
  // Nothing the shadow follows changed (sysfs steps, reads, failures that touched no memory, table or device
  // page): it carries over as it is, at no cost per step.
  if (before === null || (!full && (before === after || (before.mm === after.mm && before.hmm.pages === after.hmm.pages)))) {
    keep(after, prev);
    return NO_MESSAGES;
  }
  // The shadow knows no word and the event cannot teach it one (device-dax programs, sysfs steps): nothing can be
  // judged, and the diffs below would only be walked to find no known page.
  if (!full && prev.words.size === 0 && prev.at.size === 0 && !mayTeach(step.event as ProgramEvent, outcome.ok, after)) {
    keep(after, prev);
    return NO_MESSAGES;
  }
  const w = new Work(prev);
  if (before !== after) {
    applyEvent(w, step.event as ProgramEvent, outcome.ok, before, after);
    const byMm = pidsByMm(after);
    // An exited process (or one a reboot took): its words go with its mm.
    if (before.mm.procs !== after.mm.procs) for (const mm of [...w.words.keys()]) if (!byMm.has(mm)) w.forget(mm, 0, WORD_MAX);
    // The page-table entries and vmas the step changed.
    if (before.mm.procs !== after.mm.procs && !full) {
      const pairs = pairsOf(ctx);
      for (const [pid, v, old] of pairs.added) {
        const p = after.mm.procs.get(pid);
        if (p !== undefined) touchVma(w, p.mm, v, old);
      }
      for (const [pid, v] of pairs.removed) {
        const p = before.mm.procs.get(pid);
        if (p !== undefined) touchVma(w, p.mm, v, undefined);
      }
    }
    // The data frames and device pages the step changed, through the reverse index.
    if (!full) {
      const frames = new Set<number>();
      if (before.mm.mem !== after.mm.mem) for (const word of before.mm.mem.changedKeys(after.mm.mem)) frames.add(Math.floor(word / WORDS_PER_PAGE));
      if (before.mm.fills !== after.mm.fills) for (const pfn of before.mm.fills.changedKeys(after.mm.fills)) frames.add(pfn);
      for (const pfn of frames) for (const ref of w.byData.get(pfn) ?? []) w.refs.add(ref);
      if (before.hmm.pages !== after.hmm.pages) for (const pfn of before.hmm.pages.changedKeys(after.hmm.pages)) for (const ref of w.byDev.get(pfn) ?? []) w.refs.add(ref);
    }
  }
  if (full) for (const [mm] of w.words) w.touchRange(mm, 0, WORD_MAX);
  const out = judge(w, after);
  keep(after, w.freeze());
  return out;
}

/** Re-resolve every page in `w.refs`, update the index, and compare its known words with what the CPU reads. */
function judge(w: Work, s: KernelState): string[] {
  const out: string[] = [];
  if (w.refs.size === 0) return out;
  const byMm = pidsByMm(s);
  for (const ref of [...w.refs].sort((a, b) => a - b)) {
    const mm = Math.floor(ref / REF_SPAN);
    const vpage = ref % REF_SPAN;
    const owner = byMm.get(mm);
    const found = resolve(s, owner?.[1], vpage);
    const m = w.words.get(mm);
    const lo = vpage * WORDS_PER_PAGE;
    if (found === 'gone' || m === undefined) {
      // No longer in a private anonymous vma (unmapped, replaced by a file or device-dax mapping, or its
      // process gone): nothing of it is judged from here on.
      w.unindex(ref);
      if (m !== undefined) w.setWords(mm, m.deleteRange(lo, lo + WORDS_PER_PAGE - 1));
      continue;
    }
    const known = [...m.range(lo, lo + WORDS_PER_PAGE - 1)];
    if (known.length === 0) {
      w.unindex(ref);
      continue;
    }
    w.index(ref, found.where);
    // A device entry naming a freed device page: hmm-device-mapcount reports it; its data cannot be read.
    if (found.frame === 'lost') continue;
    const frame = found.frame;
    for (const [word, want] of known) {
      const got = frame === null ? 0n : physRead(s.mm, (BigInt(frame) << PAGE_SHIFT) + (BigInt(word - lo) << 3n));
      if (got !== want) out.push(`${owner?.[0] ?? `mm ${mm}`} reads ${hex(got)} at ${hex(BigInt(word) << 3n)} (${found.how}), but the last value written there was ${hex(want)}`);
    }
  }
  return out;
}

/**
 * anon-data-preserved. do_anonymous_page maps a zeroed page;
 * wp_page_copy's copy_user_highpage and fork's copy_present_page keep COW
 * copies equal; migrate_vma_pages with the driver's copy
 * (dmirror_migrate_alloc_and_copy, dmirror_devmem_fault_alloc_and_copy) and
 * remove_migration_pte move data with the entry; device-exclusive entries
 * keep the page itself; move_page_tables carries entries to the new
 * address; zap_pte_range drops them: so every private anonymous word the
 * CPU reads is the last value the CPU or the device wrote there.
 */
export const anonDataPreserved: Invariant = {
  name: 'anon-data-preserved',
  readsMemory: true,
  summary: 'every word of private anonymous memory reads as the last value the CPU or the device wrote there (0 after a zap or before any write), across migration to and from the device, device-exclusive entries, fork, COW and mremap',
  kernel: 'mm/memory.c do_anonymous_page, wp_page_copy, copy_present_pte, zap_pte_range; mm/migrate_device.c migrate_vma_pages; lib/test_hmm.c dmirror_migrate_alloc_and_copy, dmirror_devmem_fault_alloc_and_copy, dmirror_do_write; mm/mremap.c move_page_tables',
  check,
  culprit: ({ step }) => {
    const e = step.event as ProgramEvent;
    switch (e.type) {
      case 'fork':
        return 'copy_page_range';
      case 'mremap':
        return 'move_page_tables';
      case 'madvise':
      case 'munmap':
        return 'zap_pte_range';
      case 'access':
      case 'procmem':
        return 'handle_mm_fault';
      case 'ioctl':
        if (e.cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV') return 'dmirror_migrate_alloc_and_copy';
        if (e.cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS') return 'dmirror_devmem_fault_alloc_and_copy';
        if (e.cmd === 'HMM_DMIRROR_WRITE') return 'dmirror_do_write';
        if (e.cmd === 'HMM_DMIRROR_EXCLUSIVE') return 'make_device_exclusive_range';
        // The buffer got what the device page table led to (a stale entry: finding H3).
        if (e.cmd === 'HMM_DMIRROR_READ') return 'dmirror_do_read';
        return 'migrate_vma_pages';
      default:
        return 'migrate_vma_pages';
    }
  },
};
