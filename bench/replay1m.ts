/**
 * replay-1m: a 1,000,000-event log on 4 TiB of CXL memory in 128 MiB blocks
 * (32,768 blocks): kmem bind, online/offline churn across all blocks, reads
 * of /proc/iomem, /proc/meminfo and block files. Replayed from the file
 * through the streaming reader, with and without every invariant, against
 * the parse floor of the same file (the same line reader plus JSON.parse).
 */
import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { makeChecker } from '../properties/invariants/index.js';
import { readLines, readLogBatches } from '../src/log/index.js';
import { Replayer } from '../src/replay/engine.js';
import { fmt, gc, stats, type Stats } from './measure.js';
import { replayLogText, WORKLOADS_VERSION } from './workloads.js';

export interface ReplayFigures {
  readonly events: number;
  readonly floor: Stats;
  readonly plain: Stats;
  readonly checked: Stats;
  readonly violations: number;
}

/** The parse floor: the reader's own line splitter (src/log/lines.ts) and JSON.parse of every line. */
async function parseFloor(file: string): Promise<number> {
  let n = 0;
  for await (const lines of readLines(createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 }))) {
    for (const line of lines) {
      if (line.length > 0 && !line.startsWith('//')) {
        JSON.parse(line);
        n++;
      }
    }
  }
  return n;
}

/** Replay `file` whole (with every invariant when `check`); its violation count. */
export async function replayFile(file: string, check: boolean): Promise<number> {
  const r = new Replayer({ keepSteps: false, ...(check ? { check: makeChecker() } : {}) });
  for await (const batch of readLogBatches(file)) for (const { event } of batch) r.feed(event);
  return r.violations.length;
}

/** replay-1m's log of `events` events, written once into .cache/bench. */
export function replay1mFile(events: number): string {
  mkdirSync('.cache/bench', { recursive: true });
  const file = `.cache/bench/replay-v${WORKLOADS_VERSION}-${events}.jsonl`;
  if (!existsSync(file)) writeFileSync(file, replayLogText(events));
  return file;
}

export async function replay1m(events: number, runs: number, log: (s: string) => void): Promise<ReplayFigures> {
  const file = replay1mFile(events);
  // Warm-up, then the three measurements interleaved in each repetition, so a change in the machine's load
  // during the run falls on all three alike and the ratios stay comparable.
  await parseFloor(file);
  await replayFile(file, false);
  await replayFile(file, true);
  const xs: { floor: number[]; plain: number[]; checked: number[] } = { floor: [], plain: [], checked: [] };
  let violations = 0;
  for (let i = 0; i < runs; i++) {
    xs.floor.push(await time1(() => parseFloor(file)));
    xs.plain.push(await time1(() => replayFile(file, false)));
    xs.checked.push(
      await time1(async () => {
        violations = await replayFile(file, true);
      }),
    );
  }
  const floor = stats(xs.floor);
  const plain = stats(xs.plain);
  const checked = stats(xs.checked);
  log(`  parse floor: ${fmt(floor)}`);
  log(`  replay, no invariants: ${fmt(plain)}`);
  log(`  replay, every invariant: ${fmt(checked)}`);
  return { events, floor, plain, checked, violations };
}

/** One timed run, started on a collected heap so one measurement's garbage is not charged to the next. */
async function time1(f: () => Promise<unknown>): Promise<number> {
  gc();
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
