/**
 * What the device-dax invariants (devdax.ts) look at in a step, worked out
 * once per step and shared by all of them: the processes it changed, their
 * dax vmas (with the device and the vma each replaced), the entries it
 * installed or changed with their addresses, and which of those a verdict
 * finds broken (judged again where the devices or the iomem tree changed).
 */
import { findDevice, type DaxDevice, type KernelState } from '../../src/kernel/state.js';
import { PAGE_SHIFT, type Process, type Pte, type Vma } from '../../src/kernel/mm/types.js';
import { memo, MemoKey, NO_MESSAGES, type InvariantContext } from './types.js';

/** Processes this step changed (all of them at boot or in paranoid mode), with each one before the step. */
const PROCS = new MemoKey<Array<[string, Process, Process | undefined]>>('devdax-procs');

const NO_PROCS: Array<[string, Process, Process | undefined]> = [];

/**
 * `x` added to `out`, made with it when null: the step's lists (one process,
 * one vma, one entry on a fault) are then arrays of their length, not the
 * 16 slots a first push allocates.
 */
function append<T>(out: T[] | null, x: T): T[] {
  if (out === null) return [x];
  out.push(x);
  return out;
}

function changedProcs(ctx: InvariantContext): Array<[string, Process, Process | undefined]> {
  // Most steps (sysfs writes to blocks) change no process, device or tree: answered before any lookup.
  const { before, after, full } = ctx;
  if (!full && before !== null && before.mm.procs === after.mm.procs && before.devices === after.devices && before.iomem === after.iomem) return NO_PROCS;
  return memo(ctx, PROCS, computeChangedProcs);
}

function computeChangedProcs(ctx: InvariantContext): Array<[string, Process, Process | undefined]> {
  const { before, after, full } = ctx;
  if (before !== null && before.mm.procs === after.mm.procs && before.devices === after.devices && before.iomem === after.iomem && !full) return [];
  let out: Array<[string, Process, Process | undefined]> | null = null;
  // By key: iterating entries makes a [pid, process] array per process.
  for (const pid of after.mm.procs.keys()) {
    const p = after.mm.procs.get(pid) as Process;
    const was = full || before === null ? undefined : before.mm.procs.get(pid);
    if (full || before === null || was !== p || before.devices !== after.devices || before.iomem !== after.iomem) out = append(out, [pid, p, was]);
  }
  return out ?? NO_PROCS;
}

/** A dax vma of a process the step changed, with its device and the process before the step. */
export interface DaxVma {
  readonly pid: string;
  readonly vma: Vma;
  readonly dev: DaxDevice;
  readonly was: Process | undefined;
  /** The vma it replaced at the same place (a fault: same start and file page), when the lists line up; else undefined. */
  readonly old: Vma | undefined;
  /** The entries this step installed or changed in it, found by the first invariant that asks (changedEntries). */
  changed?: Array<[number, Pte]>;
}

/**
 * The dax vmas of the processes this step changed, with their device. With
 * `newOnly`, only vmas this step made or changed (a vma is a new object when
 * its entries or bounds change): a broken vma is reported by the step that
 * broke it. Made once per step and kind: every invariant below asks.
 */
export function stepDaxVmas(ctx: InvariantContext, newOnly: boolean): readonly DaxVma[] {
  const procs = changedProcs(ctx);
  if (procs.length === 0) return NO_VMAS;
  return newOnly ? memo(ctx, NEW_VMAS, newDaxVmas) : memo(ctx, ALL_VMAS, allDaxVmas);
}

function newDaxVmas(ctx: InvariantContext): readonly DaxVma[] {
  return daxVmasOf(ctx, true);
}

function allDaxVmas(ctx: InvariantContext): readonly DaxVma[] {
  return daxVmasOf(ctx, false);
}

