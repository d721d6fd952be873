/**
 * The registry of named invariants (SPEC §5), evaluated after every step of
 * a replay, a fuzz run or a search. Each looks only at what the step changed
 * unless asked for a full check (`paranoid`).
 */
import type { Checker, Step, Violation } from '../../src/replay/engine.js';
import { accounting, blocksCoverSystemRam, nodeRespected, noTransientAtRest, vmemmapInOwnBlock } from './blocks.js';
import { errnoDocumented, failedOpUnchanged } from './failure.js';
import { kmemResourceShape } from './kmemShape.js';
import { deviceOneWay, noDevdaxOverOnlineMemory } from './lifecycle.js';
import { busyNoOverlap, resourceTreeWellformed } from './resourceTree.js';
import { DEVDAX_INVARIANTS } from './devdax.js';
import { daxPfnUser } from './pfnUser.js';
import { swapTypes } from './swap.js';
import { hmmDevicePrivateIomem } from './hmm.js';
import { PERSIST_INVARIANTS } from './persist.js';
import { ANON_INVARIANTS } from './anon.js';
import { HMM_MIRROR_INVARIANTS } from './hmmMirror.js';
import { HMM_DEVICE_INVARIANTS } from './hmmDevice.js';
import { HMM_EXCLUSIVE_INVARIANTS } from './hmmExclusive.js';
import { anonDataPreserved } from './anonData.js';
import { StepMemo, type Invariant, type InvariantContext } from './types.js';
import { changedMmParts, MM_PARTS, mmPartMask } from './mmParts.js';
import type { BlockChange } from '../../src/kernel/op.js';
import type { KernelState } from '../../src/kernel/state.js';

export type { Invariant, InvariantContext } from './types.js';
export { memo, MemoKey, StepMemo } from './types.js';
export { deepEqual } from './failure.js';
export { documentedErrnos, DOCUMENTED_ERRNOS } from './errnos.js';

export const INVARIANTS: readonly Invariant[] = [
  resourceTreeWellformed,
  busyNoOverlap,
  kmemResourceShape,
  blocksCoverSystemRam,
  vmemmapInOwnBlock,
  accounting,
  nodeRespected,
  deviceOneWay,
  noDevdaxOverOnlineMemory,
  failedOpUnchanged,
  errnoDocumented,
  noTransientAtRest,
  ...DEVDAX_INVARIANTS,
  daxPfnUser,
  swapTypes,
  hmmDevicePrivateIomem,
  ...PERSIST_INVARIANTS,
  ...ANON_INVARIANTS,
  // Before the mirror's own: an ATOMIC entry where the page is not exclusive is named by the rule it breaks first.
  ...HMM_EXCLUSIVE_INVARIANTS,
  ...HMM_MIRROR_INVARIANTS,
  ...HMM_DEVICE_INVARIANTS,
  // Last: a lost or misplaced page is named first by the rule about its entry or count, when one breaks.
  anonDataPreserved,
];

export const INVARIANT_NAMES = INVARIANTS.map((i) => i.name);

export function invariantByName(name: string): Invariant | undefined {
  return INVARIANTS.find((i) => i.name === name);
}

export interface CheckerOptions {
  /** Re-check everything after every step instead of only what changed. */
  readonly paranoid?: boolean;
  /** Only these invariants (default: all). */
  readonly only?: readonly string[];
}

export function contextOf(step: Step, full: boolean, memo: StepMemo = new StepMemo()): InvariantContext {
  // A reboot starts the machine's life again: every invariant judges the new state as it judges a boot.
  const before = step.event.type === 'reboot' ? null : step.before;
  const after = step.after;
  let blockChanges: readonly BlockChange[];
  if (before !== null && !full && step.blockChanges !== undefined) blockChanges = step.blockChanges;
  else {
    const ids = before === null || full ? [...after.blocks.keys()] : before.blocks.changedKeys(after.blocks);
    blockChanges = ids.map((id) => ({ id, before: before?.blocks.get(id), after: after.blocks.get(id) }));
  }
  // A step that changed no block (every program step) shares one empty list.
  const changedBlocks = blockChanges.length === 0 ? NO_BLOCKS : blockChanges.map((c) => c.id);
  return { step, before, after, changedBlocks, blockChanges, full: full || before === null, memo };
}

const NO_BLOCKS: readonly number[] = Object.freeze([]);
const NO_VIOLATIONS: readonly Violation[] = Object.freeze([]);
const NO_CHANGES: readonly BlockChange[] = Object.freeze([]);

