/**
 * The anonymous vmas a step added, removed or replaced, across the processes
 * it changed, paired by process and start: what the anonymous-memory and
 * device-page invariants (anon.ts, hmmDevice.ts, hmmExclusive.ts,
 * anonData.ts) judge, worked out once per step.
 */
import type { Process, Vma } from '../../src/kernel/mm/types.js';
import { memo, MemoKey, type InvariantContext } from './types.js';
import { anonVmasChanged } from './mmParts.js';

/** The anon vmas a step added and removed across the processes it changed (every vma of every process when `full`). */
export interface VmaDiff {
  readonly added: ReadonlyArray<readonly [string, Vma]>;
  readonly removed: ReadonlyArray<readonly [string, Vma]>;
  /** Changed processes: pid → [after (undefined: gone), before (undefined: new)]. */
  readonly procs: ReadonlyArray<readonly [string, Process | undefined, Process | undefined]>;
}

const EMPTY: VmaDiff = { added: [], removed: [], procs: [] };
const DIFF = new MemoKey<VmaDiff>('anon-vma-diff');

/** No process and no folio changed (most steps: sysfs writes to blocks). */
function untouched(ctx: InvariantContext): boolean {
  const { before, after, full } = ctx;
  return !full && before !== null && before.mm.procs === after.mm.procs && before.mm.anon === after.mm.anon;
}

export function diffOf(ctx: InvariantContext): VmaDiff {
  if (untouched(ctx)) return EMPTY;
  return memo(ctx, DIFF, computeDiff);
}

function computeDiff(ctx: InvariantContext): VmaDiff {
  const { before, after, full } = ctx;
  const whole = full || before === null;
  const added: Array<readonly [string, Vma]> = [];
  const removed: Array<readonly [string, Vma]> = [];
  const procs: Array<readonly [string, Process | undefined, Process | undefined]> = [];
  // The processes of either state (no set of pids per step: a process gone is one of before's not in after).
  const pids: string[] = [...after.mm.procs.keys()];
  if (!whole) for (const pid of before.mm.procs.keys()) if (!after.mm.procs.has(pid)) pids.push(pid);
  for (const pid of pids) {
    const p = after.mm.procs.get(pid);
    const was = whole ? undefined : before.mm.procs.get(pid);
    if (!whole && p === was) continue;
    procs.push([pid, p, was]);
    if (p !== undefined && was !== undefined && p.vmas.length === was.vmas.length) {
      // The commonest change (a fault replaced one vma): only the positions that differ can hold a vma added or
      // removed (a vma object is in one place), without a set of every vma per step.
      const now: Vma[] = [];
      const old: Vma[] = [];
      for (let i = 0; i < p.vmas.length; i++) {
        const v = p.vmas[i] as Vma;
        const o = was.vmas[i] as Vma;
        if (v === o) continue;
        now.push(v);
        old.push(o);
      }
      for (const v of now) if (v.file === null && !old.includes(v)) added.push([pid, v]);
      for (const v of old) if (v.file === null && !now.includes(v)) removed.push([pid, v]);
      continue;
    }
    const old = new Set(was?.vmas ?? []);
    const now = new Set(p?.vmas ?? []);
    for (const v of p?.vmas ?? []) if (v.file === null && !old.has(v)) added.push([pid, v]);
    for (const v of was?.vmas ?? []) if (v.file === null && !now.has(v)) removed.push([pid, v]);
  }
  return { added, removed, procs };
}

/**
 * The step's added anon vmas, each with the vma it replaced (same process,
 * same start: its entries or bounds changed) or undefined, and the removed
 * vmas nothing replaced. A paired vma is judged by the keys that differ.
 */
export interface VmaPairs {
  readonly added: ReadonlyArray<readonly [string, Vma, Vma | undefined]>;
  readonly removed: ReadonlyArray<readonly [string, Vma]>;
}
const PAIRS = new MemoKey<VmaPairs>('anon-vma-pairs');

/** The pairs of a step that changed no anonymous vma (pairsOf answers with this very object). */
export const NO_PAIRS: VmaPairs = { added: [], removed: [] };

export function pairsOf(ctx: InvariantContext): VmaPairs {
  // No anonymous vma came or went (device-dax faults, file mmaps), found without the diff of every process.
  if (!anonVmasChanged(ctx)) return NO_PAIRS;
  const d0 = diffOf(ctx);
  // No anonymous vma changed (device-dax faults, file mmaps): nothing to pair, without a memo entry.
  if (d0.added.length === 0 && d0.removed.length === 0) return NO_PAIRS;
  return memo(ctx, PAIRS, computePairs);
}

function computePairs(ctx: InvariantContext): VmaPairs {
  const d = diffOf(ctx);
  const whole = ctx.full || ctx.before === null;
  // Removed vmas by process, then by start (bigint keys compare by value: no string per vma, which a fork's
  // child, born with exec's vmas, would make a dozen of).
  const byStart = new Map<string, Map<bigint, Vma>>();
  if (!whole) {
    for (const [pid, v] of d.removed) {
      let m = byStart.get(pid);
      if (m === undefined) byStart.set(pid, (m = new Map()));
      m.set(v.start, v);
    }
  }
  // By process as well as by vma: after a fork parent and child hold the same vma objects. A removed vma
  // paired with an added one is taken out of byStart (each pairs once).
  const paired = new Set<Vma>();
  const added: Array<readonly [string, Vma, Vma | undefined]> = [];
  for (const [pid, v] of d.added) {
    const m = byStart.get(pid);
    const old = m?.get(v.start);
    if (m === undefined || old === undefined) {
      added.push([pid, v, undefined]);
      continue;
    }
    m.delete(v.start);
    paired.add(old);
    added.push([pid, v, old]);
  }
  return { added, removed: paired.size === 0 ? d.removed : d.removed.filter(([pid, v]) => !paired.has(v) || byStart.get(pid)?.get(v.start) === v) };
}
