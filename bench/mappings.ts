/**
 * Device-dax mapping workloads (issue 11, item 8):
 * - mapping-replay: a log of program events (mmap, access, procmem, munmap,
 *   fork, exit, smaps reads) on a 1 TiB device bound to device_dax, replayed
 *   from the file with every invariant; its per-event cost is compared with
 *   replay-1m's sysfs events (budget: at most 2x).
 * - tib-4k: a 1 TiB device mapped whole at align 4K, 10^6 random word
 *   writes; memory is reported per touched page (state follows what a log
 *   touched, never the device's 2^28 pages).
 */
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { makeChecker } from '../properties/invariants/index.js';
import { readLogBatches, writeEvent } from '../src/log/index.js';
import type { BootEvent, LogEvent } from '../src/log/events.js';
import { applyBoot, applyEvent, Replayer } from '../src/replay/engine.js';
import { DEFAULT_CONFIG } from '../src/kernel/config.js';
import { gc, stats, type Stats } from './measure.js';
import { Lcg } from './workloads.js';
import { mapAddress, vmaAt } from '../src/kernel/mm/process.js';
import { replayFile } from './replay1m.js';

const GIB = 1n << 30n;
const TIB = 1n << 40n;

/** A 1 TiB hmem region whose device is bound to device_dax at `align` (6.1, as the harness's machine). */
export function devdaxMachine(align: bigint): BootEvent {
  const start = 16n * GIB;
  return {
    type: 'boot',
    kernel: '6.1',
    config: { ...DEFAULT_CONFIG, physmemBits: 46 },
    memoryBlockSize: 128n << 20n,
    ram: [{ start: 0n, size: 4n * GIB, node: 0 }],
    iomem: [],
    unmovable: [],
    reservedKiB: 0,
    blockDevices: [],
    swapAreas: [],
    daxRegions: [{ id: 0, kind: 'hmem', name: 'Soft Reserved', start, size: TIB, targetNode: 0, align, namespace: null, map: 'mem', devices: [{ name: 'dax0.0', ranges: [{ start, size: TIB }], align, driver: 'device_dax', memmapOnMemory: false }] }],
    variant: null,
    patches: [],
  };
}

