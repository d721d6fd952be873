/**
 * The page allocator as anonymous memory sees it (mm/page_alloc.c v6.1:
 * alloc_pages → get_page_from_freelist; __free_pages). Processes allocate
 * with the default MPOL_LOCAL policy on CPU 0, so pages come from the first
 * node with boot RAM (the node of CPU 0), from its online, hole-free boot
 * memory blocks.
 *
 * The order is the model's, chosen to be deterministic and to stand for
 * what a freshly booted kernel does: memblock_free_all hands boot memory to
 * the buddy lists from low to high, each block to the head of its list, so
 * the first allocations come from the top of ZONE_NORMAL, 2 MiB
 * (pageblock) at a time. Order-0 pages are carved from one such block
 * (standing for the per-cpu lists' batches), and a freed page is reused
 * before new memory (the pcp list is LIFO; the model takes the lowest freed
 * frame, which is as deterministic and unobservable). Freed order-0 frames
 * are not merged back into 2 MiB blocks (no buddy merging): a THP needs a
 * freed 2 MiB block or new memory. Exact frame numbers are not observable
 * by user space; the accounting (how many pages are allocated, so MemFree)
 * is.
 *
 * Every frame handed out is zero (a freed frame's contents are dropped when
 * it is freed, so alloc_zeroed_user_highpage_movable and
 * clear_huge_page cost nothing). State grows with what was allocated,
 * never with the size of the machine.
 */
import type { Op } from '../op.js';
import type { KernelState } from '../state.js';
import { WideIntMap } from '../../util/wideIntMap.js';
import { setMm } from './process.js';
import { withAnon, type AnonState } from './types.js';

/** Pages in a PMD-sized (order-9) block. */
export const HPAGE_PMD_NR = 512;

/** The node CPU 0 sits on: the node of the first firmware RAM range (null when the boot lists none). */
export function localNode(s: KernelState): number | null {
  return s.boot.ram[0]?.node ?? null;
}

/** Frames below 64 MiB hold the kernel image (loaded at 16 MiB) and early allocations: never handed out. */
export const KERNEL_END_PFN = 0x4000;

/**
 * Whether `pfn` lies in memory the allocator may hand out: firmware RAM of
 * the local node (boot.ram, so holes are left out), above the kernel image,
 * in a memory block that is online.
 */
export function inAnonPool(s: KernelState, pfn: number): boolean {
  if (pfn < KERNEL_END_PFN) return false;
  const b = s.blocks.get(Math.floor(pfn / s.blockPages));
  if (b === undefined || !b.boot || b.state !== 'online') return false;
  const node = localNode(s);
  const phys = BigInt(pfn) << 12n;
  for (const r of s.boot.ram) if (r.node === node && phys >= r.start && phys < r.start + r.size) return true;
  return false;
}

/** The top of the local node's firmware RAM: where the first 2 MiB block is taken below. */
function bootTop(s: KernelState): number {
  let top = 0n;
  const node = localNode(s);
  for (const r of s.boot.ram) if (r.node === node && r.start + r.size > top) top = r.start + r.size;
  return Number(top >> 12n) - (Number(top >> 12n) % HPAGE_PMD_NR);
}

/** Frames an allocation must not use: the range being offlined, whose pages migrate out (isolated pageblocks). */
export interface Avoid {
  readonly lo: number;
  readonly hi: number;
}

function avoided(avoid: Avoid | null, pfn: number, nr: number): boolean {
  return avoid !== null && pfn < avoid.hi && avoid.lo < pfn + nr;
}

/** The lowest entry of `set` still in the pool and not avoided; entries whose block went offline are dropped on the way. */
function takeFreed(s: KernelState, set: WideIntMap<true>, avoid: Avoid | null, nr: number): { readonly pfn: number | null; readonly set: WideIntMap<true> } {
  let out = set;
  for (const [pfn] of set.entries()) {
    if (avoided(avoid, pfn, nr)) continue;
    out = out.delete(pfn);
    if (inAnonPool(s, pfn)) return { pfn, set: out };
  }
  return { pfn: null, set: out };
}

