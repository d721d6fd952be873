/**
 * hotplugStep: one step of a random sequence, drawn as a choice tuple and
 * interpreted against the current model state, so that every step names a
 * device, block or file that exists (or is a deliberate invalid write) and a
 * shrunk sequence stays meaningful. The share of each kind is fixed by the
 * first number and the weight table STEP_WEIGHTS.
 */
import fc from 'fast-check';
import type { KernelState } from '../../src/kernel/state.js';
import { INJECT_SITES, type InjectEvent, type InjectSite, type StepEvent } from '../../src/log/events.js';
import type { Errno } from '../../src/kernel/errno.js';
import { programStep } from './programSteps.js';
import { persistStep } from './persistSteps.js';
import { hmmEvents } from '../alphabet/hmm.js';
import { hmmStep } from './hmmSteps.js';

export type Choice = readonly [number, number, number];

/** What a generated step was meant to be, for statistics ("valid share"). */
export type StepKind = 'inject' | 'invalid' | 'read' | 'driver' | 'block' | 'attr' | 'program';

/**
 * The weight of each kind of step, in the order the first number of a
 * choice is cut into: 8 fault injections, 7 invalid writes, 15 reads, 35
 * driver operations, 30 memory block operations, 5 attribute writes, and 30
 * program events (SPEC §7: open, mmap, access, fork, ... on dax devices).
 */
export const STEP_WEIGHTS: ReadonlyArray<readonly [StepKind, number]> = [
  ['inject', 8],
  ['invalid', 7],
  ['read', 15],
  ['driver', 35],
  ['block', 30],
  ['attr', 5],
  ['program', 30],
];

const WEIGHT_TOTAL = STEP_WEIGHTS.reduce((s, [, w]) => s + w, 0);

/** The kind the first number of a choice selects. */
export function stepKind(cat: number): StepKind {
  let c = cat % WEIGHT_TOTAL;
  for (const [kind, w] of STEP_WEIGHTS) {
    if (c < w) return kind;
    c -= w;
  }
  return 'attr';
}

export const choice: fc.Arbitrary<Choice> = fc.tuple(fc.nat(WEIGHT_TOTAL - 1), fc.nat(1 << 20), fc.nat(1 << 20));

/** Sequences of up to `maxLength` steps; `size: 'max'` so long sequences are as likely as short ones (shrinking still shortens). */
export const choices = (maxLength: number): fc.Arbitrary<Choice[]> => fc.array(choice, { minLength: 1, maxLength, size: 'max' });

export interface GeneratedStep {
  readonly kind: StepKind;
  readonly event: StepEvent;
}

/** The errnos each injection site can really produce (used by errno-documented as well). */
export const SITE_ERRNOS: Readonly<Record<InjectSite, readonly Errno[]>> = {
  add_memory: ['ENOMEM', 'EEXIST', 'EINVAL'],
  request_mem_region: ['EBUSY'],
  online_pages: ['ENOMEM', 'EBUSY', 'EINVAL'],
  offline_pages: ['EBUSY', 'EINTR', 'ENOMEM', 'EAGAIN'],
  memory_group_register: ['ENOMEM', 'EBUSY'],
  memremap_pages: ['ENOMEM', 'ENXIO', 'EINVAL'],
  remove_memory: ['EBUSY'],
};

const DRIVERS = ['device_dax', 'kmem'] as const;
const MEM = '/sys/devices/system/memory';
const DAX = '/sys/bus/dax';

function pick<T>(xs: readonly T[], n: number): T {
  return xs[n % xs.length] as T;
}

const write = (path: string, value: string, raw = false): StepEvent => ({ type: 'write', path, value, raw });
const read = (path: string): StepEvent => ({ type: 'read', path });

/** Boot block ids never change after boot: computed once per machine (keyed by its region list). */
const bootBlockIds = new WeakMap<KernelState['regions'], number[]>();

function bootBlocks(s: KernelState): number[] {
  let ids = bootBlockIds.get(s.regions);
  if (ids === undefined) {
    ids = [];
    for (const [id, b] of s.blocks.entries()) if (b.boot) ids.push(id);
    bootBlockIds.set(s.regions, ids);
  }
  return ids;
}

/**
 * Block ids to act on: hot-added ones (inside a range kmem holds or held)
 * three times out of four when there are any, found without walking every
 * block.
 */
