/**
 * Progress of a campaign on standard error: a bar on a terminal (runs,
 * steps/s, violations, coverage), a plain line every few seconds otherwise
 * (CI logs), nothing with --json or --progress none.
 */
import cliProgress from 'cli-progress';
import type { CampaignProgress } from '../../../properties/campaign.js';
import type { CliContext } from '../context.js';
import type { FuzzConfig, ProgressMode } from './options.js';

export interface Progress {
  /** How often the campaign should call update. */
  readonly everyMs: number;
  update(p: CampaignProgress): void;
  /** Take the bar off the screen before the summary. */
  stop(): void;
}

export const PLAIN_EVERY_MS = 2000;
const BAR_EVERY_MS = 100;

const count = (c: { reached: number; total: number }): string => `${c.reached}/${c.total}`;
const perSecond = (n: number, ms: number): number => (ms <= 0 ? 0 : Math.round((n * 1000) / ms));

/** Where the bar would go: standard error, when it is a terminal. */
export function resolveMode(mode: ProgressMode): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return process.stderr.isTTY === true && process.env['CI'] === undefined ? 'bar' : 'plain';
}

export function plainLine(cfg: FuzzConfig, p: CampaignProgress): string {
  const runs = cfg.runs === null ? `${p.runs} runs` : `${p.runs}/${cfg.runs} runs`;
  const time = cfg.seconds === null ? `${(p.elapsedMs / 1000).toFixed(1)} s` : `${(p.elapsedMs / 1000).toFixed(1)}/${cfg.seconds} s`;
  const cov = `transitions ${count(p.coverage.transitions)}, errnos ${count(p.coverage.errnos)}, branches ${count(p.coverage.branches)}`;
  return `fuzz: ${runs}, ${p.steps} steps (${perSecond(p.steps, p.elapsedMs)} steps/s), ${p.failures} violations, ${cov}, ${time}\n`;
}

function barProgress(cfg: FuzzConfig, ctx: CliContext): Progress {
  const c = ctx.errColor;
  // With a run budget the bar counts runs; with --seconds alone, seconds.
  const byRuns = cfg.runs !== null;
  const total = byRuns ? (cfg.runs ?? 0) : Math.ceil(cfg.seconds ?? 0);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `fuzz {bar} {value}/{total} ${byRuns ? 'runs' : 's'} | {runs} runs, {sps} steps/s | {violations} | transitions {tr} errnos {er} branches {br} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = (p: CampaignProgress | null) => ({
    runs: p?.runs ?? 0,
    sps: p === null ? 0 : perSecond(p.steps, p.elapsedMs),
    violations: p === null || p.failures === 0 ? '0 violations' : c.red(`${p.failures} violations`),
    tr: p === null ? '-' : count(p.coverage.transitions),
    er: p === null ? '-' : count(p.coverage.errnos),
    br: p === null ? '-' : count(p.coverage.branches),
  });
  bar.start(total, 0, payload(null));
  return {
    everyMs: BAR_EVERY_MS,
    update: (p) => bar.update(Math.min(total, byRuns ? p.runs : Math.floor(p.elapsedMs / 1000)), payload(p)),
    stop: () => bar.stop(),
  };
}

export function makeProgress(cfg: FuzzConfig, ctx: CliContext): Progress {
  const mode = resolveMode(cfg.progress);
  if (mode === 'bar') return barProgress(cfg, ctx);
  if (mode === 'plain') return { everyMs: PLAIN_EVERY_MS, update: (p) => ctx.io.stderr(plainLine(cfg, p)), stop: () => undefined };
  return { everyMs: 60_000, update: () => undefined, stop: () => undefined };
}
