/**
 * The conformance suite (`memhp explore --cover --emit DIR`): a small set of
 * operation sequences that together reach every machine transition and
 * every (path, errno) pair the search reached, written as logs that
 * `memhp kernel record` / `memhp kernel diff` run on a real kernel.
 *
 * During the search each target's first transition (breadth first: at its
 * smallest depth) is its witness; the sequence to a witness is the path to
 * its state plus its operation. Each candidate sequence is replayed to see
 * every target it reaches on the way, and sequences are picked greedily,
 * most uncovered targets first (ties: the shorter, then the earlier found),
 * until every target is covered. Each log ends with reads of /proc/iomem,
 * /proc/meminfo and the in-scope blocks' state and valid_zones, so a real
 * kernel's final state is compared too, not only the errnos on the way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootEvent, LogEvent, StepEvent } from '../src/log/events.js';
import { writeLog } from '../src/log/index.js';
import type { Step, Violation } from '../src/replay/engine.js';
import { read } from './alphabet/events.js';
import { scopeBlocks } from './alphabet/sysfs.js';
import { eventsOf, type ExploreResult } from './explore.js';
import { documentedEntry } from './invariants/errnos.js';

/** The coverage targets a step reaches: `transition <key>` and `errno <path pattern>: <errno>` (coverage.ts's denominators). */
export function targetsOf(step: Step): string[] {
  const out = step.transitions.map((t) => `transition ${t}`);
  const o = step.outcome;
  if (!o.ok && (step.event.type === 'write' || step.event.type === 'read')) {
    const hit = documentedEntry(step.event.path);
    if (hit !== null) out.push(`errno ${hit.source}: ${o.errno}`);
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

/** The suite for a finished search whose transitions `tracker` observed. */
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
    const events: LogEvent[] = [...best.events, ...closing.map((e, k): LogEvent => (e.type === 'read' ? { type: 'read', seq: n + k + 1, path: e.path } : e))];
    sequences.push({ events, operations: n, covers });
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
