/**
 * Workloads of the kmem persistence series (issue 13, item 7):
 * - persist-io: block I/O events (pwrite, pread, BLKDISCARD on random 4 KiB
 *   blocks) on a 16 GiB persistent device's disk kmem1, applied with every
 *   invariant; per-event cost next to replay-1m's.
 * - persist-16g: the same device formatted, then 10^6 block writes front to
 *   back, no checker: wall time and heap per written block (state follows the
 *   blocks written, never the device's 4,194,304 pages).
 * - persist-findings: `memhp fuzz --patches kmem-persist` from scratch on
 *   several seeds: the time to each finding of the series, median over seeds.
 */
import { makeChecker } from '../properties/invariants/index.js';
import { runCampaign } from '../properties/campaign.js';
import { findingOf } from '../properties/findings.js';
import { checkAll } from '../properties/sequence.js';
import { DEFAULT_CONFIG } from '../src/kernel/config.js';
import type { PatchName } from '../src/kernel/patches.js';
import type { BootEvent, StepEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, type Step } from '../src/replay/engine.js';
import { gc, stats, type Stats } from './measure.js';
import { Lcg } from './workloads.js';

const GIB = 1n << 30n;
const DAX = '/sys/bus/dax/drivers';

/** 6.1 with the series, RAM on node 0, a `size` pmem region on node 1 at 64 GiB (dax0.0 on device_dax). */
export function persistMachine(size: bigint): BootEvent {
  const start = 64n * GIB;
  return {
    type: 'boot',
    kernel: '6.1',
    config: { ...DEFAULT_CONFIG, memoryHotremove: true, physmemBits: 46 },
    memoryBlockSize: 128n << 20n,
    ram: [{ start: 0n, size: 4n * GIB, node: 0 }],
    iomem: [],
    unmovable: [],
    reservedKiB: 0,
    blockDevices: [],
    swapAreas: [],
    daxRegions: [{ id: 0, kind: 'pmem', name: 'Persistent Memory (legacy)', start, size, targetNode: 1, align: 2n << 20n, namespace: null, map: 'dev', devices: [{ name: 'dax0.0', ranges: [{ start, size }], align: 2n << 20n, driver: 'device_dax', memmapOnMemory: false }] }],
    variant: null,
    patches: ['kmem-persist'],
  };
}

/** The steps that format the device as BLK and open its disk. */
const SETUP: readonly StepEvent[] = [
  { type: 'write', path: `${DAX}/device_dax/unbind`, value: 'dax0.0', raw: false },
  { type: 'write', path: '/sys/module/kmem/parameters/persist_format_type', value: '1', raw: false },
  { type: 'write', path: `${DAX}/kmem/new_id`, value: 'dax0.0', raw: false },
  { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/kmem1', mode: 'rdwr', sync: false },
];

export interface PersistIoFigures {
  readonly events: number;
  readonly checked: Stats;
  readonly violations: number;
}

/** `events` random block I/O events on a 16 GiB disk, every invariant after each; `runs` timed repetitions. */
export function persistIo(events: number, runs: number): PersistIoFigures {
  const check = checkAll(makeChecker());
  const blocks = 4_186_126;
  const times: number[] = [];
  let violations = 0;
  for (let r = 0; r <= runs; r++) {
    let step: Step = applyBoot(persistMachine(16n * GIB));
    let i = 1;
    for (const e of SETUP) step = applyEvent(step.after, e, i++);
    const rnd = new Lcg(7);
    gc();
    const t = process.hrtime.bigint();
    let v = 0;
    for (let k = 0; k < events; k++) {
      const x = rnd.below(100);
      const off = BigInt(rnd.below(blocks)) * 4096n;
      const e: StepEvent =
        x < 55
          ? { type: 'pwrite', pid: 'p1', fd: 'f1', offset: off, length: 4096n, value: BigInt(k + 1) }
          : x < 85
            ? { type: 'pread', pid: 'p1', fd: 'f1', offset: off, length: 4096n, value: null }
            : { type: 'ioctl', pid: 'p1', fd: 'f1', cmd: 'BLKDISCARD', args: { start: off, length: 4096n } };
      step = applyEvent(step.after, e, i++);
      v += check(step).length;
    }
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    // The first run warms up.
    if (r > 0) times.push(ms);
    violations = v;
  }
  return { events, checked: stats(times), violations };
}

export interface Persist16gFigures {
  readonly writes: number;
  readonly wallMs: number;
  readonly heapBytes: number;
  readonly bytesPerBlock: number;
  readonly memFreeKiB: number;
}

/** A 16 GiB device formatted and filled with `writes` 4 KiB block writes, front to back. */
export function persist16g(writes: number): Persist16gFigures {
  gc();
  const base = process.memoryUsage().heapUsed;
  const t = process.hrtime.bigint();
  let step: Step = applyBoot(persistMachine(16n * GIB));
  let i = 1;
  for (const e of SETUP) step = applyEvent(step.after, e, i++);
  for (let k = 0; k < writes; k++) step = applyEvent(step.after, { type: 'pwrite', pid: 'p1', fd: 'f1', offset: BigInt(k) * 4096n, length: 4096n, value: BigInt(k + 1) }, i++);
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  const node = applyEvent(step.after, { type: 'read', path: '/sys/devices/system/node/node1/meminfo' }, i++);
  const memFreeKiB = Number(/MemFree:\s+(\d+) kB/.exec(node.outcome.ok ? (node.outcome.value ?? '') : '')?.[1] ?? NaN);
  gc();
  const heapBytes = process.memoryUsage().heapUsed - base;
  return { writes, wallMs, heapBytes, bytesPerBlock: heapBytes / writes, memFreeKiB };
}

export interface FindingTime {
  readonly id: string;
  readonly signature: string;
  /** Milliseconds from the campaign's start to the first run showing it, per seed (null: not found within the budget). */
  readonly ms: ReadonlyArray<number | null>;
  readonly medianMs: number | null;
}

/** Time to each finding of `patches`' series, from scratch, on each seed, within `runs` runs. */
export function persistFindings(patches: readonly PatchName[], seeds: readonly number[], runs: number): FindingTime[] {
  const per = new Map<string, Map<number, number>>();
  for (const seed of seeds) {
    const r = runCampaign({ seed, runs, steps: 40, variant: null, outDir: null, patches });
    for (const k of r.known) {
      const id = findingOf(k.signature)?.id;
      if (id === undefined || !id.startsWith('P')) continue;
      const key = `${id} ${k.signature}`;
      const m = per.get(key) ?? new Map<number, number>();
      m.set(seed, k.firstMs);
      per.set(key, m);
    }
  }
  return [...per.entries()]
    .map(([key, m]) => {
      const ms = seeds.map((s) => m.get(s) ?? null);
      const found = ms.filter((x): x is number => x !== null).sort((a, b) => a - b);
      // Not found on a seed counts as slower than any found (the median may then be "not found").
      const mid = Math.floor((seeds.length - 1) / 2);
      const median = found.length > mid ? (found[mid] ?? null) : null;
      const [id, signature] = key.split(' ') as [string, string];
      return { id, signature, ms, medianMs: median };
    })
    .sort((a, b) => a.id.localeCompare(b.id) || a.signature.localeCompare(b.signature));
}