/** Every KernelState field but `mm`, once (a field added to KernelState and not named here fails to type-check). */
const OTHER_FIELDS: Readonly<Record<Exclude<keyof KernelState, 'mm'>, true>> = {
  profile: true,
  config: true,
  blockSize: true,
  blockPages: true,
  iomem: true,
  blocks: true,
  zoneSpans: true,
  possibleNodes: true,
  regions: true,
  devices: true,
  driverIds: true,
  groups: true,
  autoOnline: true,
  anyHotremoveFailed: true,
  faults: true,
  presentPages: true,
  managedPages: true,
  nextAddId: true,
  bootReservedPages: true,
  swap: true,
  oops: true,
  boot: true,
  kmemPersist: true,
  hmm: true,
  thp: true,
};
export const OTHER_KEYS = Object.keys(OTHER_FIELDS) as ReadonlyArray<Exclude<keyof KernelState, 'mm'>>;

/** Every KernelState field, each with its bit in a field mask (changedFields): mm first, then OTHER_KEYS in order. */
export const FIELD_KEYS: ReadonlyArray<keyof KernelState> = ['mm', ...OTHER_KEYS];
const MM_BIT = 1;

/** The mask of the fields named. */
export function fieldMask(keys: ReadonlyArray<keyof KernelState>): number {
  let m = 0;
  for (const k of keys) m |= 1 << FIELD_KEYS.indexOf(k);
  return m;
}

/**
 * The mask of the fields (bits as FIELD_KEYS) that are not the same object
 * in both states. Written out, once per step: a keyed load per field and per
 * invariant cost more than the checks they let the checker skip (a test
 * holds this list to FIELD_KEYS).
 */
export function changedFields(a: KernelState, b: KernelState): number {
  return (
    (a.mm !== b.mm ? 1 : 0) |
    (a.profile !== b.profile ? 1 << 1 : 0) |
    (a.config !== b.config ? 1 << 2 : 0) |
    (a.blockSize !== b.blockSize ? 1 << 3 : 0) |
    (a.blockPages !== b.blockPages ? 1 << 4 : 0) |
    (a.iomem !== b.iomem ? 1 << 5 : 0) |
    (a.blocks !== b.blocks ? 1 << 6 : 0) |
    (a.zoneSpans !== b.zoneSpans ? 1 << 7 : 0) |
    (a.possibleNodes !== b.possibleNodes ? 1 << 8 : 0) |
    (a.regions !== b.regions ? 1 << 9 : 0) |
    (a.devices !== b.devices ? 1 << 10 : 0) |
    (a.driverIds !== b.driverIds ? 1 << 11 : 0) |
    (a.groups !== b.groups ? 1 << 12 : 0) |
    (a.autoOnline !== b.autoOnline ? 1 << 13 : 0) |
    (a.anyHotremoveFailed !== b.anyHotremoveFailed ? 1 << 14 : 0) |
    (a.faults !== b.faults ? 1 << 15 : 0) |
    (a.presentPages !== b.presentPages ? 1 << 16 : 0) |
    (a.managedPages !== b.managedPages ? 1 << 17 : 0) |
    (a.nextAddId !== b.nextAddId ? 1 << 18 : 0) |
    (a.bootReservedPages !== b.bootReservedPages ? 1 << 19 : 0) |
    (a.swap !== b.swap ? 1 << 20 : 0) |
    (a.oops !== b.oops ? 1 << 21 : 0) |
    (a.boot !== b.boot ? 1 << 22 : 0) |
    (a.kmemPersist !== b.kmemPersist ? 1 << 23 : 0) |
    (a.hmm !== b.hmm ? 1 << 24 : 0) |
    (a.thp !== b.thp ? 1 << 25 : 0)
  );
}

/** An invariant's inputs as a mask: its fields, with the parts of mm it names (mmParts) in place of mm. */
function inputMask(inv: Invariant): number {
  const fields = fieldMask(inv.inputs ?? []);
  if (inv.mmParts === undefined || (fields & MM_BIT) === 0) return fields;
  return (fields & ~MM_BIT) | mmPartMask(inv.mmParts);
}

/** The step changed memory words and nothing else (no field, no process, no file). */
function onlyMemoryChanged(before: KernelState, after: KernelState, changed: number): boolean {
  if (changed !== MM_BIT) return false;
  const a = before.mm;
  const b = after.mm;
  return a.procs === b.procs && a.files === b.files && a.nextFile === b.nextFile && a.anon === b.anon;
}

