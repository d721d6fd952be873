/**
 * The conformance suite (`memhp explore --cover --emit DIR`): a small set of
 * operation sequences that together reach every machine transition and
 * every (path, errno) pair the search reached, written as logs that
 * `memhp kernel record` / `memhp kernel diff` run on a real kernel.
 *
 * During the search each target's first transition (breadth first: at its
 * smallest depth) is its witness. Two ways to cover them: chainedSuite (the
 * default) walks from boot to the nearest uncovered target, then the next,
 * in as few sequences as it can; coverSuite (--isolated) takes the path to
 * each witness as a candidate, replays it to see every target it reaches on
 * the way, and picks candidates greedily, most uncovered targets first (ties:
 * the shorter, then the earlier found). Each log ends with reads of /proc/iomem,
 * /proc/meminfo and the in-scope blocks' state and valid_zones, so a real
 * kernel's final state is compared too, not only the errnos on the way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { failureKey } from '../src/log/events.js';
import { join } from 'node:path';
import type { BootEvent, LogEvent, StepEvent } from '../src/log/events.js';
import { writeLog } from '../src/log/index.js';
import type { Step, Violation } from '../src/replay/engine.js';
import { read } from './alphabet/events.js';
import { scopeBlocks } from './alphabet/sysfs.js';
import { applyBoot, applyEvent, type Checker } from '../src/replay/engine.js';
import type { KernelState } from '../src/kernel/state.js';
import type { Alphabet } from './alphabet/index.js';
import { eventsOf, type ExploreResult } from './explore.js';
import { Fingerprinter } from './fingerprint.js';
import { makeChecker } from './invariants/index.js';
import { checkAll, numbered } from './sequence.js';
import { layoutOf, symmetryApplies } from './symmetry.js';
import { documentedEntry } from './invariants/errnos.js';

/** The coverage targets a step reaches: `transition <key>` and `errno <path pattern>: <errno>` (coverage.ts's denominators). */
export function targetsOf(step: Step): string[] {
  const out = step.transitions.map((t) => `transition ${t}`);
  const o = step.outcome;
  if (!o.ok && (step.event.type === 'write' || step.event.type === 'read')) {
    const hit = documentedEntry(step.event.path);
    if (hit !== null) out.push(`errno ${hit.source}: ${failureKey(o)}`);
  }
  return out;
}

/** Collects each target's first witness during a search (pass `observe` as ExploreOptions.onTransition). */
export class CoverTracker {
  readonly witness = new Map<string, { readonly from: number; readonly via: number }>();

  readonly observe = (from: number, via: number, step: Step, violations: readonly Violation[]): void => {
    // A transition that broke an invariant is a failure, not a behaviour to hold a real kernel to.
    if (violations.length > 0) return;
    for (const t of targetsOf(step)) if (!this.witness.has(t)) this.witness.set(t, { from, via });
  };
}

export interface CoverSequence {
  /** Boot, the operations, then the closing reads. */
  readonly events: readonly LogEvent[];
  /** Operations before the closing reads. */
  readonly operations: number;
  /** The targets this sequence is in the suite for (not covered by an earlier one). */
  readonly covers: readonly string[];
}

export interface CoverSuite {
  readonly targets: readonly string[];
  readonly sequences: readonly CoverSequence[];
}

/**
 * The isolated suite for a finished search whose transitions `tracker`
 * observed: one short sequence per group of targets (a divergence on a real
 * kernel then names its behaviour). chainedSuite gives fewer, longer ones.
 */
export function coverSuite(boot: BootEvent, result: ExploreResult, tracker: CoverTracker): CoverSuite {
  const candidates = [...tracker.witness.entries()].map(([target, w], order) => {
    const path = [...result.pathTo(w.from), w.via];
    const { events, steps } = eventsOf(boot, result.alphabet, path);
    const reached = new Set<string>([target]);
    for (const st of steps) for (const t of targetsOf(st)) reached.add(t);
    return { path, events, steps, reached, order };
  });
  const uncovered = new Set(tracker.witness.keys());
  const sequences: CoverSequence[] = [];
  while (uncovered.size > 0) {
    let best: (typeof candidates)[number] | undefined;
    let bestGain = 0;
    for (const c of candidates) {
      let gain = 0;
      for (const t of c.reached) if (uncovered.has(t)) gain++;
      if (gain > bestGain || (gain === bestGain && gain > 0 && best !== undefined && c.path.length < best.path.length)) {
        best = c;
        bestGain = gain;
      }
    }
    if (best === undefined) throw new Error('model bug: a witnessed target is reached by no candidate sequence');
    const covers = [...best.reached].filter((t) => uncovered.has(t)).sort();
    for (const t of covers) uncovered.delete(t);
    const last = best.steps[best.steps.length - 1]?.after;
    const closing: StepEvent[] = [read('/proc/iomem'), read('/proc/meminfo')];
    if (last !== undefined) {
      for (const id of scopeBlocks(last, result.alphabet.scope)) closing.push(read(`/sys/devices/system/memory/memory${id}/state`), read(`/sys/devices/system/memory/memory${id}/valid_zones`));
    }
    const n = best.path.length;
    const events: LogEvent[] = [...best.events, ...closing.map((e, k) => numbered(e, n + k + 1))];
    sequences.push({ events, operations: n, covers });
  }
  return { targets: [...tracker.witness.keys()].sort(), sequences };
}

