/**
 * test_hmm workload (issue 12, item 8, the part the model has today):
 * hmm-dmirror — dmirror commands on anonymous memory with every invariant:
 * READ and WRITE of 64-page ranges (hmm_range_fault, faults, the device page
 * table, the copies through the caller's buffer), SNAPSHOT, CPU writes that
 * copy-on-write or invalidate, MADV_DONTNEED, on a 1 GiB anonymous mapping
 * of a machine with test_hmm built in. Per-event cost next to replay-1m's,
 * and per page the device touched. Migration to device memory and back,
 * the 10^5 pages, is hmm-migrate (bench/hmmMigrate.ts), on the
 * same machine.
 */
import { makeChecker } from '../properties/invariants/index.js';
import { checkAll } from '../properties/sequence.js';
import { DEFAULT_CONFIG } from '../src/kernel/config.js';
import type { BootEvent, StepEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, type Step } from '../src/replay/engine.js';
import { gc, stats, type Stats } from './measure.js';
import { Lcg } from './workloads.js';

const GIB = 1n << 30n;
const K4 = 4096n;

/** 6.1 with test_hmm built in (the custom hmm kernel's configuration), 8 GiB of RAM on node 0. */
export function hmmMachine(): BootEvent {
  return {
    type: 'boot',
    kernel: '6.1',
    config: { ...DEFAULT_CONFIG, devicePrivate: true, testHmm: 'y', physAddrBits: 40, thp: 'madvise' },
    memoryBlockSize: 128n << 20n,
    ram: [{ start: 0n, size: 8n * GIB, node: 0 }],
    iomem: [],
    unmovable: [],
    reservedKiB: 0,
    blockDevices: [],
    swapAreas: [],
    daxRegions: [],
    variant: null,
    patches: [],
  };
}

export interface HmmFigures {
  readonly events: number;
  /** Pages the device read, wrote or looked at, over all events. */
  readonly pages: number;
  readonly checked: Stats;
  readonly violations: number;
}

const SETUP: StepEvent[] = [
  { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/hmm_dmirror0', mode: 'rdwr', sync: false },
  { type: 'mmap', pid: 'p1', map: 'm1', fd: null, length: GIB, offset: 0n, prot: 'rw', flags: ['private'], addr: null },
  { type: 'mmap', pid: 'p1', map: 'b1', fd: null, length: 64n * K4, offset: 0n, prot: 'rw', flags: ['private'], addr: null },
];

export function hmmDmirror(events: number, runs: number): HmmFigures {
  const check = checkAll(makeChecker());
  const times: number[] = [];
  let violations = 0;
  let pages = 0;
  for (let r = 0; r <= runs; r++) {
    let step: Step = applyBoot(hmmMachine());
    let i = 1;
    for (const e of SETUP) step = applyEvent(step.after, e, i++);
    const rnd = new Lcg(12);
    gc();
    const t = process.hrtime.bigint();
    let v = 0;
    let n = 0;
    for (let k = 0; k < events; k++) {
      const x = rnd.below(100);
      // 64-page windows anywhere in the GiB (262,144 pages): most commands meet pages the device never saw.
      const at = BigInt(rnd.below(4096)) * 64n * K4;
      const io = (cmd: 'HMM_DMIRROR_READ' | 'HMM_DMIRROR_WRITE' | 'HMM_DMIRROR_SNAPSHOT', npages: bigint): StepEvent => {
        n += Number(npages);
        return { type: 'ioctl', pid: 'p1', fd: 'f1', cmd, args: { addr: { map: 'm1', offset: at }, npages, ptr: { map: 'b1', offset: 0n } } };
      };
      const e: StepEvent =
        x < 30
          ? io('HMM_DMIRROR_READ', 64n)
          : x < 50
            ? io('HMM_DMIRROR_WRITE', 16n)
            : x < 65
              ? io('HMM_DMIRROR_SNAPSHOT', 64n)
              : x < 90
                ? { type: 'access', pid: 'p1', map: 'm1', offset: at + BigInt(rnd.below(64)) * K4, op: 'write', value: BigInt(k) }
                : { type: 'madvise', pid: 'p1', map: 'm1', offset: at, length: 64n * K4, advice: 'dontneed' };
      step = applyEvent(step.after, e, i++);
      v += check(step).length;
    }
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    // The first run warms up.
    if (r > 0) times.push(ms);
    violations = v;
    pages = n;
  }
  return { events, pages, checked: stats(times), violations };
}