export function* mappingLogEvents(n: number): Generator<LogEvent> {
  yield devdaxMachine(2n << 20n);
  const rnd = new Lcg(4242);
  let seq = 1;
  const ev = <T extends object>(e: T): T & { seq: number } => ({ ...e, seq: seq++ });
  yield ev({ type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', mode: 'rdwr', sync: false });
  yield ev({ type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: 64n * GIB, offset: 0n, prot: 'rw', flags: ['shared'], addr: null });
  while (seq < n) {
    const r = rnd.below(100);
    const off = BigInt(rnd.below(1 << 30)) * 64n; // 8-aligned, anywhere in the 64 GiB
    if (r < 55) yield ev({ type: 'access', pid: 'p1', map: 'm1', offset: off, op: 'write', value: BigInt(rnd.next()) });
    else if (r < 85) yield ev({ type: 'access', pid: 'p1', map: 'm1', offset: off, op: 'read', value: null });
    else if (r < 92) yield ev({ type: 'procmem', pid: 'p1', map: 'm1', offset: off, op: 'read', value: null });
    else if (r < 96) {
      // A program that maps a window, moves it: unmap the old one first.
      yield ev({ type: 'munmap', pid: 'p1', map: 'm2', offset: 0n, length: 4n << 20n });
      yield ev({ type: 'mmap', pid: 'p1', map: 'm2', fd: 'f1', length: 4n << 20n, offset: BigInt(rnd.below(1000)) << 21n, prot: 'rw', flags: ['shared'], addr: null });
    } else if (r < 97) yield ev({ type: 'access', pid: 'p1', map: 'm2', offset: 8n, op: 'write', value: 1n });
    else if (r < 98) yield ev({ type: 'fork', pid: 'p1', child: 'p2' });
    else if (r < 99) yield ev({ type: 'exit', pid: 'p2' });
    else yield ev({ type: 'read', path: '/proc/p1/smaps' });
  }
}

export interface MappingFigures {
  readonly events: number;
  readonly checked: Stats;
  readonly violations: number;
  /**
   * Per-event cost over the yardstick's (replay-1m's log, every invariant),
   * one ratio per pair of runs made back to back: a change in the machine's
   * load falls on both runs of a pair. Null without a yardstick.
   */
  readonly overYardstick: Stats | null;
}

/** A log replayed with every invariant right after each mapping run, to take the ratio pair by pair. */
export interface Yardstick {
  readonly file: string;
  readonly events: number;
}

export async function mappingReplay(events: number, runs: number, yardstick: Yardstick | null = null): Promise<MappingFigures> {
  mkdirSync('.cache/bench', { recursive: true });
  const file = `.cache/bench/mappings-v2-${events}.jsonl`;
  if (!existsSync(file)) {
    let text = '';
    const seen = new Set<string>();
    for (const e of mappingLogEvents(events)) {
      // fork into a live child / exit of a dead one would be refused by the reader's handle check: skip repeats.
      if (e.type === 'fork') {
        if (seen.has('p2')) continue;
        seen.add('p2');
      }
      if (e.type === 'exit') {
        if (!seen.has('p2')) continue;
        seen.delete('p2');
      }
      text += `${writeEvent(e)}\n`;
    }
    writeFileSync(file, text);
  }
  let violations = 0;
  const once = async (): Promise<number> => {
    const r = new Replayer({ keepSteps: false, check: makeChecker() });
    for await (const batch of readLogBatches(file)) for (const { event } of batch) r.feed(event);
    violations = r.violations.length;
    return r.eventCount;
  };
  const timed = async (f: () => Promise<unknown>): Promise<number> => {
    gc();
    const t = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  await once();
  if (yardstick !== null) await replayFile(yardstick.file, true);
  const xs: number[] = [];
  const ratios: number[] = [];
  let n = 0;
  for (let i = 0; i < runs; i++) {
    const ms = await timed(async () => {
      n = await once();
    });
    xs.push(ms);
    if (yardstick !== null) {
      const ys = await timed(() => replayFile(yardstick.file, true));
      ratios.push(ms / n / (ys / yardstick.events));
    }
  }
  return { events: n, checked: stats(xs), violations, overYardstick: yardstick === null ? null : stats(ratios) };
}

export interface TibFigures {
  readonly accesses: number;
  readonly touchedPages: number;
  readonly wallMs: number;
  readonly heapBytes: number;
  readonly bytesPerTouchedPage: number;
}

/** 10^6 random word writes into a whole-TiB mapping at align 4K, applied step by step (no log file). */
export function tib4k(accesses: number): TibFigures {
  gc();
  const base = process.memoryUsage().heapUsed;
  const t = process.hrtime.bigint();
  let step = applyBoot(devdaxMachine(4096n));
  let i = 1;
  const apply = (e: Parameters<typeof applyEvent>[1]): void => {
    step = applyEvent(step.after, e, i++);
  };
  apply({ type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', mode: 'rdwr', sync: false });
  apply({ type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: TIB, offset: 0n, prot: 'rw', flags: ['shared'], addr: null });
  const rnd = new Lcg(99);
  for (let k = 0; k < accesses; k++) apply({ type: 'access', pid: 'p1', map: 'm1', offset: BigInt(rnd.below(1 << 28)) * 4096n + BigInt(rnd.below(512)) * 8n, op: 'write', value: BigInt(k) });
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  gc();
  const heapBytes = process.memoryUsage().heapUsed - base;
  // The mapping's vma (the process also has exec's vmas: [vvar], [vdso], [stack], its text).
  const p1 = step.after.mm.procs.get('p1');
  const touchedPages = p1 === undefined ? 0 : (vmaAt(p1, mapAddress(p1, 'm1'))?.vma.ptes.size ?? 0);
  return { accesses, touchedPages, wallMs, heapBytes, bytesPerTouchedPage: heapBytes / Math.max(1, touchedPages) };
}
