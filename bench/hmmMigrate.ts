/**
 * hmm-migrate (issue 12, item 8): migration of anonymous pages to test_hmm's
 * device-private memory and back, with every invariant after every step, on
 * hmm-dmirror's machine (bench/hmm.ts).
 *
 * Setup (checked, not timed): a buffer of `pages` anonymous pages, each
 * written once by the CPU (one word, at a place and with a value of its
 * own), so that every page migrates with data. Then, timed phase by phase:
 *  - to-dev: HMM_DMIRROR_MIGRATE_TO_DEV over the buffer front to back, 512
 *    pages a command (hmm-tests' 2 MiB), each copying its range to a
 *    512-page `ptr` buffer (dmirror_do_read). The pages are all on the
 *    device at once, so 10^5 of them take a second 256 MiB chunk (65,536
 *    pages) from dmirror_devmem_alloc_page, as on the kernel;
 *  - faults: CPU reads at `faults` random pages: the first read of a page
 *    still on the device faults it back (do_swap_page → migrate_to_ram),
 *    and every read must return the word setup wrote;
 *  - to-sys: HMM_DMIRROR_MIGRATE_TO_SYS over the same ranges, moving the
 *    rest back: each command's cpages must be the pages the faults left.
 * The device ends with no allocated page.
 */
import { makeChecker } from '../properties/invariants/index.js';
import { checkAll } from '../properties/sequence.js';
import type { StepEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, type Checker, type Step } from '../src/replay/engine.js';
import { hmmMachine } from './hmm.js';
import { gc, stats, type Stats } from './measure.js';
import { Lcg } from './workloads.js';

const K4 = 4096n;
/** Pages per MIGRATE command: hmm-tests' migrate tests move 2 MiB at a time. */
const RANGE = 512;

export interface PhaseFigures {
  readonly events: number;
  /** Pages the phase moved between system and device memory. */
  readonly pages: number;
  readonly ms: Stats;
}

export interface HmmMigrateFigures {
  /** Pages of the buffer, each migrated to the device once. */
  readonly pages: number;
  readonly toDev: PhaseFigures;
  readonly faults: PhaseFigures;
  readonly toSys: PhaseFigures;
  /** The three phases together (per run, the sum of its phases). */
  readonly total: PhaseFigures;
  /** Heap and array buffers with every page on the device, over the heap before the workload's first run (the model's state, mostly). */
  readonly peakStateBytes: Stats;
  /** Chunks of hmm_dmirror0 at the end (2 for 10^5 pages). */
  readonly chunks: number;
  /** Device pages still allocated at the end (0: everything came back). */
  readonly devicePagesLeft: number;
  /** Failed commands, cpages other than expected, and CPU reads that did not return the word setup wrote. */
  readonly mismatches: number;
  readonly violations: number;
}

interface Run {
  readonly ms: { readonly toDev: number; readonly faults: number; readonly toSys: number };
  readonly counts: { readonly toDev: number; readonly faults: number; readonly faulted: number; readonly toSys: number; readonly moved: number };
  readonly stateBytes: number;
  readonly chunks: number;
  readonly devicePagesLeft: number;
  readonly mismatches: number;
  readonly violations: number;
}

/** Where page `i` holds its word, and the word: both vary with the page, so a page copied to the wrong place shows. */
const wordOffset = (i: number): bigint => BigInt(i) * K4 + BigInt((i * 8) % 4096);
const wordValue = (i: number): bigint => 0x5a5a_0000_0000n + BigInt(i);

