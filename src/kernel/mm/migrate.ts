/**
 * Moving anonymous pages to other frames, as offline_pages' do_migrate_range
 * does (mm/memory_hotplug.c → migrate_pages mm/migrate.c, v6.1): each folio
 * in the range gets a new folio of the same order outside it
 * (alloc_migration_target), its contents are copied (folio_migrate_copy),
 * every entry mapping it is rewritten to the new frame with the same bits
 * (remove_migration_ptes after try_to_migrate), and the old frames are
 * freed. A page's identity moves with its data: the same path HMM's
 * migrate_vma will take to device memory and back.
 * Left out: splitting a THP that finds no 2 MiB target (the model fails
 * the migration instead), migration entries (no fault can interleave).
 */
import { mmuNotifierInvalidate } from './mmuNotifier.js';
import type { Op } from '../op.js';
import { allocPages, freePages } from './pageAlloc.js';
import { physCopyPage } from './physmem.js';
import { setMm } from './process.js';
import { LEVEL_SIZE, PAGE_SHIFT, withAnon, withProcess, withVma, type Folio, type Process, type Vma } from './types.js';

/**
 * @kernel do_migrate_range mm/memory_hotplug.c — every anonymous folio with
 * a frame in [startPfn, startPfn + nr) moves out of it. False when a target
 * could not be allocated (what has moved stays moved).
 */
export function migrateAnonRange(op: Op, startPfn: number, nr: number): boolean {
  const end = startPfn + nr;
  const moves = new Map<number, { readonly to: number; readonly order: 0 | 9 }>();
  const a0 = op.state.mm.anon;
  if (a0.folios.size === 0) return true;
  const victims: Array<[number, Folio]> = [...a0.folios.range(startPfn, end - 1)];
  let ok = true;
  for (const [head, f] of victims) {
    const to = allocPages(op, f.order, { lo: startPfn, hi: end });
    if (to === null) {
      ok = false;
      break;
    }
    for (let i = 0; i < 1 << f.order; i++) physCopyPage(op, head + i, to + i);
    const a = op.state.mm.anon;
    setMm(op, { anon: withAnon(a, { folios: a.folios.delete(head).set(to, f) }) });
    freePages(op, head, f.order);
    moves.set(head, { to, order: f.order });
  }
  if (moves.size > 0) remapEntries(op, moves);
  return ok;
}

type Moves = ReadonlyMap<number, { readonly to: number; readonly order: 0 | 9 }>;

/** The head of the moved folio holding frame `pfn`, or undefined. */
function movedHead(moves: Moves, pfn: number): number | undefined {
  if (moves.has(pfn)) return pfn;
  const head = pfn - (pfn % 512);
  return moves.get(head)?.order === 9 ? head : undefined;
}

/** remove_migration_ptes: every anonymous entry of every process that maps a moved folio now maps its new frames. */
function remapEntries(op: Op, moves: Moves): void {
  let procs: Map<string, Process> | null = null;
  const moved: Array<readonly [number, bigint, bigint]> = [];
  for (const [pid, p] of op.state.mm.procs) {
    let vmas: Vma[] | null = null;
    p.vmas.forEach((v, i) => {
      if (v.file !== null || v.ptes.size === 0) return;
      let ptes = v.ptes;
      for (const [k, pte] of v.ptes.entries()) {
        // A device-exclusive entry names the page too: it follows it (6.1's try_to_migrate_one computes the
        // subpage of such an entry from a swap PTE, one of the 2025 device-exclusive fixes; the model moves it as
        // those fixes would).
        if (pte.anon?.kind !== 'page' && pte.anon?.kind !== 'exclusive') continue;
        const pfn = Number(pte.phys >> PAGE_SHIFT);
        const head = movedHead(moves, pfn);
        if (head === undefined) continue;
        // A 4 KiB folio's head is the frame itself; a THP's subpage keeps its offset.
        const to = moves.get(head)?.to ?? head;
        ptes = ptes.set(k, { ...pte, phys: BigInt(to + (pfn - head)) << PAGE_SHIFT });
        const at = v.start + (BigInt(k) << PAGE_SHIFT);
        moved.push([p.mm, at, at + LEVEL_SIZE[pte.level]]);
      }
      if (ptes !== v.ptes) (vmas ??= p.vmas.slice())[i] = withVma(v, { ptes });
    });
    if (vmas !== null) (procs ??= new Map(op.state.mm.procs)).set(pid, withProcess(p, { vmas }));
  }
  if (procs !== null) setMm(op, { procs });
  // try_to_migrate_one: MMU_NOTIFY_CLEAR for each mapping before it becomes a migration entry.
  for (const [mm, lo, hi] of moved) mmuNotifierInvalidate(op, mm, lo, hi);
}