function blockId(s: KernelState, n: number, m: number): number {
  if (m % 4 !== 0) {
    let total = 0;
    for (const d of s.devices) for (const r of d.kmem?.res ?? []) if (r !== null) total += Number((r.end + 1n - r.start) / s.blockSize);
    if (total > 0) {
      let k = n % total;
      for (const d of s.devices) {
        for (const r of d.kmem?.res ?? []) {
          if (r === null) continue;
          const count = Number((r.end + 1n - r.start) / s.blockSize);
          if (k < count) return Number(r.start / s.blockSize) + k;
          k -= count;
        }
      }
    }
  }
  const boot = bootBlocks(s);
  return boot.length > 0 ? pick(boot, n) : 0;
}

export function interpretChoice(s: KernelState, [cat, x, y]: Choice): GeneratedStep {
  const devices = s.devices;
  const kind = stepKind(cat);
  if (kind === 'inject') {
    const site = pick(INJECT_SITES, x);
    const ev: InjectEvent = { type: 'inject', site, errno: pick(SITE_ERRNOS[site], y), nth: 1 + (y % 2) };
    return { kind: 'inject', event: ev };
  }
  if (kind === 'invalid') return { kind: 'invalid', event: invalidStep(s, x, y) };
  if (kind === 'read') return { kind: 'read', event: readStep(s, x, y) };
  if ((kind === 'program' || kind === 'driver') && s.profile.kmemPersist && cat % 4 !== 0) {
    // Under the kmem-persist series three program and driver steps in four are its own: the parameter, binds
    // that move a device toward kmem, its disk's I/O, reboots.
    const ev = persistStep(s, y, x);
    if (ev !== null) return { kind: 'program', event: ev };
  }
  if ((kind === 'driver' || kind === 'block' || kind === 'program') && s.config.testHmm !== 'n' && cat % 4 !== 0) {
    // On a machine that builds test_hmm (only the HMM variants' machines today), three driver, block and program
    // steps in four are its own: modprobe, rmmod, probe-file hot-adds at the top of the free space
    // (properties/alphabet/hmm.ts), and its processes' anonymous memory.
    // Once the module is in, mostly the migration side (properties/arbitraries/hmmSteps.ts: buffers, fork,
    // mprotect and the MIGRATE commands), so the device-private entry rules are fuzzed on these machines.
    const mig = cat % 4 === 0 ? null : hmmStep(s, x, y);
    if (mig !== null) return { kind: 'driver', event: mig };
    const evs = hmmEvents(s);
    if (evs.length > 0) return { kind: 'driver', event: pick(evs, y) };
  }
  if (kind === 'program') {
    const ev = programStep(s, x, y);
    if (ev !== null) return { kind: 'program', event: ev };
  }
  if (kind === 'driver' && devices.length > 0) {
    // Half the time a device some program holds open: unbind and rebind under a live file or mapping.
    const held = [...new Set([...s.mm.files.values()].map((f) => f.dev))];
    const dev = held.length > 0 && (x >> 18) % 2 === 0 ? (devices.find((d) => d.name === pick(held, y >> 3)) ?? pick(devices, x)) : pick(devices, x);
    const drv = pick(DRIVERS, y);
    const other = drv === 'kmem' ? 'device_dax' : 'kmem';
    const ops: StepEvent[] = [
      write(`${DAX}/drivers/${dev.driver ?? drv}/unbind`, dev.name),
      write(`${DAX}/drivers/${drv}/bind`, dev.name),
      // bind reports the probe's errno (v5.14+) where new_id swallows it: worth drawing twice.
      write(`${DAX}/drivers/kmem/bind`, dev.name),
      write(`${DAX}/drivers/${drv}/new_id`, dev.name),
      write(`${DAX}/drivers/kmem/new_id`, dev.name),
      write(`${DAX}/drivers/${drv}/remove_id`, dev.name),
      write(`${DAX}/drivers/${other}/bind`, dev.name),
    ];
    return { kind: 'driver', event: pick(ops, y >> 1) };
  }
  if ((kind === 'driver' || kind === 'block') && s.blocks.size > 0) {
    const id = blockId(s, x, y);
    const ops: StepEvent[] = [
      write(`${MEM}/memory${id}/state`, 'online_movable'),
      write(`${MEM}/memory${id}/state`, 'online_kernel'),
      write(`${MEM}/memory${id}/state`, 'online'),
      write(`${MEM}/memory${id}/state`, 'offline'),
      write(`${MEM}/memory${id}/online`, '1'),
      write(`${MEM}/memory${id}/online`, '0'),
    ];
    return { kind: 'block', event: pick(ops, y >> 2) };
  }
  return { kind: 'attr', event: attrStep(s, x, y) };
}

