/**
 * scale: 64 TiB of hot-added memory (524,288 blocks of 128 MiB): boot, kmem
 * bind, online every block, every invariant after every step; wall time,
 * peak heap and bytes of model state per block.
 *
 * invariant-cost: the time per step of the whole invariant registry at 10,
 * 1,000, 100,000 and 500,000 blocks, on online/offline churn.
 */
import { makeChecker } from '../properties/invariants/index.js';
import type { KernelState } from '../src/kernel/state.js';
import type { StepEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, Replayer, type Step } from '../src/replay/engine.js';
import { gc, stats, type Stats } from './measure.js';
import { cxlMachine, Lcg } from './workloads.js';

const MEM = '/sys/devices/system/memory';
const FIRST_BLOCK = 128; // 16 GiB / 128 MiB

export interface ScaleRun {
  readonly blocks: number;
  readonly wallMs: number;
  readonly peakHeapBytes: number;
  readonly stateBytes: number;
  readonly bytesPerBlock: number;
  readonly violations: number;
}

export interface ScaleFigures {
  readonly blocks: number;
  readonly wallMs: Stats;
  readonly peakHeapBytes: Stats;
  readonly bytesPerBlock: Stats;
  readonly violations: number;
}

/** A warm-up on a machine 1/16 the size, then `runs` runs at `tib`, each on a collected heap. */
export function scale(tib: bigint, runs: number): ScaleFigures {
  scaleOnce(tib / 16n > 0n ? tib / 16n : 1n);
  const xs: ScaleRun[] = [];
  for (let i = 0; i < runs; i++) xs.push(scaleOnce(tib));
  return {
    blocks: xs[0]?.blocks ?? 0,
    wallMs: stats(xs.map((x) => x.wallMs)),
    peakHeapBytes: stats(xs.map((x) => x.peakHeapBytes)),
    bytesPerBlock: stats(xs.map((x) => x.bytesPerBlock)),
    violations: xs.reduce((a, x) => a + x.violations, 0),
  };
}

/** The JS heap plus ArrayBuffer memory (caches keep typed arrays, whose bytes live outside the heap). */
function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function scaleOnce(tib: bigint): ScaleRun {
  gc();
  const base = heap();
  const t0 = Date.now();
  const r = new Replayer({ keepSteps: false, check: makeChecker() });
  r.feed(cxlMachine(tib));
  r.feed({ type: 'write', path: '/sys/bus/dax/drivers/kmem/new_id', value: 'dax0.0', raw: false, seq: 1 });
  const blocks = Number((tib << 40n) / (128n << 20n));
  let peak = heap();
  for (let i = 0; i < blocks; i++) {
    r.feed({ type: 'write', path: `${MEM}/memory${FIRST_BLOCK + i}/state`, value: 'online_movable', raw: false, seq: i + 2 });
    if ((i & 0x3fff) === 0) peak = Math.max(peak, heap());
  }
  const wallMs = Date.now() - t0;
  peak = Math.max(peak, heap());
  const state: KernelState = r.current;
  gc();
  const stateBytes = heap() - base;
  if (state.blocks.size < blocks) throw new Error('scale: blocks missing');
  return { blocks, wallMs, peakHeapBytes: peak, stateBytes, bytesPerBlock: stateBytes / state.blocks.size, violations: r.violations.length };
}

/** A state with `n` hot-added blocks, all online, built without checks. */
function machineWith(n: number): KernelState {
  const bytes = BigInt(n) * (128n << 20n);
  const tib = (bytes + (1n << 40n) - 1n) >> 40n;
  const boot = cxlMachine(tib === 0n ? 1n : tib);
  // Shrink the region and device to n blocks.
  const region = boot.daxRegions[0]!;
  const dev = region.devices[0]!;
  const sized = { ...boot, daxRegions: [{ ...region, size: bytes, devices: [{ ...dev, ranges: [{ start: region.start, size: bytes }] }] }] };
  let s = applyBoot(sized).after;
  s = applyEvent(s, { type: 'write', path: '/sys/bus/dax/drivers/kmem/new_id', value: 'dax0.0', raw: false }, 1).after;
  for (let i = 0; i < n; i++) s = applyEvent(s, { type: 'write', path: `${MEM}/memory${FIRST_BLOCK + i}/state`, value: 'online_movable', raw: false }, 2).after;
  return s;
}

export interface InvariantCost {
  readonly blocks: number;
  /** Microseconds of invariant checking per step (median of repeats). */
  readonly usPerStep: number;
  /** The same over every repeat: median, min, max. */
  readonly usPerStepStats: Stats;
  readonly paranoidUsPerStep: number | null;
  /** Share of the churn's steps that succeeded (and so changed a block): the sizes must do like work. */
  readonly okShare: number;
}

interface Churn {
  readonly blocks: number;
  readonly steps: readonly Step[];
  readonly okShare: number;
}

/** `steps` online/offline writes to random blocks of an all-online machine of `n` blocks, applied once. */
function churn(n: number, steps: number): Churn {
  const rnd = new Lcg(7);
  const applied: Step[] = [];
  let s = machineWith(n);
  let ok = 0;
  for (let i = 0; i < steps; i++) {
    const id = FIRST_BLOCK + rnd.below(n);
    const e: StepEvent = { type: 'write', path: `${MEM}/memory${id}/state`, value: rnd.below(2) === 0 ? 'offline' : 'online_movable', raw: false };
    const step = applyEvent(s, e, i + 2);
    if (step.outcome.ok) ok++;
    applied.push(step);
    s = step.after;
  }
  return { blocks: n, steps: applied, okShare: ok / steps };
}

/** Microseconds per step of one pass of `check` over the churn. */
function passUs(c: Churn, paranoid: boolean): number {
  const check = makeChecker({ paranoid });
  const t = process.hrtime.bigint();
  for (const step of c.steps) check(step);
  return Number(process.hrtime.bigint() - t) / 1e3 / c.steps.length;
}

/**
 * The churn is applied once per size; only the checks are timed. The sizes
 * are measured in turn within each repeat (after a warm-up pass over all of
 * them), so JIT warm-up and the machine's load fall on every size alike.
 */
export function invariantCosts(sizes: readonly number[], steps: number, repeats: number): InvariantCost[] {
  const churns = sizes.map((n) => churn(n, steps));
  for (const c of churns) passUs(c, false);
  const xs = churns.map((): number[] => []);
  for (let k = 0; k < repeats; k++) churns.forEach((c, i) => xs[i]?.push(passUs(c, false)));
  return churns.map((c, i) => {
    const st = stats(xs[i] ?? []);
    // A full re-check per step is O(blocks): measured on small machines only, to show what incremental saves.
    const paranoidUsPerStep = c.blocks <= 1000 ? passUs(c, true) : null;
    return { blocks: c.blocks, usPerStep: st.median, usPerStepStats: st, paranoidUsPerStep, okShare: c.okShare };
  });
}
