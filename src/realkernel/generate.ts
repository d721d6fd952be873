/**
 * A simple generator of valid operations on a harness machine, for the
 * differential fuzzer: bind / unbind / new_id / remove_id on both drivers,
 * `state` and `online` writes with every value the kernel parses (and some
 * it refuses), auto_online_blocks, the dax device's size and align, and
 * reads of every file the model knows (SPEC §3), including the ones that
 * fail (write-only files, read-only files, missing blocks and devices).
 * It follows the model only to aim block operations at blocks that exist;
 * the kernel and the model decide what each step does.
 */
import type { KernelVersion } from '../kernel/profile.js';
import type { BootEvent, ProgramEvent, ReadEvent, WriteEvent } from '../log/events.js';
import { parseBoot } from '../log/parse.js';
import { Replayer } from '../replay/engine.js';
import { hex } from '../util/u64.js';
import { MACHINES, type MachineDef, type MachineName } from './machine.js';
import { mappingSysfsStep, programPrologue, programStep } from './generateProgram.js';
import { HmmGenerator } from './generateHmm.js';

/** mulberry32: a small, seedable PRNG (the same seed gives the same sequences on every host). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** In [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    const x = items[Math.floor(this.next() * items.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
  /** One of `choices`, with probability proportional to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of choices) {
      x -= w;
      if (x < 0) return v;
    }
    const last = choices[choices.length - 1];
    if (last === undefined) throw new Error('weighted pick from an empty list');
    return last[1];
  }
}

/** What the generator needs to know about a machine. */
interface Targets {
  /** Blocks kmem hot-adds from the dax device. */
  readonly hotBlocks: readonly number[];
  /** Boot blocks worth poking (a zone-spanning one, one with a hole, unmovable ones, plain ones) and ids that do not exist. */
  readonly otherBlocks: readonly number[];
  /** Whether the device's size and align are writable (a dynamic, hmem, region). */
  readonly resizable: boolean;
}

const TARGETS: Readonly<Record<MachineName, Targets>> = {
  // dax0.0 covers 0x180000000-0x1bfffffff: blocks 48-55. Block 0 spans DMA and DMA32, 23 holds the e820 hole, 32 and 47 unmovable pages; 24-31 and 56 do not exist.
  hmem: { hotBlocks: [48, 49, 50, 51, 52, 53, 54, 55], otherBlocks: [0, 10, 23, 32, 40, 46, 47, 30, 56], resizable: true },
  // dax0.0 starts 18 MiB into 0x140000000: kmem adds blocks 41-47. 39 is the last node-0 boot block, 48-55 node 1's boot RAM, 40 is the region's partial first block.
  pmem: { hotBlocks: [41, 42, 43, 44, 45, 46, 47], otherBlocks: [0, 10, 23, 32, 39, 40, 48, 55, 56], resizable: false },
};

const MEM = '/sys/devices/system/memory';
const DAX = '/sys/bus/dax';
const DEVICE_FILES = ['target_node', 'size', 'align', 'resource'] as const;
const MIB = 1n << 20n;

type Step = WriteEvent | ReadEvent | ProgramEvent;

const w = (path: string, value: string, raw = false): WriteEvent => ({ type: 'write', path, value, raw });
const r = (path: string): ReadEvent => ({ type: 'read', path });

function deviceName(g: Rng): string {
  return g.weighted([
    [85, 'dax0.0'],
    [3, 'dax0.1'],
    [3, 'dax1.0'],
    [3, 'garbage'],
    [2, 'dax00.0'],
    [2, 'dax-1.0'],
    [2, ''],
  ]);
}

/**
 * A block to write or read: mostly a hot-added one. The generator follows
 * the model (`present`: the hot-added blocks that exist now), so that most
 * block operations reach an existing block rather than ENOENT.
 */
function block(g: Rng, t: Targets, present: readonly number[]): number {
  const x = g.next();
  if (x < 0.65 && present.length > 0) return g.pick(present);
  return x < 0.8 ? g.pick(t.hotBlocks) : g.pick(t.otherBlocks);
}

function driverOp(g: Rng): Step {
  const drv = g.weighted([
    [6, 'kmem'],
    [4, 'device_dax'],
  ]);
  const file = g.weighted([
    [30, 'bind'],
    [20, 'unbind'],
    [30, 'new_id'],
    [20, 'remove_id'],
  ]);
  return w(`${DAX}/drivers/${drv}/${file}`, deviceName(g));
}

