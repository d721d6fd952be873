/**
 * A fuzz campaign: many generated machines and sequences, every invariant
 * and must-succeed property after every step; each failure shrunk by
 * fast-check and written as a replayable log (named by content hash, with
 * seed, invariant and variant) the moment it is found — first unshrunk, then
 * replaced by the shrunk one, so an interrupt never loses it. Saved failures
 * are replayed before any new generation.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { writeFileAtomic } from '../src/util/atomicWrite.js';
import { join } from 'node:path';
import fc from 'fast-check';
import type { VariantName } from '../src/kernel/profile.js';
import { KERNEL_VARIANT_PROFILE } from './variants.js';
import type { BootEvent, LogEvent } from '../src/log/events.js';
import { decodeLogBytes, parseLogText, writeLog } from '../src/log/index.js';
import { replay, type Step, type Violation } from '../src/replay/engine.js';
import { bootMachine } from './arbitraries/machine.js';
import { choices, type Choice } from './arbitraries/steps.js';
import { Coverage, type CoverageReport } from './coverage.js';
import { GOALS } from './goals.js';
import { makeChecker } from './invariants/index.js';
import { checkAll, runSequence } from './sequence.js';
import { findingOf, isKnown, KNOWN_SIGNATURES, signatureOf } from './findings.js';
import type { PatchName } from '../src/kernel/patches.js';

export interface CampaignOptions {
  readonly seed: number;
  /** Stop after this many runs (of this shard), or ... */
  readonly runs?: number;
  /** ... after this many seconds. */
  readonly seconds?: number;
  /** Steps per sequence (at most). */
  readonly steps: number;
  readonly variant: VariantName | null;
  /** Where failures are written and read back from; null = do not persist. */
  readonly outDir: string | null;
  readonly shard?: { readonly index: number; readonly count: number };
  readonly paranoid?: boolean;
  /** Stop at the first failure (default false: keep going, collect every failure). */
  readonly stopAtFirst?: boolean;
  readonly onProgress?: (p: CampaignProgress) => void;
  /** Milliseconds between progress callbacks. */
  readonly progressEveryMs?: number;
  /** Checked before each run: true ends the campaign there (SIGINT). Failures found so far are on disk already. */
  readonly shouldStop?: () => boolean;
  /** Signatures of known findings (SPEC §11): seen and reported, never failures. Default: the project's list. */
  readonly known?: ReadonlySet<string>;
  /** Patch series applied to every generated machine (SPEC §11). */
  readonly patches?: readonly PatchName[];
}

/** A known finding a campaign met: how often, and the shortest log that shows it. */
export interface KnownSeen {
  readonly signature: string;
  readonly count: number;
  readonly log: string;
  readonly length: number;
  /** The run (0-based) that first showed it, and the campaign's time then: the time to detect it. */
  readonly firstRun: number;
  readonly firstMs: number;
}

export interface CampaignProgress {
  readonly runs: number;
  readonly steps: number;
  readonly failures: number;
  readonly elapsedMs: number;
  readonly coverage: CoverageReport;
}

export interface FailureReport {
  /** The fast-check seed of the failing run (runSeed(campaignSeed, run)). */
  readonly seed: number;
  readonly campaignSeed: number;
  readonly run: number;
  readonly invariant: string;
  readonly message: string;
  readonly variant: VariantName | null;
  /** Events in the shrunk log (boot included). */
  readonly length: number;
  readonly originalLength: number;
  readonly shrinkMs: number;
  readonly file: string | null;
  readonly log: string;
}

export interface CampaignResult {
  readonly runs: number;
  readonly steps: number;
  readonly okSteps: number;
  readonly validSteps: number;
  readonly elapsedMs: number;
  readonly failures: readonly FailureReport[];
  /** Saved failures replayed first: file and whether they still fail. */
  readonly replayed: ReadonlyArray<{ readonly file: string; readonly violations: readonly Violation[] }>;
  readonly coverage: CoverageReport;
  /** The first run's seed and each shard's, so any run can be redone alone. */
  readonly seed: number;
  /** Known findings met, by signature (sorted). */
  readonly known: readonly KnownSeen[];
}

