/**
 * `memhp fuzz`: random machines and event sequences with every invariant and
 * must-succeed property checked after every step (SPEC §4). Saved failures
 * under --out are replayed first; each new failure is shrunk and saved there
 * as a replayable log the moment it is found. Exit 0 clean, 1 any failure
 * (new, or saved and still failing), 2 bad usage; on SIGINT the campaign
 * stops after the current run and prints the summary so far (exit 130, or 1
 * with failures). A second SIGINT quits at once (nothing found is lost).
 */
import { existsSync, readdirSync } from 'node:fs';
import { writeFileAtomic } from '../../util/atomicWrite.js';
import { runCampaignAsync, type CampaignResult } from '../../../properties/campaign.js';
import { VARIANT_NAMES } from '../../kernel/profile.js';
import { EXIT, fail, type CliCommand, type CliContext } from '../context.js';
import { junitXml } from '../fuzz/junit.js';
import {
  DEFAULT_OUT,
  DEFAULT_RUNS,
  DEFAULT_SEED,
  DEFAULT_STEPS,
  MAX_STEPS,
  PROGRESS_MODES,
  fuzzConfig,
  parseProgress,
  parseRuns,
  parseSeconds,
  parseSeed,
  parseShard,
  parseSteps,
  parseVariant,
  parsePatches,
  type FuzzConfig,
  type FuzzFlags,
} from '../fuzz/options.js';
import { makeProgress } from '../fuzz/progress.js';
import { fuzzDocument, headerLine, renderHuman, renderJson } from '../fuzz/report.js';

/** 128 + SIGINT, as a shell reports a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

function savedCount(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length : 0;
}

/** Run the campaign `cfg` describes and report it; `stop` (SIGINT) ends it after the current run. */
export async function runFuzz(ctx: CliContext, cfg: FuzzConfig, stop: AbortSignal): Promise<CampaignResult> {
  if (!cfg.json) ctx.io.stdout(headerLine(cfg, savedCount(cfg.out)));
  const progress = makeProgress(cfg, ctx);
  let result: CampaignResult;
  try {
    result = await runCampaignAsync({
      seed: cfg.seed,
      ...(cfg.runs === null ? {} : { runs: cfg.runs }),
      ...(cfg.seconds === null ? {} : { seconds: cfg.seconds }),
      steps: cfg.steps,
      variant: cfg.variant,
      outDir: cfg.out,
      shard: cfg.shard,
      paranoid: cfg.paranoid,
      patches: cfg.patches,
      known: cfg.known,
      onProgress: (p) => progress.update(p),
      progressEveryMs: progress.everyMs,
      shouldStop: () => stop.aborted,
    });
  } finally {
    progress.stop();
  }
  const doc = fuzzDocument(cfg, result, stop.aborted);
  if (cfg.junit !== null) {
    try {
      writeFileAtomic(
        cfg.junit,
        junitXml(
          doc,
          result.failures.map((f) => f.log),
          new Date(),
        ),
      );
    } catch (e) {
      ctx.io.stderr(`${ctx.errColor.red(`memhp: --junit ${cfg.junit}: cannot write the report: ${e instanceof Error ? e.message : String(e)}`)}\n`);
      fail(ctx, EXIT.usage);
    }
  }
  ctx.io.stdout(cfg.json ? renderJson(doc) : renderHuman(doc, ctx.color, cfg.coverage));
  if (doc.failed > 0) fail(ctx, EXIT.failed);
  else if (doc.interrupted) fail(ctx, EXIT_INTERRUPTED);
  return result;
}

/** Comma-separated words in lines of at most `width` characters. */
function wrap(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, w] of words.entries()) {
    const word = i < words.length - 1 ? `${w},` : w;
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** An AbortSignal raised by the first SIGINT while `body` runs; the handler is removed after. */
async function withSigint<T>(ctx: CliContext, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = (): void => {
    ctx.io.stderr('\nmemhp fuzz: interrupted; finishing the current run (Ctrl-C again to quit now; failures are already saved)\n');
    ac.abort();
  };
  // once: with the listener gone, a second SIGINT takes Node's default action and ends the process.
  process.once('SIGINT', onSigint);
  try {
    return await body(ac.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

export const fuzzCommand: CliCommand = {
  name: 'fuzz',
  register(program, ctx) {
    program
      .command('fuzz')
      .description(
        'random machines and event sequences, every invariant and must-succeed property checked after every step; failures are shrunk and saved as replayable logs under --out, and saved failures are replayed first',
      )
      .option('--seconds <N>', 'run for N seconds (with --runs too: stop at whichever limit comes first)', parseSeconds)
      .option('--runs <N>', `run N generated sequences (of this shard; default ${DEFAULT_RUNS} when --seconds is not given)`, parseRuns)
      .option('--seed <S>', `campaign seed, 32-bit (default ${DEFAULT_SEED}); run k uses a seed mixed from S and k`, parseSeed)
      .option('--steps <N>', `most steps per sequence, 1 to ${MAX_STEPS} (default ${DEFAULT_STEPS})`, parseSteps)
      .option('--variant <NAME>', 'model a bug variant (SPEC §6), or none (default)', parseVariant)
      .option('--patches <LIST>', 'apply these patch series (SPEC §11, comma-separated) to every generated machine', parsePatches)
      .option('--known <FILE>', 'known findings not to fail on: a JSON list of signatures, or none (default: the project\'s list, properties/findings.ts)')
      .option('--out <DIR>', `where failures are saved and replayed from (default ${DEFAULT_OUT})`)
      .option('--json', 'print one JSON document (config, replayed, counts, failures, coverage; clock-dependent values under "timing")')
      .option('--shard <I/N>', 'run shard I of N (0 <= I < N): run numbers I, I+N, I+2N, ... so N machines split the seed space', parseShard)
      .option('--junit <FILE>', 'also write a JUnit XML report to FILE')
      .option('--paranoid', 're-check every invariant on the whole state after every step (slower)')
      .option('--progress <MODE>', `progress on standard error: ${PROGRESS_MODES.join(', ')} (auto: a bar on a terminal, plain lines otherwise)`, parseProgress)
      .option('--coverage', 'list every missing transition, errno, branch and goal in the summary (default: counts only; --json always has them)')
      .addHelpText(
        'after',
        [
          '',
          'Variants (--variant NAME, SPEC §6):',
          ...wrap(['none', ...VARIANT_NAMES], 78).map((l) => `  ${l}`),
          '',
          'Exit status:',
          '  0    no failures',
          '  1    a failure: a new one (shrunk and saved under --out), or a saved one that still fails',
          '  2    bad usage, or a saved failure under --out that is not a valid log',
          '  70   an internal error (a bug in memhp)',
          `  ${EXIT_INTERRUPTED}  interrupted by SIGINT before the budget was spent (1 if failures were found)`,
          '',
          'Signals: SIGINT (Ctrl-C) finishes the current run and prints the summary; a second one quits at',
          'once. Failures are saved when found, so SIGTERM or SIGKILL lose nothing already found. Under',
          '`npx memhp` npm passes a signal only to the `sh -c` it runs memhp in, which holds SIGINT until',
          'memhp exits: signal the process group (kill -INT -PGID, as Ctrl-C does) or run',
          'node_modules/.bin/memhp directly. A SIGTERM to npx stops memhp (it sees its shell go).',
        ].join('\n'),
      )
      .action(async (flags: FuzzFlags) => {
        const cfg = fuzzConfig(flags);
        await withSigint(ctx, (signal) => runFuzz(ctx, cfg, signal));
      });
  },
};