/** A 2 MiB block: a freed one, else the next one down from the walk. */
function take2m(s: KernelState, a: AnonState, avoid: Avoid | null): { readonly pfn: number; readonly anon: AnonState } | null {
  if (a.free2m.size > 0) {
    const f = takeFreed(s, a.free2m, avoid, HPAGE_PMD_NR);
    if (f.pfn !== null) return { pfn: f.pfn, anon: withAnon(a, { free2m: f.set }) };
    a = withAnon(a, { free2m: f.set });
  }
  let bump = a.bump ?? bootTop(s);
  while (bump >= HPAGE_PMD_NR) {
    const pfn = bump - HPAGE_PMD_NR;
    if (inAnonPool(s, pfn) && inAnonPool(s, bump - 1) && !avoided(avoid, pfn, HPAGE_PMD_NR)) return { pfn, anon: withAnon(a, { bump: pfn }) };
    // Not pool memory: the next 2 MiB down, or past a whole block that is not online boot RAM.
    const b = s.blocks.get(Math.floor(pfn / s.blockPages));
    bump = b === undefined || !b.boot || b.state !== 'online' ? Math.floor(pfn / s.blockPages) * s.blockPages : pfn;
  }
  return null;
}

/**
 * @kernel alloc_pages mm/page_alloc.c (order 0 or HPAGE_PMD_ORDER, GFP_HIGHUSER_MOVABLE / GFP_TRANSHUGE*) —
 * the head pfn of zeroed pages, or null (no memory: VM_FAULT_OOM for order 0, VM_FAULT_FALLBACK for a THP).
 * The caller records the folio; this only takes the frames and counts them.
 */
export function allocPages(op: Op, order: 0 | 9, avoid: Avoid | null = null): number | null {
  const s = op.state;
  let a = s.mm.anon;
  let pfn: number | null = null;
  if (order === 9) {
    const t = take2m(s, a, avoid);
    if (t === null) return null;
    pfn = t.pfn;
    a = t.anon;
  } else {
    if (a.free4k.size > 0) {
      const f = takeFreed(s, a.free4k, avoid, 1);
      a = withAnon(a, { free4k: f.set });
      pfn = f.pfn;
    }
    if (pfn === null && a.chunk !== null && a.chunk.next < a.chunk.base + HPAGE_PMD_NR && inAnonPool(s, a.chunk.next) && !avoided(avoid, a.chunk.next, 1)) {
      pfn = a.chunk.next;
      a = withAnon(a, { chunk: { base: a.chunk.base, next: pfn + 1 } });
    }
    if (pfn === null) {
      const t = take2m(s, a, avoid);
      if (t === null) return null;
      pfn = t.pfn;
      a = withAnon(t.anon, { chunk: { base: pfn, next: pfn + 1 } });
    }
  }
  setMm(op, { anon: withAnon(a, { pages: a.pages + (1 << order) }) });
  return pfn;
}

/** @kernel __free_pages mm/page_alloc.c — the frames go back (their contents dropped: the next owner sees zeros). */
export function freePages(op: Op, pfn: number, order: 0 | 9): void {
  const mm = op.state.mm;
  const nr = 1 << order;
  const mem = mm.mem.size === 0 ? mm.mem : mm.mem.deleteRange(pfn * 512, (pfn + nr) * 512 - 1);
  const fills = mm.fills.size === 0 ? mm.fills : mm.fills.deleteRange(pfn, pfn + nr - 1);
  const a = mm.anon;
  const anon = withAnon(a, order === 9 ? { free2m: a.free2m.set(pfn, true), pages: a.pages - nr } : { free4k: a.free4k.set(pfn, true), pages: a.pages - nr });
  setMm(op, { mem, fills, anon });
}

/** Whether frames [startPfn, startPfn + nr) hold an anonymous folio (offline_pages must migrate it). */
export function anonPagesIn(s: KernelState, startPfn: number, nr: number): boolean {
  const a = s.mm.anon;
  if (a.folios.size === 0) return false;
  return !a.folios.range(startPfn, startPfn + nr - 1).next().done;
}

/** Whether the huge zero page (unmovable: get_huge_zero_page allocates without __GFP_MOVABLE) lies in the range. */
export function hugeZeroIn(s: KernelState, startPfn: number, nr: number): boolean {
  const z = s.mm.anon.hugeZero;
  return z !== null && z < startPfn + nr && startPfn < z + HPAGE_PMD_NR;
}