/** The seed of run k of a campaign: a fixed mix, so shards split the run numbers and each run stands alone. */
export function runSeed(seed: number, run: number): number {
  let h = (seed ^ Math.imul(run + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) | 0;
}

export function failureLogText(f: Omit<FailureReport, 'file' | 'log'>, events: readonly LogEvent[]): string {
  const header = [
    '// memhp fuzz failure',
    `// campaign seed ${f.campaignSeed}, run ${f.run} (fast-check seed ${f.seed}); reproduce: memhp replay <this file>`,
    `// invariant: ${f.invariant}`,
    `// variant: ${f.variant ?? 'none'}`,
    `// message: ${f.message.replace(/\n/g, ' ')}`,
    `// ${f.length} events (shrunk from ${f.originalLength})`,
  ];
  return `${header.join('\n')}\n${writeLog(events)}`;
}

/** Write a failure log to `outDir` named by its content hash (null: not persisted); returns the file. */
export function saveFailure(outDir: string | null, text: string): string | null {
  if (outDir === null) return null;
  mkdirSync(outDir, { recursive: true });
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = join(outDir, `${hash}.jsonl`);
  writeFileAtomic(file, text);
  return file;
}

/** Replay every saved failure (*.jsonl) in `dir` with every check. */
export function replaySaved(dir: string | null, paranoid: boolean): Array<{ file: string; violations: readonly Violation[] }> {
  if (dir === null || !existsSync(dir)) return [];
  const check = checkAll(makeChecker({ paranoid }));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const events = parseLogText(decodeLogBytes(readFileSync(file), file), file).map((l) => l.event);
      return { file, violations: replay(events, { check, keepSteps: false }).violations };
    });
}

export function machineFor(variant: VariantName | null, patches: readonly PatchName[] = []): fc.Arbitrary<BootEvent> {
  if (variant === null) return bootMachine({ patches });
  const need = KERNEL_VARIANT_PROFILE[variant];
  return bootMachine({ ...need, variant, patches: [...new Set([...patches, ...(need.patches ?? [])])] });
}

export function runCampaign(o: CampaignOptions): CampaignResult {
  const runs = campaignRuns(o);
  for (;;) {
    const r = runs.next();
    if (r.done === true) return r.value;
  }
}

/**
 * runCampaign that gives the event loop a turn at least every `yieldEveryMs`
 * (between runs), so a signal handler can set `shouldStop`.
 */
export async function runCampaignAsync(o: CampaignOptions, yieldEveryMs = 50): Promise<CampaignResult> {
  const runs = campaignRuns(o);
  let last = Date.now();
  for (;;) {
    const r = runs.next();
    if (r.done === true) return r.value;
    if (Date.now() - last >= yieldEveryMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      last = Date.now();
    }
  }
}