function daxVmasOf(ctx: InvariantContext, newOnly: boolean): readonly DaxVma[] {
  const procs = changedProcs(ctx);
  let out: DaxVma[] | null = null;
  for (let j = 0; j < procs.length; j++) {
    const [pid, p, was] = procs[j] as [string, Process, Process | undefined];
    const old = newOnly && was !== undefined ? was.vmas : null;
    // Same length (a fault replaced one vma): an unchanged vma sits where it was, so only the positions
    // that differ are looked up (a process has exec's vmas besides its own).
    const aligned = old !== null && old.length === p.vmas.length;
    for (let i = 0; i < p.vmas.length; i++) {
      const vma = p.vmas[i] as Vma;
      if (aligned && old[i] === vma) continue;
      if (old !== null && old.includes(vma)) continue;
      const file = vma.file === null ? undefined : ctx.after.mm.files.get(vma.file);
      if (file?.driver !== 'dax') continue;
      const dev = findDevice(ctx.after, file.dev);
      const o = aligned ? (old[i] as Vma) : undefined;
      if (dev !== undefined) out = append(out, { pid, vma, dev, was, old: o !== undefined && o.start === vma.start && o.pgoff === vma.pgoff ? o : undefined });
    }
  }
  return out ?? NO_VMAS;
}

const NEW_VMAS = new MemoKey<readonly DaxVma[]>('devdax-new-vmas');
const ALL_VMAS = new MemoKey<readonly DaxVma[]>('devdax-all-vmas');
const NO_VMAS: readonly DaxVma[] = Object.freeze([]);

/** The handler that installed the first entry the step broke, for the signature. */
export function handlerOf(ctx: InvariantContext, verdict: Verdict): string {
  for (const { pte } of brokenEntries(ctx, verdict)) return `__dev_dax_${pte.level}_fault`;
  return 'dev_dax_huge_fault';
}

/** The step's event, for culprits that depend on what was done. */
export function eventPath(ctx: InvariantContext): string {
  const e = ctx.step.event;
  return e.type === 'write' || e.type === 'read' ? e.path : e.type;
}

/**
 * The entries of `vma` this step installed or changed: all of them for a vma
 * that is new, else the keys that differ from the same vma before (a
 * persistent-map diff, so a step's cost follows what it changed, not how
 * many entries the mapping holds).
 */
function changedEntries(d: DaxVma): Array<[number, Pte]> {
  // Several invariants ask the same of one step: the diff is kept on the step's (memoised) DaxVma.
  return (d.changed ??= computeChangedEntries(d.vma, d.was, d.old));
}

/** The vma of `p` at the same start and file page as `vma` (its version before the step), if any. */
function sameVma(p: Process, vma: Vma): Vma | undefined {
  for (let i = 0; i < p.vmas.length; i++) {
    const o = p.vmas[i] as Vma;
    if (o.start === vma.start && o.pgoff === vma.pgoff) return o;
  }
  return undefined;
}

function computeChangedEntries(vma: Vma, was: Process | undefined, known: Vma | undefined): Array<[number, Pte]> {
  const old = known ?? (was === undefined ? undefined : sameVma(was, vma));
  if (old === undefined) return [...vma.ptes.entries()];
  // One fault installed one entry: the table says which, without a lookup.
  const last = vma.ptes.lastChange(old.ptes);
  if (last !== null) return last[1] !== undefined ? [[last[0], last[1]]] : [];
  const out: Array<[number, Pte]> = [];
  for (const k of vma.ptes.changedKeys(old.ptes)) {
    const pte = vma.ptes.get(k);
    if (pte !== undefined) out.push([k, pte]);
  }
  return out;
}

/**
 * What an entry breaks, judged in a state (its devices, iomem tree):
 * messages, none when it is fine. The entry is `vma.ptes`' entry at `key`
 * (its page index from the vma's start); its address (entryAddress) is
 * worked out only to word a message.
 */
export type Verdict = (s: KernelState, pid: string, vma: Vma, dev: DaxDevice, pte: Pte, key: number) => readonly string[];

/** The user address of the entry at `key` in `vma`: for messages only (two BigInt operations every fault would pay). */
export function entryAddress(vma: Vma, key: number): bigint {
  return vma.start + (BigInt(key) << PAGE_SHIFT);
}

/** An entry a step asks the verdicts about, with its address (worked out once for every verdict). */
interface JudgedEntry {
  readonly d: DaxVma;
  readonly k: number;
  readonly pte: Pte;
  /** Only for a re-judgement (devices or tree changed): the same vma before the step, and its device then. */
  readonly old: Vma | undefined;
  readonly oldDev: DaxDevice | undefined;
}

