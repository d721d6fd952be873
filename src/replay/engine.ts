/**
 * The replay engine: the model state is a fold of the event log. Applying an
 * event returns the next state and an outcome; it never throws for a user
 * error. Recorded results that differ from the model's are divergences;
 * invariants (supplied by the caller, see properties/) run after each step.
 */
import { bootKernel } from '../kernel/boot.js';
import { Op, type BlockChange } from '../kernel/op.js';
import { withState, type KernelState } from '../kernel/state.js';
import type { BootEvent, LogEvent, Outcome, StepEvent } from '../log/events.js';
import { canonicalPath, readFile, writeFile } from '../sysfs/surface.js';
import { sameOutcome } from './compare.js';
import { applyProgramEvent } from '../syscalls/index.js';
import { KernelOops } from '../kernel/oops.js';
import { reboot } from '../kernel/reboot.js';

/** What one applied event did, for invariants, coverage and output. */
export interface Step {
  /** 0 for boot, then 1, 2, ... in log order. */
  readonly index: number;
  readonly seq: number | undefined;
  readonly event: LogEvent;
  readonly outcome: Outcome;
  readonly before: KernelState | null;
  readonly after: KernelState;
  /** Failure branches taken (`function:errno`). */
  readonly branches: readonly string[];
  /** What the kernel path knowingly left behind on failure. */
  readonly leaks: readonly string[];
  /** Machine transitions taken (`machine:context:source:event`). */
  readonly transitions: readonly string[];
  /**
   * The memory blocks the step created, changed or removed, with their
   * records before and after, as the kernel mirrors recorded them (ascending
   * by id); absent for hand-built steps, where the invariants diff the block
   * maps instead.
   */
  readonly blockChanges?: readonly BlockChange[];
}

export interface Violation {
  readonly seq: number | undefined;
  readonly index: number;
  readonly invariant: string;
  readonly message: string;
  /** The kernel function that broke the invariant, where the invariant can tell (a finding's signature, SPEC §11). */
  readonly fn?: string;
}

export interface Divergence {
  readonly seq: number | undefined;
  readonly index: number;
  readonly recorded: Outcome;
  readonly model: Outcome;
}

export type Checker = (step: Step) => readonly Violation[];

const NO_VIOLATIONS: readonly Violation[] = Object.freeze([]);

function withLog(o: Outcome, log: readonly string[]): Outcome {
  return log.length === 0 ? o : { ...o, log: [...log] };
}

function applyStepEvent(op: Op, event: StepEvent): Outcome {
  switch (event.type) {
    case 'write': {
      const rc = writeFile(op, event.path, event.raw ? event.value : `${event.value}\n`);
      return rc.ok ? { ok: true } : { ok: false, errno: rc.errno };
    }
    case 'read': {
      const rc = readFile(op, event.path);
      return rc.ok ? { ok: true, value: rc.value } : { ok: false, errno: rc.errno };
    }
    case 'inject':
      op.state = withState(op.state, { faults: [...op.state.faults, { site: event.site, errno: event.errno, skip: event.nth - 1 }] });
      return { ok: true };
    case 'reboot':
      reboot(op);
      return { ok: true };
    default:
      return applyProgramEvent(op, event);
  }
}

/** Apply one non-boot event. */
export function applyEvent(state: KernelState, event: StepEvent, index: number): Step {
  const op = new Op(state);
  let outcome: Outcome;
  try {
    outcome = applyStepEvent(op, event);
  } catch (x) {
    // A sysfs write can crash the modelled kernel too (the kmem persistence RFC's unbind with NULL ops).
    if (!(x instanceof KernelOops)) throw x;
    op.print(x.line);
    op.branch('oops', x.fn);
    op.state = withState(op.state, { oops: x.line });
    outcome = { ok: false, oops: x.line };
  }
  return {
    index,
    seq: event.seq,
    event,
    outcome: withLog(outcome, op.log),
    before: state,
    after: op.state,
    branches: op.branches,
    leaks: op.leaks,
    transitions: op.transitions,
    blockChanges: op.blockChanges,
  };
}

export function applyBoot(boot: BootEvent): Step {
  const r = bootKernel(boot);
  return { index: 0, seq: boot.seq, event: boot, outcome: withLog({ ok: true }, r.log), before: null, after: r.state, branches: r.branches, leaks: [], transitions: r.transitions };
}

// When a recorded result agrees with the model's (and the /proc/meminfo rule): compare.ts.
export { sameOutcome } from './compare.js';

export interface ReplayOptions {
  readonly check?: Checker;
  /** Stop after the event with this seq (or this index when events carry no seq). */
  readonly until?: number;
  /** Called after each step (streaming output). */
  readonly onStep?: (step: Step, violations: readonly Violation[], divergence: Divergence | null) => void;
  /** Keep every step (memory grows with the log); otherwise only counts and the final state. */
  readonly keepSteps?: boolean;
}

export interface ReplayResult {
  readonly steps: readonly Step[];
  readonly final: KernelState;
  readonly violations: readonly Violation[];
  readonly divergences: readonly Divergence[];
  readonly events: number;
}

/** How a recorded mmap or mremap address is compared (sameOutcome): the requested one for MAP_FIXED, by alignment otherwise. */
function addressRule(event: LogEvent): 'requested' | boolean {
  return event.type === 'mmap' || event.type === 'mremap' ? (event.flags.includes('fixed') ? 'requested' : true) : false;
}

/**
 * A replay in progress: feed events one at a time (the CLI streams a file
 * through it; tests and the fuzzer drive it directly).
 */
export class Replayer {
  private state: KernelState | null = null;
  private index = 0;
  readonly steps: Step[] = [];
  readonly violations: Violation[] = [];
  readonly divergences: Divergence[] = [];
  stopped = false;

  constructor(private readonly opts: ReplayOptions = {}) {}

  get current(): KernelState {
    if (this.state === null) throw new Error('model bug: no boot event applied yet');
    return this.state;
  }

  get eventCount(): number {
    return this.index;
  }

  feed(event: LogEvent): Step | null {
    if (this.stopped) return null;
    let step: Step;
    if (event.type === 'boot') step = applyBoot(event);
    else step = applyEvent(this.current, event, this.index);
    this.index++;
    this.state = step.after;
    const violations = this.opts.check === undefined ? NO_VIOLATIONS : this.opts.check(step);
    // By index: an iterator per step showed up in the allocation profile of a program replay.
    for (let i = 0; i < violations.length; i++) this.violations.push(violations[i] as Violation);
    let divergence: Divergence | null = null;
    if (event.result !== undefined && !sameOutcome(event.result, step.outcome, event.type === 'read' ? canonicalPath(event.path) : undefined, addressRule(event))) {
      divergence = { seq: step.seq, index: step.index, recorded: event.result, model: step.outcome };
      this.divergences.push(divergence);
    }
    if (this.opts.keepSteps !== false) this.steps.push(step);
    this.opts.onStep?.(step, violations, divergence);
    // SPEC §7: after an oops the machine is dead; replay stops there.
    if (step.after.oops !== null) this.stopped = true;
    const until = this.opts.until;
    if (until !== undefined && (step.seq ?? step.index) >= until) this.stopped = true;
    return step;
  }

  result(): ReplayResult {
    return { steps: this.steps, final: this.current, violations: this.violations, divergences: this.divergences, events: this.index };
  }
}

/** Replay a whole, already-parsed log. */
export function replay(events: Iterable<LogEvent>, opts: ReplayOptions = {}): ReplayResult {
  const r = new Replayer(opts);
  for (const e of events) {
    r.feed(e);
    if (r.stopped) break;
  }
  return r.result();
}
