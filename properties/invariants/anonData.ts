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
import type { DmirrorIoctlEvent, ProgramEvent } from '../../src/log/programEvents.js';
import { isDmirrorIoctlCmd } from '../../src/log/programEvents.js';
import { entryAt, physOf } from '../../src/kernel/mm/fault.js';
import { physRead } from '../../src/kernel/mm/physmem.js';
import { mapAddress, vmaAt } from '../../src/kernel/mm/process.js';
import { PAGE_SHIFT, type Process, type Vma } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';
import { pairsOf } from './anon.js';
import type { Invariant, InvariantContext } from './types.js';

const WORDS_PER_PAGE = 512;
/** A (mm, virtual page) pair as one safe integer: user pages are below 2^35 (TASK_SIZE is 2^47). */
const REF_SPAN = 2 ** 35;
/** Word indexes are clamped here: nothing is mapped above TASK_SIZE, so no word is ever known there. */
const WORD_MAX = 2 ** 50;

/** Where a known page's data was found when it was last judged: the data frame, and the device page whose entry named it. */
interface Where {
  readonly data: number | null;
  readonly dev: number | null;
}

interface Shadow {
  /** mm identity (Process.mm) → virtual word index (addr >> 3) → the value last written there. */
  readonly words: ReadonlyMap<number, WideIntMap<bigint>>;
  /** Known page (ref) → where its data was found when last judged (absent: no data frame, or not judged yet). */
  readonly at: WideIntMap<Where>;
  /** Data frame → the known pages found there (a page shared since fork is found by both processes). */
  readonly byData: WideIntMap<readonly number[]>;
  /** Device pfn → the known pages whose device-private entry named it. */
  readonly byDev: WideIntMap<readonly number[]>;
}

const EMPTY_SHADOW: Shadow = { words: new Map(), at: WideIntMap.empty(), byData: WideIntMap.empty(), byDev: WideIntMap.empty() };

/** The shadow after each state this invariant judged. */
const SHADOWS = new WeakMap<KernelState, Shadow>();

/**
 * Keep `shadow` as the one after `s`. An empty shadow is not stored: a state
 * with none reads as empty, and a WeakMap entry per step of a program that
 * has no anonymous memory costs the collector more than the step itself.
 */
function keep(s: KernelState, shadow: Shadow): void {
  if (shadow.words.size === 0 && shadow.at.size === 0) SHADOWS.delete(s);
  else SHADOWS.set(s, shadow);
}

/** The shadow carried into `s` (tests: what the invariant knows). */
export function anonShadowOf(s: KernelState): Shadow | undefined {
  return SHADOWS.get(s);
}

function wordOf(addr: bigint): number {
  return addr >= BigInt(WORD_MAX) << 3n ? WORD_MAX : Number(addr >> 3n);
}

function refOf(mm: number, vpage: number): number {
  if (mm >= 2 ** 17) throw new Error(`anon-data-preserved: mm identity ${mm} out of range`);
  return mm * REF_SPAN + vpage;
}

/** The mutable working copy of a shadow during one step. */
class Work {
  readonly words: Map<number, WideIntMap<bigint>>;
  at: WideIntMap<Where>;
  byData: WideIntMap<readonly number[]>;
  byDev: WideIntMap<readonly number[]>;
  /** Pages to re-resolve and judge this step. */
  readonly refs = new Set<number>();

  constructor(s: Shadow) {
    this.words = new Map(s.words);
    this.at = s.at;
    this.byData = s.byData;
    this.byDev = s.byDev;
  }

  freeze(): Shadow {
    return { words: this.words, at: this.at, byData: this.byData, byDev: this.byDev };
  }

  mmWords(mm: number): WideIntMap<bigint> {
    return this.words.get(mm) ?? WideIntMap.empty<bigint>();
  }

  setWords(mm: number, m: WideIntMap<bigint>): void {
    if (m.size === 0) this.words.delete(mm);
    else this.words.set(mm, m);
  }

  /** Mark the known pages of `mm` among words [lo, hi] for judging. */
  touchRange(mm: number, lo: number, hi: number): void {
    const m = this.words.get(mm);
    if (m === undefined) return;
    let last = -1;
    m.forEachIn(lo, Math.min(hi, WORD_MAX), (w) => {
      const page = Math.floor(w / WORDS_PER_PAGE);
      if (page !== last) this.refs.add(refOf(mm, page));
      last = page;
    });
  }

  /** Forget the words [lo, hi] of `mm` (and judge the pages they were on, to drop their index entries). */
  forget(mm: number, lo: number, hi: number): void {
    this.touchRange(mm, lo, hi);
    const m = this.words.get(mm);
    if (m !== undefined) this.setWords(mm, m.deleteRange(lo, Math.min(hi, WORD_MAX)));
  }