function blockWrite(g: Rng, t: Targets, present: readonly number[]): Step {
  const id = block(g, t, present);
  if (g.next() < 0.75) {
    const value = g.weighted([
      [25, 'online'],
      [25, 'online_movable'],
      [15, 'online_kernel'],
      [30, 'offline'],
      [2, 'ONLINE'],
      [2, ' online'],
      [1, 'going-offline'],
    ]);
    return w(`${MEM}/memory${id}/state`, value);
  }
  if (g.next() < 0.1) return w(`${MEM}/memory${id}/online`, g.pick(['', '1', '0']), true);
  return w(`${MEM}/memory${id}/online`, g.pick(['1', '0', 'y', 'n', 'on', 'off', 'yes', 'no', 'Y', 'N', '2', 'garbage', '']));
}

function readOp(g: Rng, t: Targets, present: readonly number[]): Step {
  return g.weighted<() => Step>([
    [20, () => r('/proc/iomem')],
    [6, () => r('/proc/meminfo')],
    [30, () => r(`${MEM}/memory${block(g, t, present)}/${g.weighted([[35, 'state'], [15, 'online'], [5, 'phys_index'], [30, 'valid_zones'], [3, 'phys_device'], [3, 'removable']] as const)}`)],
    [12, () => r(`${DAX}/devices/${g.weighted([[9, 'dax0.0'], [1, 'dax0.1']])}/${g.pick(DEVICE_FILES)}`)],
    [4, () => r(`${MEM}/${g.pick(['block_size_bytes', 'auto_online_blocks'])}`)],
    // Write-only files refuse a read at open (EACCES); a directory is EISDIR.
    [3, () => r(`${DAX}/drivers/${g.pick(['kmem', 'device_dax'])}/${g.pick(['bind', 'unbind', 'new_id', 'remove_id'])}`)],
    [1, () => r(g.pick([`${MEM}`, `${DAX}/devices/dax0.0`, `${MEM}/memory48`]))],
  ])();
}

function autoOnlineOp(g: Rng): Step {
  return w(`${MEM}/auto_online_blocks`, g.weighted([[30, 'offline'], [25, 'online'], [20, 'online_kernel'], [20, 'online_movable'], [5, 'on']]));
}

function resizeOp(g: Rng): Step {
  if (g.next() < 0.6) {
    // Whole blocks, parts of a block (kmem aligns the range inward to blocks), too big, and not 2M-aligned.
    const size = g.pick([0n, 64n * MIB, 132n * MIB, 256n * MIB, 512n * MIB, 768n * MIB, 1022n * MIB, 1024n * MIB, 2048n * MIB, MIB + 1n]);
    return w(`${DAX}/devices/dax0.0/size`, g.next() < 0.9 ? size.toString() : 'garbage');
  }
  return w(`${DAX}/devices/dax0.0/align`, g.pick(['4096', '2097152', '1073741824', '12345', 'garbage']));
}

function readOnlyWrite(g: Rng, t: Targets): Step {
  return g.pick<() => Step>([
    () => w(`${MEM}/memory${g.pick(t.hotBlocks)}/${g.pick(['phys_index', 'valid_zones', 'phys_device', 'removable'])}`, '1'),
    () => w(`${MEM}/block_size_bytes`, '8000000'),
    () => w(`${DAX}/devices/dax0.0/${g.pick(['target_node', 'resource'])}`, '0'),
    () => w(g.pick(['/proc/iomem', '/proc/meminfo']), 'x'),
  ])();
}

/**
 * How a sequence starts. A uniformly random walk rarely gets past the boot
 * state (no hot-added blocks, so most block writes are ENOENT); most
 * sequences therefore start by handing dax0.0 to kmem, sometimes with
 * auto-onlining on. Where the device boots on device_dax (6.1, and pmem on
 * every kernel) that is the walkthrough's device_dax unbind and kmem new_id;
 * where it boots on kmem (hmem from v6.3, dax_bus_match by type) it is there
 * already, and the prologue instead unbinds kmem now and then (with every
 * block offline: the memory goes away) so device_dax and re-probes get
 * their turn.
 */
function prologue(g: Rng, bootDriver: 'device_dax' | 'kmem' | null): Step[] {
  const auto = (): Step => w(`${MEM}/auto_online_blocks`, g.pick(['online', 'online_kernel', 'online_movable']));
  if (bootDriver === 'kmem') {
    const unbind = w(`${DAX}/drivers/kmem/unbind`, 'dax0.0');
    return g.weighted<() => Step[]>([
      [45, () => []],
      [15, () => [auto(), unbind, w(`${DAX}/drivers/kmem/bind`, 'dax0.0')]],
      [15, () => [unbind]],
      [25, () => [unbind, w(`${DAX}/drivers/device_dax/bind`, 'dax0.0')]],
    ])();
  }
  const unbind = w(`${DAX}/drivers/device_dax/unbind`, 'dax0.0');
  const toKmem = w(`${DAX}/drivers/kmem/new_id`, 'dax0.0');
  return g.weighted<() => Step[]>([
    [45, () => [unbind, toKmem]],
    [15, () => [auto(), unbind, toKmem]],
    [15, () => [unbind]],
    [25, () => []],
  ])();
}