/** The invariants that can judge one event type's steps (Invariant.onEvents), by what the step changed. */
interface EventLists {
  readonly all: readonly Invariant[];
  readonly allMasks: readonly number[];
  readonly memory: readonly Invariant[];
  readonly memoryMasks: readonly number[];
  readonly outcome: readonly Invariant[];
}

export function makeChecker(opts: CheckerOptions = {}): Checker {
  const list = opts.only === undefined ? INVARIANTS : INVARIANTS.filter((i) => opts.only?.includes(i.name));
  // Per event type (made on its first step): the invariants that can judge it, all of them, those of a step
  // that changed only memory words, those of a step that changed nothing; each with its input masks.
  // Kept for the profile and config of the last step (appliesTo depends on nothing else).
  let byType = new Map<string, EventLists>();
  let forProfile: KernelState['profile'] | null = null;
  let forConfig: KernelState['config'] | null = null;
  const listsFor = (type: string, s: KernelState): EventLists => {
    if (s.profile !== forProfile || s.config !== forConfig) {
      byType = new Map();
      forProfile = s.profile;
      forConfig = s.config;
    }
    let l = byType.get(type);
    if (l === undefined) {
      const all = list.filter((i) => (i.onEvents === undefined || (i.onEvents as readonly string[]).includes(type)) && i.appliesTo?.(s) !== false);
      const memory = all.filter((i) => i.onOutcome === true || i.readsMemory === true);
      byType.set(type, (l = { all, allMasks: all.map(maskOf), memory, memoryMasks: memory.map(maskOf), outcome: all.filter((i) => i.onOutcome === true) }));
    }
    return l;
  };
  // The fields each invariant reads, as a mask (0: it declares none and runs on every step); an outcome
  // invariant judges the step itself and always runs. One that names the parts of mm it reads has them in
  // place of mm's own bit.
  const masks = new Map(list.map((i) => [i, i.inputs === undefined || i.onOutcome === true ? 0 : inputMask(i)]));
  const anyParts = list.some((i) => i.mmParts !== undefined);
  const maskOf = (inv: Invariant): number => masks.get(inv) ?? 0;
  const paranoid = opts.paranoid === true;
  // One memo for every step of this checker, emptied at the start of each (StepMemo.reset).
  const stepMemo = new StepMemo();
  return (step: Step): readonly Violation[] => {
    let out: Violation[] | null = null;
    const before = step.before;
    const incremental = !paranoid && before !== null && step.event.type !== 'reboot';
    // Nothing changed: every state invariant held before, so it holds now; only the outcome is new.
    const untouched = step.before === step.after && !paranoid;
    let changed = incremental && !untouched ? changedFields(before, step.after) : -1;
    // Only memory words changed (a store through an installed entry, the commonest program step): the same
    // holds for every invariant that reads neither memory nor the outcome.
    const memoryOnly = changed !== -1 && onlyMemoryChanged(before as KernelState, step.after, changed);
    const memo = stepMemo.reset();
    const ctx = untouched || memoryOnly ? { step, before: step.before, after: step.after, changedBlocks: NO_BLOCKS, blockChanges: NO_CHANGES, full: false, memo } : contextOf(step, paranoid, memo);
    const lists = listsFor(step.event.type, step.after);
    const invs = untouched ? lists.outcome : memoryOnly ? lists.memory : lists.all;
    if (changed !== -1 && !memoryOnly && anyParts && (changed & MM_BIT) !== 0) {
      const parts = changedMmParts(before as KernelState, step.after);
      changed |= parts;
      // Worked out once: the invariants that run ask the same (pairsOf).
      ctx.memo.set(MM_PARTS, parts);
    }
    const invMasks = untouched ? null : memoryOnly ? lists.memoryMasks : lists.allMasks;
    for (let i = 0; i < invs.length; i++) {
      const inv = invs[i] as Invariant;
      // Nothing it reads changed: it held before, so it holds now.
      const mask = invMasks === null ? 0 : (invMasks[i] as number);
      if (mask !== 0 && changed !== -1 && (changed & mask) === 0) continue;
      const messages = inv.check(ctx);
      if (messages.length === 0) continue;
      const fn = inv.culprit?.(ctx);
      out ??= [];
      for (const message of messages) out.push(fn === undefined ? { seq: step.seq, index: step.index, invariant: inv.name, message } : { seq: step.seq, index: step.index, invariant: inv.name, message, fn });
    }
    // Most steps break nothing: one frozen empty list for all of them.
    return out ?? NO_VIOLATIONS;
  };
}

/** Every invariant, incremental. */
export const checkStep: Checker = makeChecker();
