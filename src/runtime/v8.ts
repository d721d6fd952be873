/**
 * V8 settings for long replays and campaigns, applied by the CLI and the
 * benchmarks before any model code runs.
 *
 * Allocation-site pretenuring: V8 samples whether the objects an allocation
 * site makes survive young-generation GCs and, if most do, allocates that
 * site's objects straight into the old generation. The model's trie path
 * copies and state records live exactly one step, but while a state is
 * current they survive a scavenge or two; in about one process in three
 * (Node 20, replay-1m) V8 pretenures them, after which mark-compact GC takes
 * ~46 % of the time and the replay runs 1.5-2x slower. Without pretenuring
 * six runs out of six stayed fast. Output is unaffected: this only moves
 * where objects are allocated.
 */
import v8 from 'node:v8';

export function tuneV8(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}
