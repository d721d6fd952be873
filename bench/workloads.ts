/**
 * Benchmark workloads: deterministic logs and machines (a fixed LCG, no
 * Math.random), so every run measures the same work.
 */
import type { BootEvent, StepEvent } from '../src/log/events.js';
import { writeEvent } from '../src/log/index.js';
import { DEFAULT_CONFIG } from '../src/kernel/config.js';

/** Bumped whenever a generated workload changes, so cached logs (.cache/bench) are regenerated. */
export const WORKLOADS_VERSION = 2;

const MIB = 1n << 20n;
const GIB = 1n << 30n;
const TIB = 1n << 40n;
const B = 128n * MIB;

/** A machine with `tib` TiB of CXL memory in 128 MiB blocks above 8 GiB of boot RAM, on node 1. */
export function cxlMachine(tib: bigint, config: Partial<BootEvent['config']> = {}): BootEvent {
  const start = 16n * GIB;
  return {
    type: 'boot',
    kernel: '6.8',
    config: { ...DEFAULT_CONFIG, memoryHotremove: true, physmemBits: 52, ...config },
    memoryBlockSize: B,
    ram: [
      { start: 0n, size: 2n * GIB, node: 0 },
      { start: 4n * GIB, size: 6n * GIB, node: 0 },
    ],
    iomem: [],
    unmovable: [],
    reservedKiB: 0,
    blockDevices: [],
    swapAreas: [],
    daxRegions: [
      {
        id: 0,
        kind: 'cxl',
        name: 'CXL Window 0',
        start,
        size: tib * TIB,
        targetNode: 1,
        align: 2n * MIB,
        namespace: null,
        map: 'mem',
        devices: [{ name: 'dax0.0', ranges: [{ start, size: tib * TIB }], align: 2n * MIB, driver: null, memmapOnMemory: false }],
      },
    ],
    variant: null,
    patches: [],
  };
}

/** Deterministic 32-bit LCG (Numerical Recipes constants). */
export class Lcg {
  constructor(private s: number) {}
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s;
  }
  /** Uniform in [0, n): from the high bits, since an LCG's low bits have short periods (bit 0 alternates). */
  below(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }
}

const MEM = '/sys/devices/system/memory';

/**
 * replay-1m: bind kmem to the 4 TiB device, then online/offline churn across
 * all blocks mixed with reads of /proc/iomem and block files.
 */
export function* replayLogEvents(n: number, tib = 4n): Generator<BootEvent | StepEvent> {
  const boot = cxlMachine(tib);
  yield boot;
  yield { type: 'write', path: '/sys/bus/dax/drivers/kmem/new_id', value: 'dax0.0', raw: false, seq: 1 };
  const first = Number((16n * GIB) / B);
  const blocks = Number((tib * TIB) / B);
  const rnd = new Lcg(12345);
  const words = ['online_movable', 'online', 'online_kernel', 'offline'];
  for (let i = 2; i < n; i++) {
    const id = first + rnd.below(blocks);
    const r = rnd.below(100);
    let e: StepEvent;
    if (r < 70) e = { type: 'write', path: `${MEM}/memory${id}/state`, value: words[rnd.below(4)] as string, raw: false };
    else if (r < 75) e = { type: 'write', path: `${MEM}/memory${id}/online`, value: rnd.below(2) === 0 ? '0' : '1', raw: false };
    else if (r < 92) e = { type: 'read', path: `${MEM}/memory${id}/${['state', 'valid_zones', 'phys_index', 'online'][rnd.below(4)] as string}` };
    else if (r < 99) e = { type: 'read', path: '/proc/meminfo' };
    else e = { type: 'read', path: '/proc/iomem' };
    yield { ...e, seq: i };
  }
}

export function replayLogText(n: number): string {
  const lines: string[] = [];
  for (const e of replayLogEvents(n)) lines.push(writeEvent(e));
  return `${lines.join('\n')}\n`;
}