function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function since(t: bigint): number {
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** One run; `base` is the heap before the workload's first run (the heap at a run's start may still hold the last run's state). */
function migrateOnce(check: Checker, pages: number, faults: number, base: number): Run {
  let step: Step = applyBoot(hmmMachine());
  let i = 1;
  let violations = 0;
  let mismatches = 0;
  const apply = (e: StepEvent): Step => {
    step = applyEvent(step.after, e, i++);
    violations += check(step).length;
    return step;
  };
  apply({ type: 'open', pid: 'p1', fd: 'f1', path: '/dev/hmm_dmirror0', mode: 'rdwr', sync: false });
  apply({ type: 'mmap', pid: 'p1', map: 'm1', fd: null, length: BigInt(pages) * K4, offset: 0n, prot: 'rw', flags: ['private'], addr: null });
  apply({ type: 'mmap', pid: 'p1', map: 'b1', fd: null, length: BigInt(RANGE) * K4, offset: 0n, prot: 'rw', flags: ['private'], addr: null });
  for (let p = 0; p < pages; p++) apply({ type: 'access', pid: 'p1', map: 'm1', offset: wordOffset(p), op: 'write', value: wordValue(p) });
  const migrate = (cmd: 'HMM_DMIRROR_MIGRATE_TO_DEV' | 'HMM_DMIRROR_MIGRATE_TO_SYS', at: number, n: number): StepEvent => ({
    type: 'ioctl',
    pid: 'p1',
    fd: 'f1',
    cmd,
    args: { addr: { map: 'm1', offset: BigInt(at) * K4 }, npages: BigInt(n), ptr: { map: 'b1', offset: 0n } },
  });
  // Which pages are on the device, as the workload expects it.
  const onDevice = new Uint8Array(pages);

  // Each phase starts on a collected heap, so one phase's garbage is not charged to the next.
  gc();
  let t = process.hrtime.bigint();
  let toDev = 0;
  for (let at = 0; at < pages; at += RANGE) {
    const n = Math.min(RANGE, pages - at);
    const o = apply(migrate('HMM_DMIRROR_MIGRATE_TO_DEV', at, n)).outcome;
    // dmirror_migrate_to_device reads the range back through the device page table: cpages = npages or an error.
    if (!o.ok || o.out?.['cpages'] !== n) mismatches++;
    onDevice.fill(1, at, at + n);
    toDev++;
  }
  const msToDev = since(t);
  gc();
  const stateBytes = heap() - base;

  const rnd = new Lcg(8);
  let faulted = 0;
  t = process.hrtime.bigint();
  for (let k = 0; k < faults; k++) {
    const p = rnd.below(pages);
    const o = apply({ type: 'access', pid: 'p1', map: 'm1', offset: wordOffset(p), op: 'read', value: null }).outcome;
    if (!o.ok || o.value !== `0x${wordValue(p).toString(16)}`) mismatches++;
    if (onDevice[p] === 1) {
      onDevice[p] = 0;
      faulted++;
    }
  }
  const msFaults = since(t);
  gc();

  t = process.hrtime.bigint();
  let toSys = 0;
  let moved = 0;
  for (let at = 0; at < pages; at += RANGE) {
    const n = Math.min(RANGE, pages - at);
    const o = apply(migrate('HMM_DMIRROR_MIGRATE_TO_SYS', at, n)).outcome;
    const cpages = o.ok ? (o.out?.['cpages'] ?? -1) : -1;
    let left = 0;
    for (let p = at; p < at + n; p++) left += onDevice[p] as number;
    if (cpages !== left) mismatches++;
    moved += Math.max(cpages, 0);
    toSys++;
  }
  const msToSys = since(t);

  const h = step.after.hmm;
  return {
    ms: { toDev: msToDev, faults: msFaults, toSys: msToSys },
    counts: { toDev, faults, faulted, toSys, moved },
    stateBytes,
    chunks: h.devices[0]?.chunks.length ?? 0,
    devicePagesLeft: h.pages.size,
    mismatches,
    violations,
  };
}

/** A warm-up at a tenth of the size, then `runs` runs of `pages` pages with `faults` CPU reads. */
export function hmmMigrate(pages: number, faults: number, runs: number): HmmMigrateFigures {
  const check = checkAll(makeChecker());
  gc();
  const base = heap();
  migrateOnce(check, Math.max(RANGE, Math.floor(pages / 10)), Math.floor(faults / 10), base);
  const xs: Run[] = [];
  for (let r = 0; r < runs; r++) {
    gc();
    xs.push(migrateOnce(check, pages, faults, base));
  }
  const last = xs[xs.length - 1];
  if (last === undefined) throw new Error('hmm-migrate: no run');
  const c = last.counts;
  const phase = (events: number, moved: number, ms: (x: Run) => number): PhaseFigures => ({ events, pages: moved, ms: stats(xs.map(ms)) });
  return {
    pages,
    toDev: phase(c.toDev, pages, (x) => x.ms.toDev),
    faults: phase(c.faults, c.faulted, (x) => x.ms.faults),
    toSys: phase(c.toSys, c.moved, (x) => x.ms.toSys),
    total: phase(c.toDev + c.faults + c.toSys, pages + c.faulted + c.moved, (x) => x.ms.toDev + x.ms.faults + x.ms.toSys),
    peakStateBytes: stats(xs.map((x) => x.stateBytes)),
    chunks: last.chunks,
    devicePagesLeft: last.devicePagesLeft,
    // Every run is the same sequence: any run's miss counts.
    mismatches: xs.reduce((a, x) => a + x.mismatches, 0),
    violations: xs.reduce((a, x) => a + x.violations, 0),
  };
}
