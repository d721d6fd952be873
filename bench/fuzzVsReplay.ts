/**
 * fuzz: steps/s of a campaign on the default generator, every invariant and
 * must-succeed property after every step; and, for the same kind of
 * sequences, steps/s of replaying them as logs (reader + every invariant).
 * The ratio of the two is what the fuzzer's own work costs — generation,
 * choice interpretation, shrinking bookkeeping, must-succeed properties,
 * goals and coverage — over replaying the same operations.
 */
import fc from 'fast-check';
import { machineFor, runCampaign, runSeed } from '../properties/campaign.js';
import { choices } from '../properties/arbitraries/steps.js';
import { makeChecker } from '../properties/invariants/index.js';
import { runSequence } from '../properties/sequence.js';
import { parseLogText, writeLog, type LogEvent } from '../src/log/index.js';
import { Replayer } from '../src/replay/engine.js';
import { stats, type Stats } from './measure.js';

export interface FuzzFigures {
  /** Campaign steps/s (boot events not counted, their cost included). */
  readonly stepsPerSecond: Stats;
  readonly runs: number;
  readonly steps: number;
  /** Replaying sequences of the same generator from their logs: steps/s, counted the same way. */
  readonly replaySameStepsPerSecond: Stats;
  readonly replaySequences: number;
  readonly replaySteps: number;
  /** The same replay from events parsed beforehand: the model and invariants alone (reported, not asserted). */
  readonly replayParsedStepsPerSecond: Stats;
}

/** `count` sequences of the default generator (at most `steps` steps), as log texts. */
export function fuzzSequenceLogs(count: number, steps: number, seed: number): { logs: string[]; steps: number } {
  const arb = fc.tuple(machineFor(null), choices(steps));
  const noCheck = (): [] => [];
  const logs: string[] = [];
  let total = 0;
  for (let k = 0; k < count; k++) {
    const [value] = fc.sample(arb, { seed: runSeed(seed, k), numRuns: 1 });
    if (value === undefined) continue;
    const r = runSequence(value[0], value[1], { check: noCheck, stopAtViolation: false });
    logs.push(writeLog(r.events));
    total += r.events.length - 1;
  }
  return { logs, steps: total };
}

function replayAll(logs: readonly string[]): number {
  const check = makeChecker();
  let violations = 0;
  for (const text of logs) {
    const r = new Replayer({ keepSteps: false, check });
    for (const { event } of parseLogText(text, 'fuzz.jsonl')) r.feed(event);
    violations += r.violations.length;
  }
  return violations;
}

function replayParsed(logs: ReadonlyArray<readonly LogEvent[]>): number {
  const check = makeChecker();
  let violations = 0;
  for (const events of logs) {
    const r = new Replayer({ keepSteps: false, check });
    for (const event of events) r.feed(event);
    violations += r.violations.length;
  }
  return violations;
}

export function fuzzVsReplay(seconds: number, repeats: number, steps: number): FuzzFigures {
  // Warm-up of both paths.
  runCampaign({ seed: 3, seconds: 1, steps, variant: null, outDir: null });
  const sample = fuzzSequenceLogs(quickCount(seconds), steps, 100);
  replayAll(sample.logs);
  const parsed = sample.logs.map((text) => parseLogText(text, 'fuzz.jsonl').map((l) => l.event));
  replayParsed(parsed);
  const fuzz: number[] = [];
  const replay: number[] = [];
  const replayPre: number[] = [];
  let runs = 0;
  let total = 0;
  for (let i = 0; i < repeats; i++) {
    const r = runCampaign({ seed: 100 + i, seconds, steps, variant: null, outDir: null });
    fuzz.push(r.steps / (r.elapsedMs / 1000));
    runs += r.runs;
    total += r.steps;
    const t = process.hrtime.bigint();
    replayAll(sample.logs);
    replay.push(sample.steps / (Number(process.hrtime.bigint() - t) / 1e9));
    const t2 = process.hrtime.bigint();
    replayParsed(parsed);
    replayPre.push(sample.steps / (Number(process.hrtime.bigint() - t2) / 1e9));
  }
  return {
    stepsPerSecond: stats(fuzz),
    runs,
    steps: total,
    replaySameStepsPerSecond: stats(replay),
    replaySequences: sample.logs.length,
    replaySteps: sample.steps,
    replayParsedStepsPerSecond: stats(replayPre),
  };
}

/** Enough sequences that one replay pass takes about a second. */
function quickCount(seconds: number): number {
  return seconds < 5 ? 2_000 : 10_000;
}
