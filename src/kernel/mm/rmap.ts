/**
 * The reverse map of anonymous pages (mm/rmap.c, v6.1 rmap_walk_anon), as
 * the model finds it: the model keeps no anon_vma chains, so a walk scans
 * the anonymous vmas of every process for entries mapping the frames. Only
 * the rare paths need it (a page mapped more than once migrating, a THP
 * split, a device chunk evicted); a page mapped once is found where the
 * caller already stands.
 */
import type { Op } from '../op.js';
import { LEVEL_SIZE, PAGE_SHIFT, type Pte } from './types.js';

/** One entry mapping the frames: the process, its vma's index, the entry's key in the vma and its address. */
export interface Mapping {
  readonly pid: string;
  readonly index: number;
  readonly key: number;
  readonly addr: bigint;
  readonly pte: Pte;
}

/** @kernel rmap_walk_anon mm/rmap.c — the anonymous entries mapping any frame of [lo, hi) (physical addresses), in process then address order. */
export function rmapWalkAnon(op: Op, lo: bigint, hi: bigint): Mapping[] {
  const out: Mapping[] = [];
  for (const [pid, p] of op.state.mm.procs) {
    p.vmas.forEach((v, index) => {
      if (v.file !== null || v.ptes.size === 0) return;
      for (const [key, pte] of v.ptes.entries()) {
        if (pte.anon === undefined || pte.anon.kind === 'zero') continue;
        const size = LEVEL_SIZE[pte.level];
        if (pte.phys < hi && lo < pte.phys + size) out.push({ pid, index, key, addr: v.start + (BigInt(key) << PAGE_SHIFT), pte });
      }
    });
  }
  return out;
}