  /**
   * Words [dst, dst + n) of `dmm` become what the shadow knows of words
   * [src, src + n) of `smm` (a memcpy): words it does not know there are
   * forgotten at the destination.
   */
  copy(smm: number, src: number, dmm: number, dst: number, n: number): void {
    const from = [...this.mmWords(smm).range(src, Math.min(src + n - 1, WORD_MAX))];
    this.forget(dmm, dst, dst + n - 1);
    let m = this.mmWords(dmm);
    for (const [w, v] of from) if (w - src + dst <= WORD_MAX) m = m.set(w - src + dst, v);
    this.setWords(dmm, m);
    this.touchRange(dmm, dst, dst + n - 1);
  }

  /** Remove `ref` from the reverse index. */
  unindex(ref: number): void {
    const was = this.at.get(ref);
    if (was === undefined) return;
    this.at = this.at.delete(ref);
    if (was.data !== null) this.byData = removeRef(this.byData, was.data, ref);
    if (was.dev !== null) this.byDev = removeRef(this.byDev, was.dev, ref);
  }

  index(ref: number, where: Where): void {
    const was = this.at.get(ref);
    if (was !== undefined && was.data === where.data && was.dev === where.dev) return;
    this.unindex(ref);
    if (where.data === null && where.dev === null) return;
    this.at = this.at.set(ref, where);
    if (where.data !== null) this.byData = addRef(this.byData, where.data, ref);
    if (where.dev !== null) this.byDev = addRef(this.byDev, where.dev, ref);
  }
}

function addRef(m: WideIntMap<readonly number[]>, key: number, ref: number): WideIntMap<readonly number[]> {
  const refs = m.get(key) ?? [];
  return refs.includes(ref) ? m : m.set(key, [...refs, ref]);
}

function removeRef(m: WideIntMap<readonly number[]>, key: number, ref: number): WideIntMap<readonly number[]> {
  const refs = m.get(key);
  if (refs === undefined || !refs.includes(ref)) return m;
  const rest = refs.filter((r) => r !== ref);
  return rest.length === 0 ? m.delete(key) : m.set(key, rest);
}

function pageAlign(n: bigint): bigint {
  return (n + 0xfffn) & ~0xfffn;
}

/** Words [lo, hi] touching the byte range [addr, addr + len) (a partly written word counts: SNAPSHOT writes bytes). */
function wordsOf(addr: bigint, len: bigint): readonly [number, number] {
  return len <= 0n ? [1, 0] : [wordOf(addr), wordOf(addr + len - 1n)];
}

/** Whether the event can give an empty shadow a word: a CPU store into private anonymous memory, or a test_hmm command. */
function mayTeach(e: ProgramEvent, ok: boolean, after: KernelState): boolean {
  if (e.type === 'ioctl') return true;
  if ((e.type !== 'access' && e.type !== 'procmem') || !ok || e.op !== 'write') return false;
  const p = after.mm.procs.get(e.pid);
  if (p === undefined) return false;
  const at = vmaAt(p, mapAddress(p, e.map) + e.offset);
  return at !== null && at.vma.file === null;
}

