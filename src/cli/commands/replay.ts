/**
 * `memhp replay LOG` and bare `memhp` (the embedded default machine): apply a
 * log, print each event with its outcome, then the views; or, with --json,
 * the one document of SPEC §4.
 */
import type { Command } from 'commander';
import { VIEW_NAMES, VIEW_TITLES, renderView, type ViewName } from '../../views/index.js';
import { EXIT, UsageError, fail, type CliCommand, type CliContext } from '../context.js';
import { formatStep, stepSeq, summaryCounts } from '../human.js';
import { renderReplayDocument, stepJson } from '../jsonDoc.js';
import { parseSeq, parseViews } from '../options.js';
import { DEFAULT_MACHINE, logSource, replayStream, type LogSource } from '../source.js';

interface ReplayFlags {
  readonly until?: number;
  readonly show?: ViewName[];
  readonly json?: boolean;
}

/** Replay `source` and report it; sets the exit status (1 on any violation or divergence). */
export async function runReplay(ctx: CliContext, source: LogSource, flags: ReplayFlags, defaultViews: readonly ViewName[]): Promise<void> {
  const c = ctx.color;
  const json = flags.json === true;
  const views = flags.show ?? defaultViews;
  // With --json only the serialised events are kept (not the steps); without it, nothing is.
  const events: string[] = [];
  let lastSeq = 0;
  const r = await replayStream(source, {
    check: ctx.check,
    until: flags.until,
    onStep: (step, violations, divergence) => {
      lastSeq = stepSeq(step);
      if (json) {
        if (step.event.type !== 'boot') events.push(JSON.stringify(stepJson(step)));
      } else ctx.io.stdout(formatStep(step, violations, divergence, c));
    },
  });
  // An --until the log never reaches is most likely a typo or the wrong log: say so (the replay itself is complete).
  if (flags.until !== undefined && !r.stopped)
    ctx.io.stderr(`${ctx.errColor.yellow(`memhp: note: --until ${flags.until}: the log ends at seq ${lastSeq}, before it; every event was applied`)}\n`);
  const state = r.current;
  if (json) {
    // Views join the document only when asked for (--show, or bare memhp which shows them all).
    const asked = flags.show ?? (defaultViews.length > 0 ? defaultViews : undefined);
    ctx.io.stdout(renderReplayDocument({ events, state, violations: r.violations, divergences: r.divergences, views: asked }));
  } else {
    for (const v of views) ctx.io.stdout(`\n${c.bold(`== ${VIEW_TITLES[v]} ==`)}\n${renderView(v, state)}`);
    const bad = r.violations.length + r.divergences.length > 0;
    const line = summaryCounts(r.eventCount, r.violations.length, r.divergences.length);
    ctx.io.stdout(`\n${bad ? c.red(line) : line}\n`);
  }
  if (r.violations.length + r.divergences.length > 0) fail(ctx, EXIT.failed);
}

function addViewOptions(cmd: Command): Command {
  return cmd
    .option('--show <views>', `views to print after the events: ${VIEW_NAMES.join(',')} or none`, parseViews)
    .option('--json', 'print one JSON document (events, state, violations, divergences)');
}

export const replayCommand: CliCommand = {
  name: 'replay',
  register(program, ctx) {
    addViewOptions(
      program
        .command('replay')
        .description('apply an event log: each event as the shell command it stands for, its outcome, then the views')
        .argument('<LOG>', 'event log (JSON Lines); - reads standard input')
        .option('--until <SEQ>', 'stop after the event with this seq', parseSeq),
    ).action(async (log: string, flags: ReplayFlags) => {
      await runReplay(ctx, logSource(log, ctx), flags, []);
    });
  },
};

/** Bare `memhp`: the default machine through the kmem walkthrough, every view. */
export const defaultCommand: CliCommand = {
  name: '(default)',
  register(program, ctx) {
    addViewOptions(program).action(async (flags: ReplayFlags, cmd: Command) => {
      const stray = cmd.args[0];
      if (stray !== undefined) {
        const known = program.commands.map((c) => c.name()).join(', ');
        throw new UsageError(`unknown command "${stray}" (commands: ${known}; memhp --help for usage)`);
      }
      await runReplay(ctx, DEFAULT_MACHINE, flags, VIEW_NAMES);
    });
  },
};
