/**
 * The exhaustive search: breadth first over every sequence of operations
 * from the alphabet (properties/alphabet/), a fold of applyEvent and the
 * checker (every invariant and must-succeed property) over the operations
 * each state enables. States are deduplicated by their fingerprint
 * (fingerprint.ts; with symmetry reduction, interchangeable regions sorted:
 * symmetry.ts), so each canonical state is expanded once.
 *
 * Breadth first means the first violation of each invariant is met at the
 * smallest depth it has: its log is a shortest counterexample. A transition
 * that violates something is reported and not followed (what comes after a
 * broken state says nothing more); the state it led to is still expanded if
 * a clean transition reaches it. Failures are written like fuzz failures:
 * replayable logs under --out, named by content hash.
 *
 * A violation that is a known finding (properties/findings.ts, SPEC §11) is
 * reported as such, like fuzz does, not as a failure: its transition is not
 * followed either, and its shortest log is kept.
 *
 * Each state costs its fingerprint and two numbers (its parent and the index
 * of its operation in the parent's alphabet); a counterexample is rebuilt by
 * replaying those indices from the boot.
 */
import type { VariantName } from '../src/kernel/profile.js';
import type { KernelState } from '../src/kernel/state.js';
import type { BootEvent, LogEvent, StepEvent } from '../src/log/events.js';
import { writeLog } from '../src/log/index.js';
import { applyBoot, applyEvent, type Checker, type Step, type Violation } from '../src/replay/engine.js';
import { deviceSize } from '../src/kernel/state.js';
import { Alphabet, type OperationGenerator } from './alphabet/index.js';
import { saveFailure } from './campaign.js';
import { Coverage, type CoverageReport } from './coverage.js';
import { findingOf, isKnown, KNOWN_SIGNATURES, signatureOf } from './findings.js';
import { Fingerprinter } from './fingerprint.js';
import { GOALS } from './goals.js';
import { makeChecker } from './invariants/index.js';
import { checkAll, numbered, recordCoverage } from './sequence.js';
import { layoutOf, symmetryApplies } from './symmetry.js';

export interface ExploreOptions {
  readonly boot: BootEvent;
  /** A name for the machine in failure logs and reports (the preset or file). */
  readonly machineName: string;
  readonly generators: readonly OperationGenerator[];
  readonly bootBlocks?: readonly number[];
  readonly hotBlockLimit?: number;
  /** Most operations after boot (default: no limit, until the space is exhausted). */
  readonly depth?: number;
  /** Stop after this many distinct states (default 2,000,000): the space is then not exhausted. */
  readonly maxStates?: number;
  readonly symmetry: boolean;
  readonly paranoid?: boolean;
  /** Where failures are written (null: not persisted). */
  readonly outDir: string | null;
  /** Stop at the first violation (of a finding not known). */
  readonly stopAtFirst?: boolean;
  /** Signatures of known findings (SPEC §11): reported, never failures. Default: the project's list. */
  readonly known?: ReadonlySet<string>;
  /** Called for every transition (after checking): the state index it left, the operation's index, the step, what it violated. */
  readonly onTransition?: (from: number, via: number, step: Step, violations: readonly Violation[]) => void;
  /** Called when a transition reaches a state already stored, with the stored state's path (tests: the two must be equivalent). */
  readonly onDuplicate?: (storedPath: readonly number[], found: KernelState) => void;
  readonly onProgress?: (p: ExploreProgress) => void;
  /** Called once at the end while the stored states are still held (the bench measures their memory here). */
  readonly onDone?: () => void;
}

export interface ExploreProgress {
  readonly states: number;
  readonly transitions: number;
  readonly depth: number;
  readonly elapsedMs: number;
}

export interface ExploreFailure {
  readonly invariant: string;
  readonly message: string;
  /** Events in the log (boot included): depth + 1. */
  readonly length: number;
  readonly file: string | null;
  readonly log: string;
  readonly events: readonly LogEvent[];
}

/** A known finding the search met: its shortest log (breadth first, the first met). */
export interface ExploreKnown {
  readonly signature: string;
  /** The finding's id in properties/findings.ts (B1, ...), or null for a signature only a --known list names. */
  readonly id: string | null;
  readonly invariant: string;
  readonly message: string;
  readonly length: number;
  readonly log: string;
}

