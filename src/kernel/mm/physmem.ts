/**
 * Physical memory contents (SPEC §7): 64-bit words keyed by physical
 * address, over whole-page fills. What a CPU store, a block write or a
 * page zeroing (clear_highpage for __GFP_ZERO) leaves in RAM or persistent
 * memory; memory never written reads as zero. State grows with what was
 * written: a word store is one entry, a 4 KiB fill one entry.
 */
import type { Op } from '../op.js';
import { setMm } from './process.js';
import { withMem, type MmState } from './types.js';
import { withMmState } from '../state.js';
import { RerootMap } from '../../util/rerootMap.js';

const WORDS_PER_PAGE = 512;

/** The word at physical address `phys` (8-byte aligned). */
export function physRead(mm: MmState, phys: bigint): bigint {
  return physReadWord(mm, Number(phys >> 3n));
}

/** The word with index `w` (physical address / 8). */
export function physReadWord(mm: MmState, w: number): bigint {
  const v = mm.mem.get(w);
  if (v !== undefined) return v;
  return mm.fills.size === 0 ? 0n : (mm.fills.get(Math.floor(w / WORDS_PER_PAGE)) ?? 0n);
}

/** Store one word. */
export function physWrite(op: Op, phys: bigint, value: bigint): void {
  physWriteWord(op, Number(phys >> 3n), value);
}

/** Store the word with index `w` (physical address / 8). */
export function physWriteWord(op: Op, w: number, value: bigint): void {
  const mm = op.state.mm;
  op.state = withMmState(op.state, withMem(mm, mm.mem.set(w, value)));
}

/** Every word of physical page `pfn` becomes `value` (0 = clear_highpage: the page entry is dropped). */
export function physFillPage(op: Op, pfn: number, value: bigint): void {
  const mm = op.state.mm;
  const mem = mm.mem.size === 0 ? mm.mem : mm.mem.deleteRange(pfn * WORDS_PER_PAGE, pfn * WORDS_PER_PAGE + WORDS_PER_PAGE - 1);
  const fills = value === 0n ? mm.fills.delete(pfn) : mm.fills.set(pfn, value);
  if (mem !== mm.mem || fills !== mm.fills) setMm(op, { mem, fills });
}

/** Words [first, first+count) of page `pfn` become `value` (a partial block write). */
export function physFillWords(op: Op, pfn: number, first: number, count: number, value: bigint): void {
  if (first === 0 && count === WORDS_PER_PAGE) {
    physFillPage(op, pfn, value);
    return;
  }
  let mem = op.state.mm.mem;
  for (let i = first; i < first + count; i++) mem = mem.set(pfn * WORDS_PER_PAGE + i, value);
  setMm(op, { mem });
}

/**
 * The words of page `pfn` as runs [value, count] in address order: what a
 * block read of the page returns, compressed ([[v, 512]] for a uniform page).
 */
export function physPageRuns(mm: MmState, pfn: number): Array<[bigint, number]> {
  const base = mm.fills.size === 0 ? 0n : (mm.fills.get(pfn) ?? 0n);
  const runs: Array<[bigint, number]> = [];
  const push = (v: bigint, n: number) => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] === v) last[1] += n;
    else if (n > 0) runs.push([v, n]);
  };
  let at = 0;
  if (mm.mem.size > 0) {
    for (const [w, v] of mm.mem.range(pfn * WORDS_PER_PAGE, pfn * WORDS_PER_PAGE + WORDS_PER_PAGE - 1)) {
      const i = w - pfn * WORDS_PER_PAGE;
      push(base, i - at);
      push(v, 1);
      at = i + 1;
    }
  }
  push(base, WORDS_PER_PAGE - at);
  return runs;
}

/** Keep only the contents inside the ranges `keep` (physical, inclusive ends): a reboot keeps persistent memory. */
export function physKeepOnly(mm: MmState, keep: ReadonlyArray<{ readonly start: bigint; readonly end: bigint }>): Pick<MmState, 'mem' | 'fills'> {
  let mem = RerootMap.empty<bigint>();
  let fills = RerootMap.empty<bigint>();
  for (const r of keep) {
    for (const [w, v] of mm.mem.range(Number(r.start >> 3n), Number(r.end >> 3n))) mem = mem.set(w, v);
    for (const [p, v] of mm.fills.range(Number(r.start >> 12n), Number(r.end >> 12n))) fills = fills.set(p, v);
  }
  return { mem, fills };
}

/**
 * Page `to` becomes a copy of page `from` (copy_user_highpage, as
 * wp_page_copy's __wp_page_copy_user does): the fill and each written word,
 * so the cost follows what was written. `to` is a freshly allocated (zero) page.
 */
export function physCopyPage(op: Op, from: number, to: number): void {
  const mm = op.state.mm;
  const fill = mm.fills.size === 0 ? undefined : mm.fills.get(from);
  let mem = mm.mem;
  if (mm.mem.size > 0) for (const [w, v] of mm.mem.range(from * WORDS_PER_PAGE, from * WORDS_PER_PAGE + WORDS_PER_PAGE - 1)) mem = mem.set(w - from * WORDS_PER_PAGE + to * WORDS_PER_PAGE, v);
  const fills = fill === undefined ? mm.fills : mm.fills.set(to, fill);
  if (mem !== mm.mem || fills !== mm.fills) setMm(op, { mem, fills });
}
