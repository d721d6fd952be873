/**
 * Time to detect bug variants (SPEC §6, issue 12 item 6): for each variant
 * named on the command line (all when none), a fuzz campaign per seed
 * 1..N (default 9; env N) of up to 3000 runs of 30 steps stopping at the
 * first failure, as `memhp fuzz --variant V --seed S` runs them; prints the
 * seeds that found it, the median number of runs and of milliseconds to
 * the first failure (campaign time less shrinking), the median shrunk
 * length and the invariants that caught it.
 *
 *   npx tsx bench/variantDetect.ts hmm-fork-keeps-write hmm-zap-skips-put
 */
import { runCampaign } from '../properties/campaign.js';
import { VARIANT_NAMES, type VariantName } from '../src/kernel/profile.js';

const N = Number(process.env['N'] ?? 9);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const asked = process.argv.slice(2);
const bad = asked.filter((v) => !(VARIANT_NAMES as readonly string[]).includes(v));
if (bad.length > 0) {
  process.stderr.write(`variantDetect: unknown variant ${bad.join(', ')} (expected one of ${VARIANT_NAMES.join(', ')})\n`);
  process.exit(2);
}
for (const v of (asked.length > 0 ? asked : VARIANT_NAMES) as VariantName[]) {
  const runs: number[] = [];
  const ms: number[] = [];
  const lengths: number[] = [];
  const caught = new Set<string>();
  for (let seed = 1; seed <= N; seed++) {
    const r = runCampaign({ seed, runs: 3000, steps: 30, variant: v, outDir: null, stopAtFirst: true });
    const f = r.failures[0];
    if (f === undefined) continue;
    runs.push(f.run + 1);
    ms.push(r.elapsedMs - f.shrinkMs);
    lengths.push(f.length);
    caught.add(f.invariant);
  }
  process.stdout.write(`${v}: found on ${runs.length}/${N} seeds; median ${median(runs)} runs, ${median(ms)} ms to the first failure; shrunk to a median ${median(lengths)} events; caught by ${[...caught].join(', ') || 'nothing'}\n`);
}