/** Apply what the step's event wrote (or may have written) to the shadow. */
function applyEvent(w: Work, e: ProgramEvent, ok: boolean, before: KernelState, after: KernelState): void {
  // Plain lookups rather than closures: tsx's keepNames wraps every closure made per call in __name.
  switch (e.type) {
    case 'access':
    case 'procmem': {
      // A CPU store (or a /proc/PID/mem write, FOLL_FORCE breaking COW on a read-only private page): the word is the value.
      if (!ok || e.op !== 'write') return;
      const p = after.mm.procs.get(e.pid);
      if (p === undefined) return;
      const addr = mapAddress(p, e.map) + e.offset;
      // Only private anonymous memory is followed: a store into a device-dax or file mapping would be
      // dropped again by judge ('gone'), so it is never recorded (the device-dax fast path below).
      const at = vmaAt(p, addr);
      if (at === null || at.vma.file !== null) return;
      const word = wordOf(addr);
      if (word >= WORD_MAX) return;
      w.setWords(p.mm, w.mmWords(p.mm).set(word, e.value ?? 0n));
      w.refs.add(refOf(p.mm, Math.floor(word / WORDS_PER_PAGE)));
      return;
    }
    case 'fork': {
      // dup_mmap copies every vma but VM_DONTCOPY (MADV_DONTFORK) ones: the child reads what the parent last wrote.
      const parent = before.mm.procs.get(e.pid);
      const child = after.mm.procs.get(e.child);
      if (!ok || parent === undefined || child === undefined || child.mm === parent.mm) return;
      const from = w.words.get(parent.mm);
      if (from === undefined) return;
      let m = w.mmWords(child.mm);
      for (const v of parent.vmas) {
        if (v.file !== null || v.flags.dontcopy) continue;
        for (const [word, val] of from.range(wordOf(v.start), wordOf(v.end) - 1)) m = m.set(word, val);
      }
      w.setWords(child.mm, m);
      w.touchRange(child.mm, 0, WORD_MAX);
      return;
    }
    case 'munmap': {
      // The range's pages go; a later mapping there starts from zero pages. A failed munmap changes nothing
      // the shadow follows (the vmas it may have split still hold their entries).
      const p = before.mm.procs.get(e.pid);
      if (p === undefined) return;
      const [lo, hi] = wordsOf(mapAddress(p, e.map) + e.offset, pageAlign(e.length));
      if (ok) w.forget(p.mm, lo, hi);
      return;
    }
    case 'madvise': {
      if (e.advice !== 'dontneed') return;
      const p = before.mm.procs.get(e.pid);
      if (p === undefined) return;
      const [lo, hi] = wordsOf(mapAddress(p, e.map) + e.offset, pageAlign(e.length));
      if (!ok) {
        // do_madvise gives ENOMEM for a hole after zapping the mapped parts: which were zapped is not followed.
        w.forget(p.mm, lo, hi);
        return;
      }
      // MADV_DONTNEED zaps the range (zap_page_range): the next read maps a zero page (do_anonymous_page).
      let m = w.mmWords(p.mm);
      for (const [word] of m.range(lo, Math.min(hi, WORD_MAX))) m = m.set(word, 0n);
      w.setWords(p.mm, m);
      w.touchRange(p.mm, lo, hi);
      return;
    }
    case 'mremap': {
      const pb = before.mm.procs.get(e.pid);
      const pa = after.mm.procs.get(e.pid);
      if (pb === undefined) return;
      const old = mapAddress(pb, e.map) + e.offset;
      const oldLen = pageAlign(e.length);
      const [lo, hi] = wordsOf(old, oldLen);
      if (!ok || pa === undefined) {
        // A failed mremap may have moved entries before failing (move_page_tables' partial move is moved back, a
        // pre-5.11 failed unmap keeps both copies): not followed.
        w.forget(pb.mm, lo, hi);
        return;
      }
      // move_vma → move_page_tables: the entries (and so the data) move to the new address; a shrink drops the tail.
      const to = mapAddress(pa, e.map) + e.offset;
      const keep = pageAlign(e.newLength) < oldLen ? pageAlign(e.newLength) : oldLen;
      const moved = [...w.mmWords(pb.mm).range(lo, Math.min(wordOf(old + keep) - 1, WORD_MAX))];
      w.forget(pb.mm, lo, hi);
      // MREMAP_FIXED unmaps whatever was at the destination first: nothing known there survives.
      const [dlo, dhi] = wordsOf(to, pageAlign(e.newLength));
      w.forget(pa.mm, dlo, dhi);
      let m = w.mmWords(pa.mm);
      const shift = wordOf(to) - lo;
      for (const [word, v] of moved) if (word + shift <= WORD_MAX) m = m.set(word + shift, v);
      w.setWords(pa.mm, m);
      w.touchRange(pa.mm, wordOf(to), wordOf(to + keep) - 1);
      return;
    }
    case 'mmap': {
      // A new mapping (MAP_FIXED over an old one included) starts with no entries: nothing known is left there.
      const pa = after.mm.procs.get(e.pid);
      if (pa === undefined) return;
      if (ok) {
        const [lo, hi] = wordsOf(mapAddress(pa, e.map), pageAlign(e.length));
        w.forget(pa.mm, lo, hi);
      } else if (e.flags.includes('fixed') && e.addr !== null) {
        // A failed MAP_FIXED may have unmapped the old range first (mmap_region's do_munmap): not followed.
        const [lo, hi] = wordsOf(mapAddress(pa, e.addr.map) + e.addr.offset, pageAlign(e.length));
        w.forget(pa.mm, lo, hi);
      }
      return;
    }
    case 'ioctl': {
      if (!isDmirrorIoctlCmd(e.cmd)) return;
      dmirrorEvent(w, e as DmirrorIoctlEvent, ok, before, after);
      return;
    }
    default:
      // Every other event writes no anonymous memory the CPU can read; what it does to the page tables
      // (mprotect, an offline migrating pages, RELEASE evicting device pages) is judged through them.
      return;
  }
}

