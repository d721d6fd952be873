/**
 * Running one generated sequence: boot the machine, interpret each choice
 * against the current state, apply it, and check every invariant and
 * must-succeed property after every step.
 */
import type { BootEvent, LogEvent, StepEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, type Checker, type Step, type Violation } from '../src/replay/engine.js';
import { interpretChoice, type Choice, type StepKind } from './arbitraries/steps.js';
import type { Coverage } from './coverage.js';
import { GOALS, type Goal } from './goals.js';
import { makeChecker } from './invariants/index.js';
import { checkMustSucceed } from './mustSucceed.js';

export interface SequenceOptions {
  /** Invariants to run (default: all, incremental). */
  readonly check?: Checker;
  readonly coverage?: Coverage;
  /** Stop at the first violating step (default true: shrinking wants the shortest prefix). */
  readonly stopAtViolation?: boolean;
}

export interface SequenceResult {
  /** The boot event, then the steps that were applied. */
  readonly events: readonly LogEvent[];
  readonly steps: readonly Step[];
  readonly violations: readonly Violation[];
  readonly kinds: Readonly<Record<StepKind, number>>;
  /** Steps whose outcome was ok. */
  readonly okSteps: number;
}

const defaultCheck = makeChecker();

export function checkAll(check: Checker): Checker {
  return (step) => {
    const a = check(step);
    const b = checkMustSucceed(step);
    return b.length === 0 ? a : a.length === 0 ? b : [...a, ...b];
  };
}

/** The generated event with its seq (a literal per type: an object spread costs V8 ~130 ns per step). */
export function numbered(e: StepEvent, seq: number): StepEvent {
  switch (e.type) {
    case 'write':
      return { type: 'write', seq, path: e.path, value: e.value, raw: e.raw };
    case 'read':
      return { type: 'read', seq, path: e.path };
    case 'inject':
      return { type: 'inject', seq, site: e.site, errno: e.errno, nth: e.nth };
    case 'reboot':
      return { type: 'reboot', seq };
    default:
      return { ...e, seq };
  }
}

/** Whether the step has what the goal needs (a goal without `needs` may be reached by any step). */
function mayReach(g: Goal, step: Step, changed: readonly number[]): boolean {
  switch (g.needs) {
    case 'transitions':
      return step.transitions.length > 0;
    case 'branches':
      return step.branches.length > 0;
    case 'changed':
      return changed.length > 0;
    case undefined:
      return true;
  }
}

/** The block ids a step changed: what the kernel mirrors recorded, else a diff of the block maps. */
function changedIds(step: Step): readonly number[] {
  if (step.before === null) return [...step.after.blocks.keys()];
  const changes = step.blockChanges;
  if (changes === undefined) return step.before.blocks.changedKeys(step.after.blocks);
  const ids: number[] = [];
  for (const c of changes) if (c.before !== c.after) ids.push(c.id);
  return ids;
}

/** Record a step's transitions, errnos and branches, and the goals it reaches (fuzz and explore share this). */
export function recordCoverage(coverage: Coverage, step: Step): void {
  coverage.record(step);
  const changed = changedIds(step);
  for (const g of GOALS) if (mayReach(g, step, changed) && g.reached(step, changed)) coverage.hitGoal(g.name);
}

export function runSequence(boot: BootEvent, choices: readonly Choice[], opts: SequenceOptions = {}): SequenceResult {
  const check = checkAll(opts.check ?? defaultCheck);
  const kinds: Record<StepKind, number> = { inject: 0, invalid: 0, read: 0, driver: 0, block: 0, attr: 0, program: 0 };
  const events: LogEvent[] = [boot];
  const steps: Step[] = [];
  const violations: Violation[] = [];
  let okSteps = 0;
  const observe = (step: Step): void => {
    steps.push(step);
    for (const v of check(step)) violations.push(v);
    if (opts.coverage !== undefined) recordCoverage(opts.coverage, step);
  };
  let current = applyBoot(boot);
  observe(current);
  for (let i = 0; i < choices.length; i++) {
    if (violations.length > 0 && opts.stopAtViolation !== false) break;
    const gen = interpretChoice(current.after, choices[i] as Choice);
    const event = numbered(gen.event, i + 1);
    kinds[gen.kind]++;
    events.push(event);
    try {
      current = applyEvent(current.after, event, i + 1);
      if (current.outcome.ok) okSteps++;
      observe(current);
      // SPEC §7: after an oops the machine is dead; nothing more happens on it.
      if (current.after.oops !== null) break;
    } catch (e) {
      // A model (or checker) bug is a failure like any other: keep the events that led to it.
      violations.push({ seq: i + 1, index: i + 1, invariant: 'model-exception', message: e instanceof Error ? e.message : String(e) });
      break;
    }
  }
  return { events, steps, violations, kinds, okSteps };
}
