/**
 * An invariant is a named pure predicate over one step of the model: the
 * state before, the state after, and what the step did. It returns the
 * messages of every violation it finds (empty = holds).
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { Step } from '../../src/replay/engine.js';
import type { LogEvent } from '../../src/log/events.js';
import type { BlockChange } from '../../src/kernel/op.js';

export interface InvariantContext {
  readonly step: Step;
  readonly before: KernelState | null;
  readonly after: KernelState;
  /** Block ids whose record changed in this step, ascending; every block after boot or in paranoid mode. */
  readonly changedBlocks: readonly number[];
  /** The same blocks with their records before and after (undefined: absent), ascending by id. */
  readonly blockChanges: readonly BlockChange[];
  /** True when the invariant must re-check everything instead of only what the step changed. */
  readonly full: boolean;
  /** What several invariants derive from the same step, made once (see `memo`). */
  readonly memo: StepMemo;
}

/** A step's memo: its table is made only when an invariant first stores something (most steps store nothing). */
export class StepMemo {
  // Slots by MemoKey id, made on first use: an array costs the collector less than a Map per step.
  private slots: unknown[] | null = null;
  /** Whether a slot was set since the last reset. */
  private used = false;

  has(key: MemoKey<unknown>): boolean {
    return this.slots !== null && this.slots[key.id] !== undefined;
  }

  get(key: MemoKey<unknown>): unknown {
    return this.slots === null ? undefined : this.slots[key.id];
  }

  set(key: MemoKey<unknown>, value: unknown): void {
    (this.slots ??= [])[key.id] = value;
    this.used = true;
  }

  /**
   * Empty again, for the next step: a checker keeps one memo for all its
   * steps (a memo and its slots per step were most of what the checker
   * allocated on a program step).
   */
  reset(): StepMemo {
    if (this.used) {
      (this.slots as unknown[]).fill(undefined);
      this.used = false;
    }
    return this;
  }
}

let memoKeys = 0;

/** A slot of the step memo holding a T (never undefined: an undefined slot is an empty one). */
export class MemoKey<T> {
  declare private readonly kind: T;
  readonly id = memoKeys++;
  constructor(readonly name: string) {}
}

/**
 * The value of `key` for this step, made by `make` the first time an
 * invariant asks. A map on the context rather than WeakMaps keyed by it: a
 * step's context dies young, and weak tables over short-lived keys cost the
 * collector more than the lookups save. `make` takes the context (a module
 * function, not a closure per call: tsx's keepNames wraps every closure a
 * hot function makes).
 */
export function memo<T>(ctx: InvariantContext, key: MemoKey<T>, make: (ctx: InvariantContext) => T): T {
  const have = ctx.memo.get(key);
  if (have !== undefined) return have as T;
  const v = make(ctx);
  ctx.memo.set(key, v);
  return v;
}

/**
 * Parts of KernelState.mm, for Invariant.mmParts:
 * - anonVmas: an anonymous vma (vma.file null) was added to or removed from
 *   a process, or a process holding one came or went (a vma is a new object
 *   whenever its entries, bounds or protection change);
 * - anon: the anonymous-memory state (mm.anon: folios, free lists, counts);
 * - rss: a process's MM_ANONPAGES (rssAnon) changed, or a process came or went.
 */
export type MmPart = 'anonVmas' | 'anon' | 'rss';

export interface Invariant {
  readonly name: string;
  /** One line: what holds. */
  readonly summary: string;
  /** The kernel code that makes it true. */
  readonly kernel: string;
  /**
   * Whether it applies to this state's profile/config at all: a function of
   * `state.profile` and `state.config` only (which change only at a boot),
   * so the checker asks it once per profile and config, not per step.
   */
  readonly appliesTo?: (state: KernelState) => boolean;
  /**
   * True when it judges the step's outcome and must run even for a step that
   * left the state untouched (a read, a refused write); every other
   * invariant holds trivially there, since it held before.
   */
  readonly onOutcome?: boolean;
  /**
   * True when it judges memory contents (KernelState.mm.mem): it must run
   * for a step that changed only memory words (a store through an installed
   * entry), which every other invariant skips since it held before and
   * reads nothing that changed: anon-data-preserved (a CPU store is the
   * data it follows).
   */
  readonly readsMemory?: boolean;
  /**
   * The state fields it reads: a step that left every one of them the same
   * object cannot break it (it held before), so the checker skips it there
   * (not at boot, a reboot or under `paranoid`). Absent: every step.
   */
  readonly inputs?: ReadonlyArray<keyof KernelState>;
  /**
   * With 'mm' among `inputs`: the parts of mm whose change can break it (see
   * MmPart). A step that changed mm but none of these parts skips it, as a
   * step that changed none of its inputs does. Each part named must cover
   * every way the invariant's own incremental check can find something: a
   * step the checker skips is one where the check would have looked at
   * nothing (anon-mapcount on a device-dax fault).
   */
  readonly mmParts?: readonly MmPart[];
  /**
   * The event types whose steps it can find something wrong in; on any
   * other step its check returns nothing, so the checker does not call it
   * (errno-documented judges failed sysfs writes and reads only). Absent:
   * every event type.
   */
  readonly onEvents?: ReadonlyArray<LogEvent['type']>;
  readonly check: (ctx: InvariantContext) => readonly string[];
  /** The kernel function to blame for a violation in this step (a finding's signature, SPEC §11). */
  readonly culprit?: (ctx: InvariantContext) => string;
}

/** No message: what an invariant returns on a step it finds fine (one frozen list: most steps break nothing). */
export const NO_MESSAGES: readonly string[] = Object.freeze([]);
