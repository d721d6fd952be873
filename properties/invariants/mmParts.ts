/**
 * Which parts of KernelState.mm a step changed (Invariant.mmParts), as bits
 * above the checker's field mask: found once per step, so that the
 * invariants of anonymous memory and device-private pages are not each
 * called on a step that changed only device-dax entries, open files or
 * memory words, where each would walk the processes to find nothing.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { Process, Vma } from '../../src/kernel/mm/types.js';
import { memo, MemoKey, type InvariantContext, type MmPart } from './types.js';

/** The bit of each part, above the 26 bits of the KernelState fields (index.ts FIELD_KEYS; a test keeps them apart). */
export const MM_PART_BITS: Readonly<Record<MmPart, number>> = { anonVmas: 1 << 26, anon: 1 << 27, rss: 1 << 28 };
const ANON_VMAS = MM_PART_BITS.anonVmas;
const ANON = MM_PART_BITS.anon;
const RSS = MM_PART_BITS.rss;

export function mmPartMask(parts: readonly MmPart[]): number {
  let m = 0;
  for (const p of parts) m |= MM_PART_BITS[p];
  return m;
}

function holdsAnon(vmas: readonly Vma[]): boolean {
  for (let i = 0; i < vmas.length; i++) if ((vmas[i] as Vma).file === null) return true;
  return false;
}

/**
 * Whether an anonymous vma is in one list and not in the other. Lists of one
 * length are compared by position, and any position that differs with an
 * anonymous vma on either side counts (a fault replaces a vma in place: a
 * device-dax fault replaces a file vma and counts nothing).
 */
function anonVmasDiffer(old: readonly Vma[], now: readonly Vma[]): boolean {
  if (old.length === now.length) {
    for (let i = 0; i < now.length; i++) {
      const a = old[i] as Vma;
      const b = now[i] as Vma;
      if (a !== b && (a.file === null || b.file === null)) return true;
    }
    return false;
  }
  for (const v of now) if (v.file === null && !old.includes(v)) return true;
  for (const v of old) if (v.file === null && !now.includes(v)) return true;
  return false;
}

/** The MM_PART_BITS of the parts of mm that differ between two states. */
export function changedMmParts(before: KernelState, after: KernelState): number {
  const a = before.mm;
  const b = after.mm;
  let bits = a.anon !== b.anon ? ANON : 0;
  if (a.procs === b.procs) return bits;
  // By key, not by entry: iterating entries makes a [pid, process] array per process, every step.
  let kept = 0;
  for (const pid of b.procs.keys()) {
    const p = b.procs.get(pid) as Process;
    const was: Process | undefined = a.procs.get(pid);
    if (was !== undefined) kept++;
    if (was === p) continue;
    if (was === undefined) {
      bits |= RSS | (holdsAnon(p.vmas) ? ANON_VMAS : 0);
      continue;
    }
    if (was.rssAnon !== p.rssAnon) bits |= RSS;
    if (was.vmas !== p.vmas && anonVmasDiffer(was.vmas, p.vmas)) bits |= ANON_VMAS;
  }
  // A process gone (exit): its anonymous vmas went with it. When every process before is still here (as many
  // before as found after), there is none to look for.
  if (kept === a.procs.size) return bits;
  for (const pid of a.procs.keys()) if (!b.procs.has(pid)) bits |= RSS | (holdsAnon((a.procs.get(pid) as Process).vmas) ? ANON_VMAS : 0);
  return bits;
}

/** Every part: a boot, a reboot or a paranoid check judges everything. */
const ALL_PARTS = ANON_VMAS | ANON | RSS;

/** The step's changed parts, kept in its memo (the checker stores them there when it has worked them out). */
export const MM_PARTS = new MemoKey<number>('mm-parts');

function partsOfStep(ctx: InvariantContext): number {
  return ctx.full || ctx.before === null ? ALL_PARTS : changedMmParts(ctx.before, ctx.after);
}

/** Whether the step added or removed an anonymous vma (conservatively: see changedMmParts). */
export function anonVmasChanged(ctx: InvariantContext): boolean {
  if (!ctx.full && ctx.before !== null && ctx.before.mm.procs === ctx.after.mm.procs) return false;
  return (memo(ctx, MM_PARTS, partsOfStep) & ANON_VMAS) !== 0;
}