/** Most operations in one chained sequence: a divergence early in a long one hides what follows. */
export const MAX_CHAIN = 40;

/**
 * The shortest clean operation path from `start` to a transition that
 * reaches one of `wanted` (breadth first, states deduplicated), or null when
 * none is reachable within `maxStates` states.
 */
function nearest(start: KernelState, alphabet: Alphabet, fp: Fingerprinter, check: Checker, wanted: ReadonlySet<string>, maxStates: number): StepEvent[] | null {
  const seen = new Set<string>([fp.key(start)]);
  let frontier: Array<{ s: KernelState; path: StepEvent[] }> = [{ s: start, path: [] }];
  while (frontier.length > 0) {
    const next: Array<{ s: KernelState; path: StepEvent[] }> = [];
    for (const { s, path } of frontier) {
      for (const op of alphabet.ops(s)) {
        const step = applyEvent(s, op, 1);
        if (check(step).length > 0) continue;
        if (targetsOf(step).some((t) => wanted.has(t))) return [...path, op];
        if (step.after === s) continue;
        const key = fp.key(step.after);
        if (seen.has(key)) continue;
        if (seen.size >= maxStates) return null;
        seen.add(key);
        next.push({ s: step.after, path: [...path, op] });
      }
    }
    frontier = next;
  }
  return null;
}

/**
 * A suite of fewer, longer sequences: each starts at boot and repeatedly
 * walks the shortest clean path to the nearest transition that reaches a
 * target not yet covered, until no uncovered target is reachable from where
 * it stands (a one-way step was taken) or it has MAX_CHAIN operations; then
 * the next sequence starts from boot. A real kernel spends most of a
 * sequence's time booting, so fewer sequences cost less.
 */
export function chainedSuite(boot: BootEvent, result: ExploreResult, tracker: CoverTracker, maxStates = 200_000): CoverSuite {
  const alphabet = result.alphabet;
  const root = applyBoot(boot).after;
  const fp = new Fingerprinter(layoutOf(root, symmetryApplies(alphabet.generators)));
  const check = checkAll(makeChecker());
  const uncovered = new Set(tracker.witness.keys());
  const sequences: CoverSequence[] = [];
  while (uncovered.size > 0) {
    let s = root;
    const ops: StepEvent[] = [];
    const covers: string[] = [];
    for (;;) {
      if (uncovered.size === 0) break;
      const path = nearest(s, alphabet, fp, check, uncovered, maxStates);
      // The first path of a sequence is taken whatever its length (it is the shortest from boot).
      if (path === null || (ops.length > 0 && ops.length + path.length > MAX_CHAIN)) break;
      for (const op of path) {
        const step = applyEvent(s, op, ops.length + 1);
        for (const t of targetsOf(step)) {
          if (uncovered.delete(t)) covers.push(t);
        }
        ops.push(op);
        s = step.after;
      }
    }
    if (ops.length === 0) throw new Error(`model bug: witnessed targets unreachable from boot: ${[...uncovered].join(', ')}`);
    const closing: StepEvent[] = [read('/proc/iomem'), read('/proc/meminfo')];
    for (const id of scopeBlocks(s, alphabet.scope)) closing.push(read(`/sys/devices/system/memory/memory${id}/state`), read(`/sys/devices/system/memory/memory${id}/valid_zones`));
    const events: LogEvent[] = [boot, ...[...ops, ...closing].map((e, k) => numbered(e, k + 1))];
    sequences.push({ events, operations: ops.length, covers: covers.sort() });
  }
  return { targets: [...tracker.witness.keys()].sort(), sequences };
}

/** Write the suite as DIR/cover-NN.jsonl, each with a header naming what it covers; returns the files. */
export function emitSuite(dir: string, machine: string, suite: CoverSuite): string[] {
  mkdirSync(dir, { recursive: true });
  const width = String(suite.sequences.length).length;
  return suite.sequences.map((s, k) => {
    const file = join(dir, `cover-${String(k + 1).padStart(width, '0')}.jsonl`);
    const header = [
      `// memhp explore --cover: sequence ${k + 1} of ${suite.sequences.length} on ${machine}, ${s.operations} operations then closing reads`,
      '// run on a real kernel: memhp kernel diff <this file>',
      ...s.covers.map((t) => `// covers ${t}`),
    ];
    writeFileSync(file, `${header.join('\n')}\n${writeLog(s.events)}`);
    return file;
  });
}
