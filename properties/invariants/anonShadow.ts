/**
 * The shadow anon-data-preserved (anonData.ts) judges memory against: the
 * last value written per word per mm, derived from the log's events and
 * their outcomes alone (a CPU store, a device WRITE, a copy into a user
 * buffer, fork, mremap, zap), never from the model's memory, and the
 * reverse index from data frames and device pages to the known pages found
 * there. `Work` is one step's mutable copy; `applyEvent` folds the step's
 * event into it (what the shadow cannot follow exactly it forgets).
 */
import type { DmirrorIoctlEvent, ProgramEvent } from '../../src/log/programEvents.js';
import { isDmirrorIoctlCmd } from '../../src/log/programEvents.js';
import { mapAddress, vmaAt, vmaIndexAt } from '../../src/kernel/mm/process.js';
import { pageAlign } from '../../src/kernel/mm/vma.js';
import { PAGE_SHIFT, type Vma } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';

export const WORDS_PER_PAGE = 512;
/** A (mm, virtual page) pair as one safe integer: user pages are below 2^35 (TASK_SIZE is 2^47). */
export const REF_SPAN = 2 ** 35;
/** Word indexes are clamped here: nothing is mapped above TASK_SIZE, so no word is ever known there. */
export const WORD_MAX = 2 ** 50;

/** Where a known page's data was found when it was last judged: the data frame, and the device page whose entry named it. */
export interface Where {
  readonly data: number | null;
  readonly dev: number | null;
}

export interface Shadow {
  /** mm identity (Process.mm) → virtual word index (addr >> 3) → the value last written there. */
  readonly words: ReadonlyMap<number, WideIntMap<bigint>>;
  /** Known page (ref) → where its data was found when last judged (absent: no data frame, or not judged yet). */
  readonly at: WideIntMap<Where>;
  /** Data frame → the known pages found there (a page shared since fork is found by both processes). */
  readonly byData: WideIntMap<readonly number[]>;
  /** Device pfn → the known pages whose device-private entry named it. */
  readonly byDev: WideIntMap<readonly number[]>;
}

export const EMPTY_SHADOW: Shadow = { words: new Map(), at: WideIntMap.empty(), byData: WideIntMap.empty(), byDev: WideIntMap.empty() };

export function wordOf(addr: bigint): number {
  return addr >= BigInt(WORD_MAX) << 3n ? WORD_MAX : Number(addr >> 3n);
}

export function refOf(mm: number, vpage: number): number {
  if (mm >= 2 ** 17) throw new Error(`anon-data-preserved: mm identity ${mm} out of range`);
  return mm * REF_SPAN + vpage;
}

/** The mutable working copy of a shadow during one step. */
export class Work {
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


/** Words [lo, hi] touching the byte range [addr, addr + len) (a partly written word counts: SNAPSHOT writes bytes). */
function wordsOf(addr: bigint, len: bigint): readonly [number, number] {
  return len <= 0n ? [1, 0] : [wordOf(addr), wordOf(addr + len - 1n)];
}

/** Whether the event can give an empty shadow a word: a CPU store into private anonymous memory, or a test_hmm command. */
export function mayTeach(e: ProgramEvent, ok: boolean, after: KernelState): boolean {
  if (e.type === 'ioctl') return true;
  if ((e.type !== 'access' && e.type !== 'procmem') || !ok || e.op !== 'write') return false;
  const p = after.mm.procs.get(e.pid);
  if (p === undefined) return false;
  // By index, not vmaAt's object: a device-dax program asks this on every store.
  const i = vmaIndexAt(p, mapAddress(p, e.map) + e.offset);
  return i >= 0 && (p.vmas[i] as Vma).file === null;
}

/** Apply what the step's event wrote (or may have written) to the shadow. */
export function applyEvent(w: Work, e: ProgramEvent, ok: boolean, before: KernelState, after: KernelState): void {
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
export function touchVma(w: Work, mm: number, v: Vma, old: Vma | undefined): void {
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

