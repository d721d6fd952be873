/**
 * The result of `memhp fuzz` as one document (--json prints it) and as the
 * human summary. Everything that depends on the clock (elapsed time, rates,
 * shrink times) is under "timing", the last key, so two runs with the same
 * seed and a --runs budget give the same bytes up to "timing".
 */
import type { CampaignResult } from '../../../properties/campaign.js';
import { findingOf } from '../../../properties/findings.js';
import type { CoverageCount } from '../../../properties/coverage.js';
import type { Colors } from '../context.js';
import { stepSeq } from '../human.js';
import type { FuzzConfig } from './options.js';

export interface FailureJson {
  readonly seed: number;
  readonly run: number;
  readonly invariant: string;
  readonly message: string;
  readonly variant: string | null;
  readonly length: number;
  readonly originalLength: number;
  readonly file: string | null;
  readonly replay: string | null;
}

export interface ReplayedJson {
  readonly file: string;
  readonly stillFails: boolean;
  readonly violations: ReadonlyArray<{ readonly seq: number; readonly invariant: string; readonly message: string }>;
}

export interface FuzzDocument {
  readonly config: {
    readonly seed: number;
    readonly runs: number | null;
    readonly seconds: number | null;
    readonly steps: number;
    readonly variant: string | null;
    readonly shard: { readonly index: number; readonly count: number };
    readonly out: string;
    readonly paranoid: boolean;
    readonly patches: readonly string[];
    readonly known: string;
  };
  /** Known findings met (SPEC §11), each once: never failures. */
  readonly knownFindings: ReadonlyArray<{ readonly id: string; readonly signature: string; readonly count: number; readonly length: number }>;
  /** Stopped by SIGINT before its budget was spent. */
  readonly interrupted: boolean;
  /** Saved failures under --out, replayed before any generation. */
  readonly replayed: readonly ReplayedJson[];
  readonly runs: number;
  readonly steps: number;
  readonly validSteps: number;
  readonly okSteps: number;
  /** validSteps / steps and okSteps / steps (0 when no step ran). */
  readonly validShare: number;
  readonly okShare: number;
  /** New failures (each already shrunk and saved) and saved ones that still fail, a file found again counted once. */
  readonly failed: number;
  readonly failures: readonly FailureJson[];
  readonly coverage: {
    readonly transitions: CoverageCount;
    readonly errnos: CoverageCount;
    readonly branches: CoverageCount;
    readonly goals: { readonly reached: ReadonlyArray<{ readonly name: string; readonly hits: number }>; readonly neverReached: readonly string[] };
  };
  readonly timing: {
    readonly elapsedMs: number;
    readonly runsPerSecond: number;
    readonly stepsPerSecond: number;
    /** Shrink time of each failure, in the order of "failures". */
    readonly shrinkMs: readonly number[];
  };
}

const share = (n: number, of: number): number => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 10_000);
const rate = (n: number, ms: number): number => (ms <= 0 ? 0 : Math.round((n / ms) * 1000 * 10) / 10);

