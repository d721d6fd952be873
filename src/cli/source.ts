/**
 * Streaming a log through the replay engine: one event at a time from the
 * reader, nothing kept but what the caller keeps in onStep (the engine keeps
 * the violations, the divergences and the current state).
 */
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { readLogBatches } from '../log/index.js';
import { Replayer, type Checker, type Divergence, type Step, type Violation } from '../replay/engine.js';
import { UsageError, type CliContext } from './context.js';

/** A log to replay: a path or a stream, and the name messages use. */
export interface LogSource {
  readonly input: string | Readable;
  readonly label: string;
}

/** The package root, found from this file (src/cli/) rather than the working directory. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The embedded default machine (SPEC §4, bare `memhp`): the seed's QEMU set-up and the kmem walkthrough. */
export const DEFAULT_MACHINE: LogSource = {
  input: fileURLToPath(new URL('../../examples/qemu-pmem-kmem.jsonl', import.meta.url)),
  label: 'examples/qemu-pmem-kmem.jsonl',
};

/** The source a LOG argument names; "-" is standard input. */
export function logSource(arg: string, ctx: CliContext): LogSource {
  if (arg === '-') {
    if (ctx.stdin === undefined) throw new UsageError('"-" (standard input) is not available here');
    return { input: ctx.stdin, label: '<stdin>' };
  }
  return { input: arg, label: arg };
}

export interface StreamOptions {
  readonly check: Checker | undefined;
  readonly until?: number | undefined;
  readonly onStep?: (step: Step, violations: readonly Violation[], divergence: Divergence | null) => void;
}

/**
 * Replay a log as it is read. Throws LogError for bad input (the events
 * before it have been applied and reported through onStep).
 */
export async function replayStream(source: LogSource, opts: StreamOptions): Promise<Replayer> {
  const r = new Replayer({
    keepSteps: false,
    ...(opts.check !== undefined ? { check: opts.check } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.onStep !== undefined ? { onStep: opts.onStep } : {}),
  });
  // Batches (a chunk of the file at a time): one await per chunk, not per event.
  outer: for await (const batch of readLogBatches(source.input, source.label)) {
    for (const { event } of batch) {
      r.feed(event);
      // Stop reading too: what follows --until is neither applied nor reported.
      if (r.stopped) break outer;
    }
  }
  return r;
}