export interface ExploreResult {
  readonly machine: string;
  readonly variant: VariantName | null;
  readonly ops: readonly string[];
  /** Whether symmetry reduction was applied (asked for, and possible for the alphabet: symmetryApplies). */
  readonly symmetry: boolean;
  /** Distinct (canonical) states stored. */
  readonly states: number;
  /** Operations applied (every enabled operation of every expanded state). */
  readonly transitions: number;
  /** The deepest level expanded (operations after boot). */
  readonly depth: number;
  /** True when every reachable state was expanded (no depth or state limit cut the search). */
  readonly exhausted: boolean;
  readonly elapsedMs: number;
  readonly coverage: CoverageReport;
  readonly failures: readonly ExploreFailure[];
  /** Known findings met, by signature (sorted): not failures. */
  readonly known: readonly ExploreKnown[];
  /** The operation indices from the boot to stored state `i` (eventsOf turns them into events). */
  readonly pathTo: (i: number) => number[];
  /** The alphabet the search used. */
  readonly alphabet: Alphabet;
}

/** The stored states: index → parent index and operation index (growable typed arrays). */
class StateStore {
  parent = new Int32Array(1024);
  via = new Int32Array(1024);
  size = 0;

  add(parent: number, via: number): number {
    if (this.size === this.parent.length) {
      const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.parent = grow(this.parent);
      this.via = grow(this.via);
    }
    this.parent[this.size] = parent;
    this.via[this.size] = via;
    return this.size++;
  }

  /** The operation indices from the root to state `i`. */
  pathTo(i: number): number[] {
    const out: number[] = [];
    for (let k = i; k > 0; k = this.parent[k] as number) out.push(this.via[k] as number);
    return out.reverse();
  }
}

/** The events of a path of operation indices from the boot (each numbered by its position). */
export function eventsOf(boot: BootEvent, alphabet: Alphabet, path: readonly number[]): { events: LogEvent[]; steps: Step[] } {
  const events: LogEvent[] = [boot];
  const steps: Step[] = [];
  let s = applyBoot(boot).after;
  path.forEach((via, k) => {
    const op = alphabet.ops(s)[via];
    if (op === undefined) throw new Error(`model bug: operation ${via} not offered at step ${k + 1} of a stored path (the alphabet is not deterministic)`);
    const e = numbered(op, k + 1);
    const step = applyEvent(s, e, k + 1);
    events.push(e);
    steps.push(step);
    s = step.after;
  });
  return { events, steps };
}

function sameFaults(a: KernelState, b: KernelState): boolean {
  if (a.faults.length !== b.faults.length) return false;
  return a.faults.every((f, i) => {
    const g = b.faults[i];
    return g !== undefined && g.site === f.site && g.errno === f.errno && g.skip === f.skip;
  });
}

/** The alphabet a search uses for `root`'s machine. */
export function alphabetFor(o: Pick<ExploreOptions, 'generators' | 'bootBlocks' | 'hotBlockLimit'>, root: KernelState): Alphabet {
  return new Alphabet(o.generators, {
    bootBlocks: o.bootBlocks ?? [],
    hotBlockLimit: o.hotBlockLimit ?? Infinity,
    bootSizes: new Map(root.devices.map((d) => [d.name, deviceSize(d)])),
  });
}

export function failureText(machine: string, variant: VariantName | null, v: { invariant: string; message: string }, events: readonly LogEvent[], symmetry: boolean): string {
  const header = [
    '// memhp explore failure',
    `// machine ${machine}; a shortest counterexample (breadth-first search${symmetry ? ', symmetry-reduced' : ''}); reproduce: memhp replay <this file>`,
    `// invariant: ${v.invariant}`,
    `// variant: ${variant ?? 'none'}`,
    `// message: ${v.message.replace(/\n/g, ' ')}`,
    `// ${events.length} events`,
  ];
  return `${header.join('\n')}\n${writeLog(events)}`;
}

