/** `memhp check LOG`: replay with every invariant checked; report only violations and divergences. */
import { EXIT, fail, type CliCommand } from '../context.js';
import { formatDivergence, formatViolation, summaryCounts } from '../human.js';
import { renderCheckDocument } from '../jsonDoc.js';
import { logSource, replayStream } from '../source.js';

export const checkCommand: CliCommand = {
  name: 'check',
  register(program, ctx) {
    program
      .command('check')
      .description('replay a log checking every invariant after every step; report only violations and divergences')
      .argument('<LOG>', 'event log (JSON Lines); - reads standard input')
      .option('--json', 'print one JSON document (checked, violations, divergences)')
      .action(async (log: string, flags: { json?: boolean }) => {
        const r = await replayStream(logSource(log, ctx), { check: ctx.check });
        const bad = r.violations.length + r.divergences.length > 0;
        if (flags.json === true) ctx.io.stdout(renderCheckDocument(r.eventCount, r.violations, r.divergences));
        else {
          const c = ctx.color;
          // In log order: a divergence before the violations of the same step, as replay prints them.
          const lines = [
            ...r.divergences.map((d) => ({ at: d.index, order: 0, text: formatDivergence(d, c) })),
            ...r.violations.map((v) => ({ at: v.index, order: 1, text: formatViolation(v, c) })),
          ].sort((a, b) => a.at - b.at || a.order - b.order);
          for (const l of lines) ctx.io.stdout(`${l.text}\n`);
          const counts = summaryCounts(r.eventCount, r.violations.length, r.divergences.length);
          ctx.io.stdout(bad ? `${c.red(`FAILED: ${counts}`)}\n` : `${c.green('OK')}: ${counts}\n`);
        }
        if (bad) fail(ctx, EXIT.failed);
      });
  },
};