/**
 * `n` operations for `machine` on a kernel the model profile `kernel`
 * describes (the prologue counts towards them). With `programs`, processes
 * map and touch the device between the sysfs operations
 * (src/realkernel/generateProgram.ts): about two steps in three are program
 * events, and the sysfs ones lean to unbind / bind / align.
 */
export function generateSteps(g: Rng, machine: MachineName, n: number, kernel: KernelVersion = '6.1', opts: { readonly programs?: boolean; readonly hmm?: boolean } = {}): Step[] {
  const t = TARGETS[machine];
  const programs = opts.programs === true;
  const hmm = opts.hmm === true;
  const model = new Replayer({ keepSteps: false });
  model.feed(shapeBoot(MACHINES[machine], kernel, hmm));
  // test_hmm programs remember what the model's state does not say (each mmap's extent, stale device page tables).
  const hmmGen = hmm ? new HmmGenerator() : null;
  const bootDriver = model.current.devices.find((d) => d.name === 'dax0.0')?.driver ?? null;
  const out: Step[] = (programs ? programPrologue(g, bootDriver) : prologue(g, bootDriver)).slice(0, n);
  for (const e of out) model.feed(e);
  for (let i = out.length; i < n; i++) {
    const blocks = model.current.blocks;
    const present = t.hotBlocks.filter((id) => blocks.get(id)?.boot === false);
    const kind = g.weighted([
      [28, 'driver'],
      [30, 'block'],
      [28, 'read'],
      [6, 'auto'],
      [t.resizable ? 6 : 1, 'resize'],
      [2, 'readonly'],
      [programs ? 200 : 0, 'program'],
      [programs ? 40 : 0, 'mapsys'],
      [hmm ? 400 : 0, 'hmm'],
    ] as const);
    switch (kind) {
      case 'program':
        out.push(programStep(g, model.current));
        break;
      case 'hmm':
        if (hmmGen !== null) out.push(hmmGen.step(g, model.current));
        break;
      case 'mapsys':
        out.push(mappingSysfsStep(g));
        break;
      case 'driver':
        out.push(driverOp(g));
        break;
      case 'block':
        out.push(blockWrite(g, t, present));
        break;
      case 'read':
        out.push(readOp(g, t, present));
        break;
      case 'auto':
        out.push(autoOnlineOp(g));
        break;
      case 'resize':
        out.push(resizeOp(g));
        break;
      case 'readonly':
        out.push(readOnlyWrite(g, t));
        break;
    }
    const last = out[out.length - 1];
    const applied = last === undefined ? null : model.feed(last);
    if (applied !== null) hmmGen?.observe(applied);
  }
  return out.map((e, i) => ({ ...e, seq: i + 1 }));
}

/**
 * A boot event with the machine's shape (what matchMachine compares), for a
 * generated log; recording replaces it with the boot the guest reports. The
 * devices go to the driver the bus would match at registration on `kernel`
 * (no driver given): device_dax on 6.1, kmem for hmem from v6.3.
 */
/** `hmm`: the custom hmm kernel's configuration (DEVICE_PRIVATE, test_hmm built in, QEMU's 40 physical address bits). */
export function shapeBoot(def: MachineDef, kernel: KernelVersion = '6.1', hmm = false): BootEvent {
  const s = def.shape;
  const ram: { start: string; size: string; node: number }[] = [];
  const ids = [...s.ramBlocks.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const node = s.ramBlocks.get(id) ?? 0;
    const start = BigInt(id) * s.memoryBlockSize;
    const last = ram[ram.length - 1];
    if (last !== undefined && last.node === node && BigInt(last.start) + BigInt(last.size) === start) last.size = hex(BigInt(last.size) + s.memoryBlockSize);
    else ram.push({ start: hex(start), size: hex(s.memoryBlockSize), node });
  }
  return parseBoot({
    type: 'boot',
    kernel,
    config: { memoryHotremove: true, autoOnline: 'offline', ...(hmm ? { devicePrivate: true, testHmm: 'y', physAddrBits: 40 } : {}) },
    memoryBlockSize: hex(s.memoryBlockSize),
    ram,
    daxRegions: s.regions.map((r, id) => ({
      id,
      kind: r.kind,
      start: hex(r.start),
      size: hex(r.size),
      targetNode: r.targetNode,
      align: hex(r.align),
      ...(r.namespace === null ? {} : { namespace: { name: r.namespace.name, size: hex(r.namespace.size) } }),
      devices: r.devices.map((d) => ({ name: d.name, ranges: d.ranges.map((x) => ({ start: hex(x.start), size: hex(x.size) })) })),
    })),
  });
}