function readStep(s: KernelState, x: number, y: number): StepEvent {
  const paths = ['/proc/iomem', '/proc/meminfo', `${MEM}/block_size_bytes`, `${MEM}/auto_online_blocks`];
  if (s.blocks.size > 0) {
    const id = blockId(s, x, y);
    paths.push(...['state', 'online', 'valid_zones', 'phys_index', 'removable', 'phys_device'].map((f) => `${MEM}/memory${id}/${f}`));
  }
  const dev = s.devices.length > 0 ? pick(s.devices, x) : undefined;
  if (dev !== undefined) paths.push(...['target_node', 'size', 'align', 'resource', 'memmap_on_memory'].map((f) => `${DAX}/devices/${dev.name}/${f}`));
  return read(pick(paths, y));
}

function attrStep(s: KernelState, x: number, y: number): StepEvent {
  const ops: StepEvent[] = [write(`${MEM}/auto_online_blocks`, pick(['offline', 'online', 'online_kernel', 'online_movable'], x))];
  const dev = s.devices.length > 0 ? pick(s.devices, x) : undefined;
  if (dev !== undefined) {
    const size = dev.ranges.reduce((a, r) => a + (r.end - r.start + 1n), 0n);
    const step = 2n * 1024n * 1024n;
    const target = pick([0n, size - step, size + step, size + 64n * step, size], y);
    ops.push(
      write(`${DAX}/devices/${dev.name}/size`, String(target < 0n ? 0n : target)),
      write(`${DAX}/devices/${dev.name}/align`, pick(['4096', '2097152', '1073741824', '12345', 'big'], y)),
      write(`${DAX}/devices/${dev.name}/memmap_on_memory`, pick(['1', '0', '1', '0', 'maybe'], y)),
      write(`${DAX}/devices/${dev.name}/mapping`, mappingValue(s, dev, y)),
    );
  }
  return pick(ops, y >> 3);
}

function invalidStep(s: KernelState, x: number, y: number): StepEvent {
  const dev = s.devices.length > 0 ? pick(s.devices, x).name : 'dax0.0';
  const id = s.blocks.size > 0 ? blockId(s, x, y) : 0;
  const ops: StepEvent[] = [
    write(`${MEM}/memory${id}/state`, pick(['onlin', 'ONLINE', ' online', 'online\n', 'going-offline', ''], y)),
    write(`${MEM}/memory${id}/state`, '', true),
    write(`${MEM}/memory${id}/online`, pick(['2', 'maybe', 'o', ''], y)),
    write(`${MEM}/memory99999/state`, 'online'),
    write(`${MEM}/memory${id}/phys_index`, '0'),
    write(`${MEM}/memory${id}/valid_zones`, 'Movable'),
    write(`${MEM}/block_size_bytes`, '1'),
    write(`${MEM}/auto_online_blocks`, pick(['on', 'movable', ''], y)),
    write(`${DAX}/drivers/${pick(DRIVERS, y)}/bind`, pick(['dax9.9', 'nope', `${dev}x`], y)),
    write(`${DAX}/drivers/${pick(DRIVERS, y)}/new_id`, pick(['dax00.0', 'dax0.0x', 'dax', '0.0'], y)),
    write(`${DAX}/drivers/${pick(DRIVERS, y)}/unbind`, pick(['dax9.9', dev], y)),
    read(`${DAX}/drivers/${pick(DRIVERS, y)}/bind`),
    write(`${DAX}/devices/${dev}/target_node`, '0'),
    write(`${DAX}/devices/${dev}/resource`, '0'),
    write(`${DAX}/devices/${dev}/size`, pick(['abc', '123', '-1', '99999999999999999999'], y)),
    write('/proc/iomem', 'x'),
    read('/sys/devices/system/memory/nonexistent'),
  ];
  return pick(ops, y >> 1);
}

/** A `mapping` write: the free space just after the device's last range, aligned or not, or garbage. */
function mappingValue(s: KernelState, dev: KernelState['devices'][number], y: number): string {
  const region = s.regions.find((r) => r.id === dev.regionId);
  const after = (dev.ranges[dev.ranges.length - 1]?.end ?? (region?.start ?? 0n) - 1n) + 1n;
  const len = pick([2n << 20n, 64n << 20n, 4096n, 2n << 20n], y >> 4);
  return pick([`${after.toString(16)}-${(after + len - 1n).toString(16)}`, `${after.toString(16)}-${(after + len - 1n).toString(16)}`, 'bogus', '10000000000000000-0', `${(region?.start ?? 0n).toString(16)}-${((region?.start ?? 0n) + (2n << 20n) - 1n).toString(16)}`], y >> 6);
}