/**
 * The dmirror commands (lib/test_hmm.c): WRITE copies the caller's buffer at
 * `ptr` into the mirrored range (copy_from_user, then dmirror_do_write
 * through the device page table); READ, MIGRATE_TO_DEV and EXCLUSIVE copy
 * the mirrored range's data to `ptr` (dmirror_do_read, copy_to_user);
 * SNAPSHOT writes one permission byte per page there, which the shadow
 * forgets rather than models.
 */
function dmirrorEvent(w: Work, e: DmirrorIoctlEvent, ok: boolean, before: KernelState, after: KernelState): void {
  const caller = before.mm.procs.get(e.pid) ?? after.mm.procs.get(e.pid);
  if (caller === undefined) return;
  const fileId = caller.fds.get(e.fd);
  const file = fileId === undefined ? undefined : (before.mm.files.get(fileId) ?? after.mm.files.get(fileId));
  const mirror = file?.mm ?? null;
  const addr = mapAddress(caller, e.args.addr.map) + e.args.addr.offset;
  const ptr = e.args.ptr === null ? 0n : mapAddress(caller, e.args.ptr.map) + e.args.ptr.offset;
  const bytes = e.args.npages << PAGE_SHIFT;
  const n = Number(bytes >> 3n > BigInt(WORD_MAX) ? BigInt(WORD_MAX) : bytes >> 3n);
  switch (e.cmd) {
    case 'HMM_DMIRROR_WRITE':
      if (mirror === null) return;
      // A failed WRITE may have written some pages before its fault failed: the range is not followed.
      if (!ok) w.forget(mirror, wordOf(addr), wordOf(addr) + n - 1);
      else w.copy(caller.mm, wordOf(ptr), mirror, wordOf(addr), n);
      return;
    case 'HMM_DMIRROR_READ':
    case 'HMM_DMIRROR_MIGRATE_TO_DEV':
    case 'HMM_DMIRROR_EXCLUSIVE':
      // A failed command may have copied part of the buffer (copy_to_user) or nothing: not followed.
      if (!ok || mirror === null) w.forget(caller.mm, wordOf(ptr), wordOf(ptr) + n - 1);
      else w.copy(mirror, wordOf(addr), caller.mm, wordOf(ptr), n);
      return;
    case 'HMM_DMIRROR_SNAPSHOT': {
      const [lo, hi] = wordsOf(ptr, e.args.npages);
      w.forget(caller.mm, lo, hi);
      return;
    }
    default:
      return;
  }
}

/** Mark the known pages a changed vma could affect: its changed entries, or all of it when it is new or its bounds moved. */
function touchVma(w: Work, mm: number, v: Vma, old: Vma | undefined): void {
  if (!w.words.has(mm)) return;
  if (old === undefined || old.start !== v.start || old.end !== v.end) {
    w.touchRange(mm, wordOf(v.start), wordOf(v.end) - 1);
    if (old !== undefined) w.touchRange(mm, wordOf(old.start), wordOf(old.end) - 1);
    return;
  }
  const first = Number(v.start >> PAGE_SHIFT);
  for (const k of v.ptes.changedKeys(old.ptes)) {
    // A PMD or PUD entry's key is its first page: judge every known word it covers.
    const level = (v.ptes.get(k) ?? old.ptes.get(k))?.level ?? 'pte';
    const pages = level === 'pud' ? 512 * 512 : level === 'pmd' ? 512 : 1;
    const page = first + k;
    w.touchRange(mm, page * WORDS_PER_PAGE, (page + pages) * WORDS_PER_PAGE - 1);
  }
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
  if (ctx.before === null) return EMPTY_SHADOW;
  return SHADOWS.get(ctx.before) ?? EMPTY_SHADOW;
}

function check(ctx: InvariantContext): readonly string[] {
  const { step, before, after, full } = ctx;
  const prev = shadowBefore(ctx);
  const outcome = step.outcome;
  if (!outcome.ok && 'oops' in outcome) {
    // The machine is dead: what memory holds from here on is not followed.
    keep(after, EMPTY_SHADOW);
    return [];
  }
  // Nothing the shadow follows changed (sysfs steps, reads, failures that touched no memory, table or device
  // page): it carries over as it is, at no cost per step.
  if (before === null || (!full && (before === after || (before.mm === after.mm && before.hmm.pages === after.hmm.pages)))) {
    keep(after, prev);
    return [];
  }
  // The shadow knows no word and the event cannot teach it one (device-dax programs, sysfs steps): nothing can be
  // judged, and the diffs below would only be walked to find no known page.
  if (!full && prev.words.size === 0 && prev.at.size === 0 && !mayTeach(step.event as ProgramEvent, outcome.ok, after)) {
    keep(after, prev);
    return [];
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
