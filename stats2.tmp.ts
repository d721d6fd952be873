import { runCampaign } from './properties/campaign.js';
import { KNOWN_FINDINGS } from './properties/findings.js';
for (const seed of [20261121, 20261204, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) {
  const r = runCampaign({ seed, runs: 4000, steps: 40, variant: null, outDir: null });
  const seen = r.known.map((k) => k.signature);
  const missF = KNOWN_FINDINGS.filter((f) => !f.signatures.some((s) => seen.includes(s))).map((f) => f.id);
  console.log(seed, r.coverage.branches.missing.includes('dev_dax_kmem_remove:NULL-res'), missF, r.coverage.errnos.missing, r.coverage.transitions.missing.length, r.failures.map((f) => f.invariant + ' ' + f.message.slice(0, 100)));
}