export function replayCommand(file: string): string {
  return `memhp replay ${/^[\w./@%+=:,-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`}`;
}

export function fuzzDocument(cfg: FuzzConfig, r: CampaignResult, interrupted: boolean): FuzzDocument {
  const replayed = r.replayed.map((x) => ({ file: x.file, stillFails: x.violations.length > 0, violations: x.violations.map((v) => ({ seq: stepSeq(v), invariant: v.invariant, message: v.message })) }));
  const goals = Object.entries(r.coverage.goals);
  return {
    config: { seed: cfg.seed, runs: cfg.runs, seconds: cfg.seconds, steps: cfg.steps, variant: cfg.variant, shard: cfg.shard, out: cfg.out, paranoid: cfg.paranoid, patches: [...cfg.patches], known: cfg.knownFrom },
    knownFindings: r.known.map((k) => ({ id: findingOf(k.signature)?.id ?? '?', signature: k.signature, count: k.count, length: k.length })),
    interrupted,
    replayed,
    runs: r.runs,
    steps: r.steps,
    validSteps: r.validSteps,
    okSteps: r.okSteps,
    validShare: share(r.validSteps, r.steps),
    okShare: share(r.okSteps, r.steps),
    failed: r.failures.length + replayed.filter((x) => x.stillFails && !r.failures.some((f) => f.file === x.file)).length,
    failures: r.failures.map((f) => ({
      seed: f.seed,
      run: f.run,
      invariant: f.invariant,
      message: f.message,
      variant: f.variant,
      length: f.length,
      originalLength: f.originalLength,
      file: f.file,
      replay: f.file === null ? null : replayCommand(f.file),
    })),
    coverage: {
      transitions: r.coverage.transitions,
      errnos: r.coverage.errnos,
      branches: r.coverage.branches,
      goals: {
        reached: goals.filter(([, n]) => n > 0).map(([name, hits]) => ({ name, hits })),
        neverReached: goals.filter(([, n]) => n === 0).map(([name]) => name),
      },
    },
    timing: {
      elapsedMs: r.elapsedMs,
      runsPerSecond: rate(r.runs, r.elapsedMs),
      stepsPerSecond: rate(r.steps, r.elapsedMs),
      shrinkMs: r.failures.map((f) => f.shrinkMs),
    },
  };
}

export function renderJson(doc: FuzzDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Failures listed one by one in the human summary; --json has them all. */
export const MAX_LISTED = 20;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const indent = (s: string, by: string): string => s.replace(/\n/g, `\n${by}`);

/** The one-line description printed before the campaign starts. */
export function headerLine(cfg: FuzzConfig, saved: number): string {
  const budget = [cfg.runs === null ? null : `${cfg.runs} runs`, cfg.seconds === null ? null : `${cfg.seconds} s`].filter((x) => x !== null).join(' or ');
  const shard = cfg.shard.count > 1 ? `, shard ${cfg.shard.index}/${cfg.shard.count}` : '';
  const again = saved > 0 ? `; replaying ${saved} saved failure${saved === 1 ? '' : 's'} first` : '';
  return `memhp fuzz: seed ${cfg.seed}, ${budget} of up to ${cfg.steps} steps, variant ${cfg.variant ?? 'none'}${shard}${cfg.paranoid ? ', paranoid' : ''}; failures saved under ${cfg.out}${again}\n`;
}

/** One coverage line; with `detail` (fuzz --coverage), each missing item under it. */
function coverageLines(name: string, c: CoverageCount, colors: Colors, detail: boolean): string[] {
  const head = `  ${name.padEnd(12)} ${c.reached}/${c.total}`;
  if (c.missing.length === 0) return [`${head} ${colors.green('(all)')}`];
  if (!detail) return [`${head}, ${c.missing.length} missing`];
  return [`${head}, missing:`, ...c.missing.map((m) => `    ${colors.yellow(m)}`)];
}

/**
 * The human summary. Coverage is counts unless `detail` (fuzz --coverage):
 * a short campaign misses dozens of items, and listing them by default buried
 * the verdict under ~90 lines.
 */
export function renderHuman(doc: FuzzDocument, c: Colors, detail = false): string {
  const out: string[] = [];
  if (doc.interrupted) out.push(c.yellow('interrupted (SIGINT): the summary so far; every failure found is saved'));
  if (doc.replayed.length > 0) {
    const failing = doc.replayed.filter((x) => x.stillFails).length;
    out.push(`saved failures replayed: ${doc.replayed.length}, still failing: ${failing}`);
    for (const x of doc.replayed) {
      if (!x.stillFails) out.push(`  ${c.green('passes')}  ${x.file}`);
      else {
        for (const v of x.violations) out.push(`  ${c.red('FAILS')}   ${x.file}: ${v.invariant}: ${indent(v.message, '          ')}`);
        out.push(`          replay: ${c.bold(replayCommand(x.file))}`);
      }
    }
  }
  out.push(
    `runs:     ${doc.runs} (${doc.timing.runsPerSecond} runs/s, ${(doc.timing.elapsedMs / 1000).toFixed(1)} s)`,
    `steps:    ${doc.steps} (${doc.timing.stepsPerSecond} steps/s); valid ${doc.validSteps} (${pct(doc.validShare)}), succeeded ${doc.okSteps} (${pct(doc.okShare)})`,
    `failures: ${doc.failures.length === 0 ? c.green('0') : c.red(String(doc.failures.length))}`,
  );
  doc.failures.slice(0, MAX_LISTED).forEach((f, i) => {
    out.push(
      `  ${i + 1}. ${c.red(f.invariant)}: ${indent(f.message, '     ')}`,
      `     seed ${f.seed} (run ${f.run}), variant ${f.variant ?? 'none'}`,
      `     shrunk to ${f.length} events from ${f.originalLength} in ${doc.timing.shrinkMs[i] ?? 0} ms`,
    );
    if (f.file !== null && f.replay !== null) out.push(`     saved: ${f.file}`, `     replay: ${c.bold(f.replay)}`);
  });
  if (doc.knownFindings.length > 0) {
    out.push(`known findings met (not failures; SPEC §11, --known ${doc.config.known}):`);
    for (const k of doc.knownFindings) out.push(`  ${k.id} ${k.signature}: ${k.count} time${k.count === 1 ? '' : 's'}, shortest log ${k.length} events`);
  }
  const more = doc.failures.length - MAX_LISTED;
  if (more > 0) out.push(`  ... and ${more} more (every one is saved under ${doc.config.out}; --json lists them all)`);
  const g = doc.coverage.goals;
  out.push(
    detail ? 'coverage:' : 'coverage (--coverage lists what is missing):',
    ...coverageLines('transitions', doc.coverage.transitions, c, detail),
    ...coverageLines('errnos', doc.coverage.errnos, c, detail),
    ...coverageLines('branches', doc.coverage.branches, c, detail),
    `  ${'goals'.padEnd(12)} ${g.reached.length}/${g.reached.length + g.neverReached.length} reached`,
    ...(detail ? g.reached.map((x) => `    ${c.green('reached')}        ${x.name} (${x.hits})`) : []),
    ...(detail ? g.neverReached.map((n) => `    ${c.yellow('never reached')}  ${n}`) : []),
  );
  const verdict = doc.failed === 0 ? c.green('OK: no failures') : c.red(`FAILED: ${doc.failed} failure${doc.failed === 1 ? '' : 's'}`);
  out.push(doc.interrupted ? `${verdict} ${c.yellow('(interrupted)')}` : verdict);
  return `${out.join('\n')}\n`;
}