const JUDGED = new MemoKey<readonly JudgedEntry[]>('devdax-judged-entries');
const NO_ENTRIES: readonly JudgedEntry[] = Object.freeze([]);

/**
 * The entries the step's verdicts judge, listed once per step for all of
 * them (granularity, translation, memmap): those it installed or changed,
 * and, when the devices or the iomem tree changed, every entry of the
 * changed processes' dax vmas.
 */
function judgedEntries(ctx: InvariantContext): readonly JudgedEntry[] {
  if (changedProcs(ctx).length === 0) return NO_ENTRIES;
  return memo(ctx, JUDGED, computeJudgedEntries);
}

function computeJudgedEntries(ctx: InvariantContext): readonly JudgedEntry[] {
  const all = devicesOrTreeChanged(ctx);
  let out: JudgedEntry[] | null = null;
  const vmas = stepDaxVmas(ctx, !all);
  for (let i = 0; i < vmas.length; i++) {
    const d = vmas[i] as DaxVma;
    const { vma, dev, was } = d;
    const changed = all ? null : changedEntries(d);
    // Only a re-judgement (devices or tree changed) compares with the entry before.
    const old = changed === null ? (was === undefined ? undefined : sameVma(was, vma)) : undefined;
    const oldDev = changed === null ? ctx.before?.devices.find((x) => x.name === dev.name) : undefined;
    if (changed !== null) {
      for (let j = 0; j < changed.length; j++) {
        const [k, pte] = changed[j] as [number, Pte];
        out = append(out, { d, k, pte, old, oldDev });
      }
    } else for (const [k, pte] of vma.ptes.entries()) out = append(out, { d, k, pte, old, oldDev });
  }
  return out ?? NO_ENTRIES;
}

/**
 * The entries a step broke, with what they break: those it installed or
 * changed, and, when the devices or the iomem tree (what entries are judged
 * against) changed, every other entry that was fine before and is not now.
 * A violation is reported by the step that made it, once.
 */
export function brokenEntries(ctx: InvariantContext, verdict: Verdict): ReadonlyArray<{ readonly pte: Pte; readonly messages: readonly string[] }> {
  // Made on the first broken entry: a step that breaks nothing (every fault) allocates no list.
  let found: Array<{ readonly pte: Pte; readonly messages: readonly string[] }> | null = null;
  const entries = judgedEntries(ctx);
  if (entries.length === 0) return NOTHING_BROKEN;
  const rejudged = devicesOrTreeChanged(ctx);
  const { before, after } = ctx;
  for (let i = 0; i < entries.length; i++) {
    const { d, k, pte, old, oldDev } = entries[i] as JudgedEntry;
    const messages = verdict(after, d.pid, d.vma, d.dev, pte, k);
    if (messages.length === 0) continue;
    // Judged again only because the devices or the tree changed: already broken before, already reported.
    if (rejudged && !ctx.full && before !== null && oldDev !== undefined && old?.ptes.get(k) === pte && verdict(before, d.pid, old, oldDev, pte, k).length > 0) continue;
    (found ??= []).push({ pte, messages });
  }
  return found ?? NOTHING_BROKEN;
}

const NOTHING_BROKEN: ReadonlyArray<{ readonly pte: Pte; readonly messages: readonly string[] }> = Object.freeze([]);

/** No message: what a verdict says of a fine entry. */
export { NO_MESSAGES };

/** The messages of the broken entries, in order. */
export function messagesOf(broken: ReadonlyArray<{ readonly messages: readonly string[] }>): readonly string[] {
  return broken.length === 0 ? NO_MESSAGES : broken.flatMap((b) => b.messages);
}

/** Entries are judged against the devices and the iomem tree: when either changed, every entry is judged again. */
function devicesOrTreeChanged(ctx: InvariantContext): boolean {
  return ctx.full || ctx.before === null || ctx.before.devices !== ctx.after.devices || ctx.before.iomem !== ctx.after.iomem;
}