/** The campaign, yielding after each run. */
function* campaignRuns(o: CampaignOptions): Generator<void, CampaignResult, void> {
  const started = Date.now();
  const known = o.known ?? KNOWN_SIGNATURES;
  const seen = new Map<string, KnownSeen>();
  // Violations of known findings are noted with the events up to their step, not failed on.
  let runKnown: Violation[] = [];
  const fullCheck = makeChecker({ paranoid: o.paranoid === true });
  const check = (step: Step): Violation[] => {
    const out: Violation[] = [];
    for (const v of fullCheck(step)) (isKnown(known, v, step.after.profile.kernel) ? runKnown : out).push(v);
    return out;
  };
  const coverage = new Coverage();
  const replayed = replaySaved(o.outDir, o.paranoid === true);
  const failures: FailureReport[] = [];
  const machine = machineFor(o.variant, o.patches ?? []);
  const seq = choices(o.steps);
  let runs = 0;
  let steps = 0;
  let okSteps = 0;
  let validSteps = 0;
  let lastProgress = started;
  const shard = o.shard ?? { index: 0, count: 1 };
  const deadline = o.seconds === undefined ? Infinity : started + o.seconds * 1000;
  for (let k = shard.index; ; k += shard.count) {
    if (o.runs !== undefined && runs >= o.runs) break;
    if (Date.now() >= deadline) break;
    if (o.stopAtFirst === true && failures.length > 0) break;
    if (o.shouldStop?.() === true) break;
    const seed = runSeed(o.seed, k);
    let firstFailure: { text: string; file: string | null; length: number; at: number } | null = null;
    let recording = true;
    const property = fc.property(machine, seq, (boot: BootEvent, cs: Choice[]) => {
      runKnown = [];
      const r = runSequence(boot, cs, { check, ...(recording ? { coverage } : {}) });
      for (const v of runKnown) {
        const sig = signatureOf(v);
        const had = seen.get(sig);
        const events = r.events.slice(0, v.index + 1);
        if (had === undefined) seen.set(sig, { signature: sig, count: 1, length: events.length, log: knownLogText(sig, v, events), firstRun: k, firstMs: Date.now() - started });
        else if (events.length < had.length) seen.set(sig, { ...had, count: had.count + 1, length: events.length, log: knownLogText(sig, v, events) });
        else seen.set(sig, { ...had, count: had.count + 1 });
      }
      if (recording) {
        recording = false;
        steps += r.steps.length - 1;
        okSteps += r.okSteps;
        validSteps += r.steps.length - 1 - r.kinds.invalid;
      }
      const v = r.violations[0];
      if (v === undefined) return true;
      if (firstFailure === null) {
        // Persist the unshrunk failure at once: shrinking may be interrupted.
        const text = failureLogText({ seed, campaignSeed: o.seed, run: k, invariant: v.invariant, message: v.message, variant: o.variant, length: r.events.length, originalLength: r.events.length, shrinkMs: 0 }, r.events);
        firstFailure = { text, file: saveFailure(o.outDir, text), length: r.events.length, at: Date.now() };
      }
      return false;
    });
    const details = fc.check(property, { seed, numRuns: 1, endOnFailure: false });
    runs++;
    if (details.failed && details.counterexample !== null && firstFailure !== null) {
      const ff: { text: string; file: string | null; length: number; at: number } = firstFailure;
      const [boot, cs] = details.counterexample;
      const r = runSequence(boot, cs, { check });
      const v = r.violations[0] as Violation;
      const shrinkMs = Date.now() - ff.at;
      const meta = { seed, campaignSeed: o.seed, run: k, invariant: v.invariant, message: v.message, variant: o.variant, length: r.events.length, originalLength: ff.length, shrinkMs };
      const text = failureLogText(meta, r.events);
      const file = saveFailure(o.outDir, text);
      if (ff.file !== null && ff.file !== file && existsSync(ff.file)) unlinkSync(ff.file);
      failures.push({ ...meta, file, log: text });
    }
    const now = Date.now();
    if (o.onProgress !== undefined && now - lastProgress >= (o.progressEveryMs ?? 250)) {
      lastProgress = now;
      o.onProgress({ runs, steps, failures: failures.length, elapsedMs: now - started, coverage: coverage.report(GOALS.map((g) => g.name)) });
    }
    yield;
  }
  return {
    runs,
    steps,
    okSteps,
    validSteps,
    elapsedMs: Date.now() - started,
    failures,
    replayed,
    coverage: coverage.report(GOALS.map((g) => g.name)),
    seed: o.seed,
    known: [...seen.values()].sort((a, b) => (a.signature < b.signature ? -1 : 1)),
  };
}

/** A known finding's log: replayable, its header naming the finding. */
function knownLogText(signature: string, v: Violation, events: readonly LogEvent[]): string {
  const f = findingOf(signature);
  const fix = f === undefined ? '?' : 'patch' in f.fix ? `boot.patches ["${f.fix.patch}"]` : f.fix.upstream;
  const header = [`// memhp known finding ${f?.id ?? '?'}: ${signature}`, `// message: ${v.message.replace(/\n/g, ' ')}`, `// fixed by ${fix}; reproduce: memhp replay <this file>`];
  return `${header.join('\n')}\n${writeLog(events)}`;
}