export function explore(o: ExploreOptions): ExploreResult {
  const started = Date.now();
  const check: Checker = checkAll(makeChecker({ paranoid: o.paranoid === true }));
  const coverage = new Coverage();
  const rootStep = applyBoot(o.boot);
  const root = rootStep.after;
  const alphabet = alphabetFor(o, root);
  const symmetry = o.symmetry && symmetryApplies(o.generators);
  const fp = new Fingerprinter(layoutOf(root, symmetry));
  const known = o.known ?? KNOWN_SIGNATURES;
  const knownSeen = new Map<string, ExploreKnown>();
  const store = new StateStore();
  const seen = new Map<string, number>();
  const failures: ExploreFailure[] = [];
  const failed = new Set<string>();
  const maxDepth = o.depth ?? Infinity;
  const maxStates = o.maxStates ?? 2_000_000;
  const variant = o.boot.variant;
  let transitions = 0;
  let depth = 0;
  let cut = false;
  let lastProgress = started;

  const report = (v: Violation, path: readonly number[]): void => {
    if (failed.has(v.invariant)) return;
    failed.add(v.invariant);
    const { events } = eventsOf(o.boot, alphabet, path);
    const text = failureText(o.machineName, variant, v, events, symmetry);
    failures.push({ invariant: v.invariant, message: v.message, length: events.length, file: saveFailure(o.outDir, text), log: text, events });
  };
  // A known finding: its first (shortest) log per signature, kept in memory, not saved as a failure.
  const reportKnown = (v: Violation, path: readonly number[]): void => {
    const sig = signatureOf(v);
    if (knownSeen.has(sig)) return;
    const { events } = eventsOf(o.boot, alphabet, path);
    const id = findingOf(sig)?.id ?? null;
    const text = failureText(o.machineName, variant, v, events, symmetry).replace('// memhp explore failure', `// memhp explore: known finding ${id ?? sig}`);
    knownSeen.set(sig, { signature: sig, id, invariant: v.invariant, message: v.message, length: events.length, log: text });
  };
  /** Reports each violation as a failure or a known finding; true when one is a failure. */
  const reportAll = (violations: readonly Violation[], s: KernelState, path: readonly number[]): boolean => {
    let news = false;
    for (const v of violations) {
      if (isKnown(known, v, s.profile.kernel)) reportKnown(v, path);
      else {
        news = true;
        report(v, path);
      }
    }
    return news;
  };

  recordCoverage(coverage, rootStep);
  const bootViolations = check(rootStep);
  reportAll(bootViolations, root, []);
  seen.set(fp.key(root), store.add(-1, -1));
  let frontier: Array<{ s: KernelState; i: number }> = bootViolations.length === 0 ? [{ s: root, i: 0 }] : [];

  search: while (frontier.length > 0) {
    if (depth >= maxDepth) {
      cut = true;
      break;
    }
    const next: Array<{ s: KernelState; i: number }> = [];
    for (const { s, i } of frontier) {
      const ops = alphabet.ops(s);
      for (let via = 0; via < ops.length; via++) {
        const op = ops[via] as StepEvent;
        let step: Step;
        let violations: readonly Violation[];
        try {
          step = applyEvent(s, op, depth + 1);
          violations = check(step);
        } catch (e) {
          // A model (or checker) bug is a failure like any other: keep the operations that led to it.
          const v: Violation = { seq: depth + 1, index: depth + 1, invariant: 'model-exception', message: e instanceof Error ? e.message : String(e) };
          transitions++;
          report(v, [...store.pathTo(i), via]);
          if (o.stopAtFirst === true) break search;
          continue;
        }
        transitions++;
        recordCoverage(coverage, step);
        o.onTransition?.(i, via, step, violations);
        if (violations.length > 0) {
          const news = reportAll(violations, step.after, [...store.pathTo(i), via]);
          if (news && o.stopAtFirst === true) break search;
          continue;
        }
        // A state the operation did not change (a read, a refused write) is the same state.
        if (step.after === s) continue;
        // An injected fault must be met by the next operation: one that leaves it pending commutes with the
        // injection (it reached no fault site), so its successor is reached as well by doing it first.
        if (s.faults.length > 0 && step.after.faults.length > 0 && sameFaults(s, step.after)) continue;
        const key = fp.key(step.after);
        const known = seen.get(key);
        if (known !== undefined) {
          o.onDuplicate?.(store.pathTo(known), step.after);
          continue;
        }
        if (store.size >= maxStates) {
          cut = true;
          break search;
        }
        const j = store.add(i, via);
        seen.set(key, j);
        next.push({ s: step.after, i: j });
      }
      if (o.onProgress !== undefined) {
        const now = Date.now();
        if (now - lastProgress >= 250) {
          lastProgress = now;
          o.onProgress({ states: store.size, transitions, depth, elapsedMs: now - started });
        }
      }
    }
    frontier = next;
    if (next.length > 0) depth++;
  }
  o.onDone?.();
  // Also keeps the stored states alive across onDone (V8 may collect what a function no longer uses).
  if (seen.size !== store.size) throw new Error(`model bug: ${seen.size} fingerprints for ${store.size} stored states`);
  return {
    machine: o.machineName,
    variant,
    ops: alphabet.names,
    symmetry,
    states: store.size,
    transitions,
    depth,
    exhausted: !cut && (o.stopAtFirst !== true || failures.length === 0),
    elapsedMs: Date.now() - started,
    coverage: coverage.report(GOALS.map((g) => g.name)),
    failures,
    known: [...knownSeen.values()].sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0)),
    pathTo: (i) => store.pathTo(i),
    alphabet,
  };
}
