/**
 * Machines for kernel tests, written as the JSON a recorded log would hold
 * and replayed through the log reader, so tests exercise the same path as a
 * real log. Small on purpose: a default boot, region builders, step events,
 * and a run() that returns the final state plus each step's outcome.
 */
import { failureKey } from '../../src/log/events.js';
import type { KernelState } from '../../src/kernel/state.js';
import { programVmas } from '../../src/kernel/mm/process.js';
import type { Vma } from '../../src/kernel/mm/types.js';
import type { Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay, type Step } from '../../src/replay/engine.js';
import { makeChecker } from '../../properties/invariants/index.js';
import { signatureOf } from '../../properties/findings.js';
import { checkAll } from '../../properties/sequence.js';

export type Json = Record<string, unknown>;

export const MEMORY = '/sys/devices/system/memory';

/** `/sys/devices/system/memory/memory<id>/<file>`. */
export function blockFile(id: number | string, file: string): string {
  return `${MEMORY}/memory${id}/${file}`;
}

/** The seed's QEMU RAM (SPEC §3): 2 GiB at 0 and 2 GiB at 4 GiB, node 0. */
export const SEED_RAM = [
  { start: '0x0', size: '2G', node: 0 },
  { start: '0x100000000', size: '2G', node: 0 },
];

/** The seed's legacy pmem region (SPEC §3): 512 MiB at 2 GiB, a 2 MiB namespace, dax0.0 on device_dax. */
export const SEED_PMEM_REGION = {
  id: 0,
  kind: 'pmem',
  start: '0x80000000',
  size: '512M',
  targetNode: 0,
  namespace: { name: 'namespace0.0', size: '2M' },
  devices: [{ name: 'dax0.0', start: '0x80200000', size: '510M', driver: 'device_dax' }],
};

/**
 * A 6.8 boot: 128 MiB blocks, RAM [0, 2G) and [4G, 6G) on node 0 (blocks
 * 0-15 and 32-47), no dax regions. `fields` replace top-level fields;
 * `config` is merged into the defaults.
 */
export function boot(fields: Json = {}, config: Json = {}): Json {
  return {
    type: 'boot',
    kernel: '6.8',
    memoryBlockSize: '128M',
    ram: SEED_RAM,
    ...fields,
    config: { ...config },
  };
}

/** A dax region with one device `dax<id>.0` covering all of it. */
export function region(kind: 'hmem' | 'cxl' | 'pmem', id: number, start: string, size: string, device: Json = {}): Json {
  return {
    id,
    kind,
    start,
    size,
    targetNode: 0,
    devices: [{ name: `dax${id}.0`, start, size, ...device }],
  };
}

export function write(path: string, value: string, raw = false): Json {
  return raw ? { type: 'write', path, value, raw: true } : { type: 'write', path, value };
}

export function read(path: string): Json {
  return { type: 'read', path };
}

export interface Run {
  readonly final: KernelState;
  readonly boot: Step;
  /** The steps after boot, in order. */
  readonly steps: readonly Step[];
  /** One word per step after boot: the read value, "ok", or the errno name. */
  readonly results: readonly string[];
}

export function brief(o: Outcome): string {
  return o.ok ? (o.value ?? 'ok') : failureKey(o);
}

/** Replay `bootEvent` then `events`, parsed from JSONL like a recorded log. */
export function run(bootEvent: Json, ...events: Json[]): Run {
  const text = [bootEvent, ...events].map((e) => JSON.stringify(e)).join('\n');
  const r = replay(parseLogText(text, 'test.jsonl').map((l) => l.event));
  const [first, ...steps] = r.steps;
  if (first === undefined) throw new Error('no boot step');
  return { final: r.final, boot: first, steps, results: steps.map((s) => brief(s.outcome)) };
}

/**
 * Replay with every invariant (and must-succeed property): each step's outcome
 * word, the violations as `invariant@function` signatures, the final state and
 * the steps after boot.
 */
export function runChecked(bootEvent: Json, ...events: Json[]) {
  const text = [bootEvent, ...events].map((e) => JSON.stringify(e)).join('\n');
  const r = replay(parseLogText(text, 'test.jsonl').map((l) => l.event), { check: checkAll(makeChecker()) });
  return { results: r.steps.slice(1).map((s) => brief(s.outcome)), violations: r.violations.map(signatureOf), final: r.final, steps: r.steps.slice(1) };
}

/**
 * A /proc/PID/smaps (or maps) text without the blocks of the vmas exec made
 * ([vvar], [vdso], [stack], /bin/ddx: src/kernel/mm/exec.ts): what the
 * test's program mapped.
 */
export function programSmaps(text: string): string {
  const out: string[] = [];
  let keep = true;
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) keep = !/ (\[vvar\]|\[vdso\]|\[stack\]|\/bin\/ddx)$/.test(line);
    if (keep) out.push(line);
  }
  return out.join('\n');
}

/** The lowest vma process `pid` mapped itself (programVmas), if any. */
export function firstProgramVma(s: KernelState | undefined, pid: string): Vma | undefined {
  const p = s?.mm.procs.get(pid);
  return p === undefined ? undefined : programVmas(p)[0];
}
