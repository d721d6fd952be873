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

export function contextOf(step: Step, full: boolean): InvariantContext {
  // A reboot starts the machine's life again: every invariant judges the new state as it judges a boot.
  const before = step.event.type === 'reboot' ? null : step.before;
  const after = step.after;
  let blockChanges: readonly BlockChange[];
  if (before !== null && !full && step.blockChanges !== undefined) blockChanges = step.blockChanges;
  else {
    const ids = before === null || full ? [...after.blocks.keys()] : before.blocks.changedKeys(after.blocks);
    blockChanges = ids.map((id) => ({ id, before: before?.blocks.get(id), after: after.blocks.get(id) }));
  }
  return { step, before, after, changedBlocks: blockChanges.map((c) => c.id), blockChanges, full: full || before === null, memo: new StepMemo() };
}

const NO_BLOCKS: readonly number[] = Object.freeze([]);
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

/** The step changed memory words and nothing else (no field, no process, no file). */
function onlyMemoryChanged(before: KernelState | null, after: KernelState): boolean {
  if (before === null || before.mm === after.mm) return false;
  const a = before.mm;
  const b = after.mm;
  if (a.procs !== b.procs || a.files !== b.files || a.nextFile !== b.nextFile || a.anon !== b.anon) return false;
  return sameOtherFields(before, after);
}

/**
 * Every field but `mm` is the same object in both states. Written out: a
 * loop over OTHER_KEYS is a keyed load per field, which costs more than the
 * rest of a memory-only step's check (a test holds this list to OTHER_KEYS).
 */
export function sameOtherFields(a: KernelState, b: KernelState): boolean {
  return (
    a.profile === b.profile &&
    a.config === b.config &&
    a.blockSize === b.blockSize &&
    a.blockPages === b.blockPages &&
    a.iomem === b.iomem &&
    a.blocks === b.blocks &&
    a.zoneSpans === b.zoneSpans &&
    a.possibleNodes === b.possibleNodes &&
    a.regions === b.regions &&
    a.devices === b.devices &&
    a.driverIds === b.driverIds &&
    a.groups === b.groups &&
    a.autoOnline === b.autoOnline &&
    a.anyHotremoveFailed === b.anyHotremoveFailed &&
    a.faults === b.faults &&
    a.presentPages === b.presentPages &&
    a.managedPages === b.managedPages &&
    a.nextAddId === b.nextAddId &&
    a.bootReservedPages === b.bootReservedPages &&
    a.swap === b.swap &&
    a.oops === b.oops &&
    a.boot === b.boot &&
    a.kmemPersist === b.kmemPersist &&
    a.hmm === b.hmm &&
    a.thp === b.thp
  );
}

/** Whether every field in `keys` is the same object in both states. */
function sameInputs(keys: ReadonlyArray<keyof KernelState>, a: KernelState, b: KernelState): boolean {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as keyof KernelState;
    if (a[k] !== b[k]) return false;
  }
  return true;
}

export function makeChecker(opts: CheckerOptions = {}): Checker {
  const list = opts.only === undefined ? INVARIANTS : INVARIANTS.filter((i) => opts.only?.includes(i.name));
  const outcomeOnly = list.filter((i) => i.onOutcome === true);
  const memoryOrOutcome = list.filter((i) => i.onOutcome === true || i.readsMemory === true);
  return (step: Step): Violation[] => {
    const out: Violation[] = [];
    // Nothing changed: every state invariant held before, so it holds now; only the outcome is new.
    const untouched = step.before === step.after && opts.paranoid !== true;
    // Only memory words changed (a store through an installed entry, the commonest program step): the same
    // holds for every invariant that reads neither memory nor the outcome.
    const memoryOnly = !untouched && opts.paranoid !== true && onlyMemoryChanged(step.before, step.after);
    const ctx = untouched || memoryOnly ? { step, before: step.before, after: step.after, changedBlocks: NO_BLOCKS, blockChanges: NO_CHANGES, full: false, memo: new StepMemo() } : contextOf(step, opts.paranoid === true);
    const before = step.before;
    const incremental = opts.paranoid !== true && before !== null && step.event.type !== 'reboot';
    for (const inv of untouched ? outcomeOnly : memoryOnly ? memoryOrOutcome : list) {
      if (inv.appliesTo !== undefined && !inv.appliesTo(step.after)) continue;
      // Nothing it reads changed: it held before, so it holds now (an outcome invariant judges the step itself).
      if (incremental && inv.inputs !== undefined && inv.onOutcome !== true && sameInputs(inv.inputs, before, step.after)) continue;
      const messages = inv.check(ctx);
      if (messages.length === 0) continue;
      const fn = inv.culprit?.(ctx);
      for (const message of messages) out.push(fn === undefined ? { seq: step.seq, index: step.index, invariant: inv.name, message } : { seq: step.seq, index: step.index, invariant: inv.name, message, fn });
    }
    return out;
  };
}

/** Every invariant, incremental. */
export const checkStep: Checker = makeChecker();
