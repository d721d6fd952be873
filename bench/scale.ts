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
import { gc } from './measure.js';
import { cxlMachine, Lcg } from './workloads.js';

const MEM = '/sys/devices/system/memory';
const FIRST_BLOCK = 128; // 16 GiB / 128 MiB

export interface ScaleFigures {
  readonly blocks: number;
  readonly wallMs: number;
  readonly peakHeapBytes: number;
  readonly stateBytes: number;
  readonly bytesPerBlock: number;
  readonly violations: number;
}

function heap(): number {
  return process.memoryUsage().heapUsed;
}

export function scale(tib: bigint): ScaleFigures {
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
  readonly paranoidUsPerStep: number | null;
}

export function invariantCost(n: number, steps: number, repeats: number): InvariantCost {
  const s0 = machineWith(n);
  const rnd = new Lcg(7);
  // The churn is applied once; only the checks are timed, over the same steps each repeat.
  const applied: Step[] = [];
  let s = s0;
  for (let i = 0; i < steps; i++) {
    const id = FIRST_BLOCK + rnd.below(n);
    const e: StepEvent = { type: 'write', path: `${MEM}/memory${id}/state`, value: i % 2 === 0 ? 'offline' : 'online_movable', raw: false };
    const step = applyEvent(s, e, i + 2);
    applied.push(step);
    s = step.after;
  }
  const measure = (paranoid: boolean): number => {
    const check = makeChecker({ paranoid });
    const xs: number[] = [];
    for (let k = 0; k < repeats; k++) {
      const t = process.hrtime.bigint();
      for (const step of applied) check(step);
      xs.push(Number(process.hrtime.bigint() - t) / 1e3 / applied.length);
    }
    xs.sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)] as number;
  };
  measure(false);
  const usPerStep = measure(false);
  // A full re-check per step is O(blocks): measured on small machines only, to show what incremental saves.
  const paranoidUsPerStep = n <= 1000 ? measure(true) : null;
  return { blocks: n, usPerStep, paranoidUsPerStep };
}
