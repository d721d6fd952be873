/**
 * The harness machines (QEMU command lines) and the memhp `boot` event each
 * really is, computed from what the guest reports at boot: its /proc/iomem,
 * memory blocks, block size, dax devices and MemTotal.
 */
import { ONLINE_TYPES, type OnlineType } from '../kernel/config.js';
import { KERNEL_VERSIONS, type KernelVersion } from '../kernel/profile.js';
import { descForName } from '../log/boot.js';
import type { BootEvent } from '../log/events.js';
import { parseBoot } from '../log/parse.js';
import type { Json } from '../log/writer.js';
import { hex, sizeString } from '../util/u64.js';
import type { IomemNode, MachineFacts } from './facts.js';

export const MACHINE_NAMES = ['hmem', 'pmem'] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

export function isMachineName(s: string): s is MachineName {
  return (MACHINE_NAMES as readonly string[]).includes(s);
}

const GIB = 1n << 30n;
const MIB = 1n << 20n;

/** What a log's boot must describe for a machine to run it (kernel-independent: set by the QEMU command line). */
export interface MachineShape {
  readonly memoryBlockSize: bigint;
  /** Each boot block (a block any RAM range touches) and its node, as "id:node" ranges. */
  readonly ramBlocks: ReadonlyMap<number, number>;
  readonly regions: readonly {
    readonly kind: 'pmem' | 'hmem' | 'cxl';
    readonly start: bigint;
    readonly size: bigint;
    readonly targetNode: number;
    readonly align: bigint;
    readonly namespace: { readonly name: string; readonly size: bigint } | null;
    readonly devices: readonly { readonly name: string; readonly ranges: readonly { readonly start: bigint; readonly size: bigint }[] }[];
  }[];
}

export interface MachineDef {
  readonly name: MachineName;
  readonly summary: string;
  readonly memory: string;
  /** QEMU arguments besides the accelerator, kernel and initrd. */
  readonly qemuArgs: readonly string[];
  /** Kernel arguments besides the common ones. */
  readonly append: string;
  readonly shape: MachineShape;
}

/** Every machine: 6 GiB in two NUMA nodes (5 + 1); QEMU's pc board puts 3 GiB below 4 GiB, the rest from 4 GiB. */
const NUMA_2 = [
  '-object', 'memory-backend-ram,id=m0,size=5G',
  '-object', 'memory-backend-ram,id=m1,size=1G',
  '-numa', 'node,nodeid=0,memdev=m0',
  '-numa', 'node,nodeid=1,memdev=m1',
] as const;

/**
 * nokaslr fixes physical placement (and so which boot blocks hold unmovable
 * pages); memhp_default_state=offline keeps hot-added blocks offline.
 */
export const COMMON_APPEND = 'console=ttyS0,115200 nokaslr loglevel=1 panic=-1 memhp_default_state=offline';

function blocks(ranges: readonly [number, number, number][]): Map<number, number> {
  const m = new Map<number, number>();
  for (const [first, last, node] of ranges) for (let id = first; id <= last; id++) m.set(id, node);
  return m;
}

export const MACHINES: Readonly<Record<MachineName, MachineDef>> = {
  hmem: {
    name: 'hmem',
    summary: "node 1's GiB (0x180000000-0x1bfffffff) Soft Reserved: dax_hmem makes hmem.0 / region 0 / dax0.0",
    memory: '6G',
    // -cpu max advertises pdpe1gb, so align-1G device-dax mappings use real 1 GiB pages
    // (KERNEL-FACTS-DEVDAX §4.3: TCG's default qemu64 lacks it, though the kernel maps them anyway).
    qemuArgs: [...NUMA_2, '-cpu', 'max'],
    append: 'memmap=1G%0x180000000+0xefffffff',
    shape: {
      memoryBlockSize: 128n * MIB,
      ramBlocks: blocks([[0, 23, 0], [32, 47, 0]]),
      regions: [
        {
          kind: 'hmem',
          start: 0x180000000n,
          size: GIB,
          targetNode: 1,
          align: 2n * MIB,
          namespace: null,
          devices: [{ name: 'dax0.0', ranges: [{ start: 0x180000000n, size: GIB }] }],
        },
      ],
    },
  },
  pmem: {
    name: 'pmem',
    summary: 'legacy pmem at 0x140000000-0x17fffffff (node 0); ndctl makes a devdax namespace0.0 with 18 MiB of metadata and dax0.0',
    memory: '6G',
    qemuArgs: NUMA_2,
    append: 'memmap=1G!0x140000000',
    shape: {
      memoryBlockSize: 128n * MIB,
      ramBlocks: blocks([[0, 23, 0], [32, 39, 0], [48, 55, 1]]),
      regions: [
        {
          kind: 'pmem',
          start: 0x140000000n,
          size: GIB,
          targetNode: 0,
          align: 2n * MIB,
          namespace: { name: 'namespace0.0', size: 18n * MIB },
          devices: [{ name: 'dax0.0', ranges: [{ start: 0x141200000n, size: GIB - 18n * MIB }] }],
        },
      ],
    },
  },
};

// ---------------------------------------------------------------- matching a log's boot

/** The machine shape a boot event describes. */
export function shapeOf(boot: BootEvent): MachineShape {
  const bs = boot.memoryBlockSize;
  const ramBlocks = new Map<number, number>();
  for (const r of boot.ram) {
    for (let id = r.start / bs; id <= (r.start + r.size - 1n) / bs; id++) ramBlocks.set(Number(id), r.node);
  }
  return {
    memoryBlockSize: bs,
    ramBlocks,
    regions: boot.daxRegions.map((r) => ({
      kind: r.kind,
      start: r.start,
      size: r.size,
      targetNode: r.targetNode,
      align: r.align,
      namespace: r.namespace,
      devices: r.devices.map((d) => ({ name: d.name, ranges: d.ranges })),
    })),
  };
}

function describeBlocks(m: ReadonlyMap<number, number>): string {
  const ids = [...m.keys()].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < ids.length) {
    const first = ids[i] as number;
    const node = m.get(first);
    let last = first;
    while (i + 1 < ids.length && ids[i + 1] === last + 1 && m.get(last + 1) === node) last = ids[++i] as number;
    parts.push(`${first === last ? first : `${first}-${last}`} (node ${node})`);
    i++;
  }
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** Why `boot` is not machine `def` (empty: it is). Only what the QEMU command line fixes is compared. */
export function shapeDifferences(boot: BootEvent, def: MachineDef): string[] {
  const got = shapeOf(boot);
  const want = def.shape;
  const out: string[] = [];
  if (got.memoryBlockSize !== want.memoryBlockSize)
    out.push(`memoryBlockSize is ${sizeString(got.memoryBlockSize)}, the machine's is ${sizeString(want.memoryBlockSize)}`);
  else {
    const a = describeBlocks(got.ramBlocks);
    const b = describeBlocks(want.ramBlocks);
    if (a !== b) out.push(`ram[] covers blocks ${a}; the machine's RAM is blocks ${b}`);
  }
  if (got.regions.length !== want.regions.length) {
    out.push(`daxRegions has ${got.regions.length} region(s), the machine ${want.regions.length}`);
    return out;
  }
  got.regions.forEach((g, i) => {
    const w = want.regions[i];
    if (w === undefined) return;
    const at = `daxRegions[${i}]`;
    if (g.kind !== w.kind) out.push(`${at}.kind is ${g.kind}, the machine's is ${w.kind}`);
    if (g.start !== w.start || g.size !== w.size)
      out.push(`${at} is ${hex(g.start)}+${sizeString(g.size)}, the machine's is ${hex(w.start)}+${sizeString(w.size)}`);
    if (g.targetNode !== w.targetNode) out.push(`${at}.targetNode is ${g.targetNode}, the machine's is ${w.targetNode}`);
    if (g.align !== w.align) out.push(`${at}.align is ${sizeString(g.align)}, the machine's is ${sizeString(w.align)}`);
    const ns = (n: { name: string; size: bigint } | null): string => (n === null ? 'none' : `${n.name} (${sizeString(n.size)})`);
    if (ns(g.namespace) !== ns(w.namespace)) out.push(`${at}.namespace is ${ns(g.namespace)}, the machine's is ${ns(w.namespace)}`);
    const devs = (ds: MachineShape['regions'][number]['devices']): string =>
      ds.map((d) => `${d.name} ${d.ranges.map((r) => `${hex(r.start)}+${sizeString(r.size)}`).join(',')}`).join('; ');
    if (devs(g.devices) !== devs(w.devices)) out.push(`${at}.devices are [${devs(g.devices)}], the machine's are [${devs(w.devices)}]`);
  });
  return out;
}

export type MachineMatch = { readonly ok: true; readonly machine: MachineDef } | { readonly ok: false; readonly message: string };

/**
 * The harness machine a log's boot describes. `only` restricts the choice
 * (--machine). A boot no machine has is refused with every difference named.
 */
export function matchMachine(boot: BootEvent, only?: MachineName): MachineMatch {
  const candidates = only === undefined ? MACHINE_NAMES.map((n) => MACHINES[n]) : [MACHINES[only]];
  const why: string[] = [];
  for (const def of candidates) {
    const diffs = shapeDifferences(boot, def);
    if (diffs.length === 0) return { ok: true, machine: def };
    why.push(`  ${def.name} (${def.summary}):\n${diffs.map((d) => `    - ${d}`).join('\n')}`);
  }
  return {
    ok: false,
    message: `the log's boot matches no harness machine (the kernel check can only run on these):\n${why.join('\n')}\nPrint a machine's boot with \`memhp kernel machine hmem|pmem\` and start the log from it.`,
  };
}

// ---------------------------------------------------------------- the boot event from guest facts

/** The model profile for a kernel release ("6.1.0-56-cloud-amd64"): the newest profile not newer than it. */
export function profileFor(release: string): { profile: KernelVersion; exact: boolean } | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return null;
  const v = Number(m[1]) * 1000 + Number(m[2]);
  let best: KernelVersion | null = null;
  for (const p of KERNEL_VERSIONS) {
    const [a, b] = p.split('.').map(Number);
    if ((a ?? 0) * 1000 + (b ?? 0) <= v) best = p;
  }
  return best === null ? null : { profile: best, exact: best === `${m[1]}.${m[2]}` };
}

/**
 * Whether the kernel marks a static firmware resource IORESOURCE_BUSY (what
 * /proc/iomem cannot show): e820 entries of every type but PRAM/PMEM/soft
 * reserved (e820__reserve_resources, do_mark_busy), the kernel image
 * (setup_arch: code, rodata, data, bss), ROMs (probe_roms), the IOAPIC,
 * HPET and local APIC windows, and test_hmm's device-private chunks
 * ("hmm_dmirror": get_free_mem_region's __request_region_locked). Bus
 * windows and platform devices ("PCI Bus", "hmem.0", "PNP0103:00") are not.
 *
 * Known harness bug (found recording test/traces-custom/hmm/placement.jsonl):
 * do_mark_busy leaves an e820 "Reserved" range above 1 MiB non-BUSY (the
 * custom hmm kernel nested a probed block inside fd00000000-ffffffffff),
 * but this marks every "Reserved" BUSY, and the committed corpus boots carry
 * that. Fix: busy only below 1 MiB, with the corpus boots' flags rewritten.
 */
export function staticBusy(name: string): boolean {
  return /^(Reserved|Kernel (code|rodata|data|bss)|System ROM|Video ROM|Adapter ROM|IOAPIC \d+|HPET \d+|Local APIC|ACPI Tables|ACPI Non-volatile Storage|Unknown E820 type|hmm_dmirror)$/.test(name);
}

const REGION_NAMES = /^(Soft Reserved|Persistent Memory( \(legacy\))?|CXL Window \d+)$/;

function contains(n: IomemNode, start: bigint, end: bigint): boolean {
  return n.start <= start && end <= n.end;
}

function pageCount(start: bigint, size: bigint): bigint {
  // As the model's boot counts them (src/kernel/boot.ts): whole pages between the rounded-down ends.
  return (start + size) / 4096n - start / 4096n;
}

export interface DerivedBoot {
  /** The boot event as JSON (every field the schema knows, addresses as hex). */
  readonly json: { [key: string]: Json };
  readonly event: BootEvent;
  /** What the derivation could not say exactly (an inexact profile, an unknown device). */
  readonly notes: readonly string[];
}

export interface DeriveOptions {
  /** Boot block ids whose offline fails EBUSY (from the machine probe). */
  readonly unmovable: readonly number[];
  /** The model profile to use; by default the newest not newer than the guest's kernel. */
  readonly profile?: KernelVersion;
  /** The dax drivers the guest has (/sys/bus/dax/drivers/*). */
  readonly daxDrivers: readonly string[];
  /** The Kconfig-dependent files of /sys/devices/system/memory/ the guest has (crash_hotplug, soft_offline_page, ...). */
  readonly memoryFiles?: readonly string[];
  /** Kernel functions that exist only with a Kconfig option, as the guest found them in /proc/kallsyms (harness/guest/init). */
  readonly kallsyms?: readonly string[];
  /** The block devices the guest made for swapon/swapoff and which of them hold a swap signature. */
  readonly swap?: readonly { readonly path: string; readonly area: boolean }[];
  /** The CPU's physical address bits from /proc/cpuinfo (x86_phys_bits); absent on older guests: the default stands. */
  readonly physBits?: number;
}

/** The memhp boot event of the machine the guest reported. Throws when the facts cannot describe one. */
export function deriveBoot(f: MachineFacts, opts: DeriveOptions): DerivedBoot {
  const notes: string[] = [];
  let kernel = opts.profile;
  if (kernel === undefined) {
    const p = profileFor(f.uname);
    if (p === null) throw new Error(`kernel ${f.uname} is older than every model profile (${KERNEL_VERSIONS.join(', ')})`);
    if (!p.exact) notes.push(`kernel ${f.uname} has no profile of its own; replaying with profile ${p.profile} (choose one with --profile)`);
    kernel = p.profile;
  }
  const B = f.blockSize;
  const nodeOfBlock = new Map(f.blocks.map((b) => [b.id, b.node ?? 0]));

  // ram[]: the top-level System RAM ranges, split where the node (per block) changes.
  const ram: { start: string; size: string; node: number }[] = [];
  let ramPages = 0n;
  for (const r of f.iomem.filter((n) => n.name === 'System RAM')) {
    let s = r.start;
    const e = r.end + 1n;
    while (s < e) {
      const node = nodeOfBlock.get(Number(s / B)) ?? 0;
      let t = s;
      while (t < e && (nodeOfBlock.get(Number(t / B)) ?? 0) === node) t = (t / B + 1n) * B;
      if (t > e) t = e;
      ram.push({ start: hex(s), size: hex(t - s), node });
      ramPages += pageCount(s, t - s);
      s = t;
    }
  }
  if (ram.length === 0) throw new Error('the guest reported no System RAM in /proc/iomem');

  // daxRegions[]: the region resource (Soft Reserved, Persistent Memory, CXL Window) holding each device.
  const regionNodes: IomemNode[] = [];
  const all: IomemNode[] = [];
  const flatten = (ns: readonly IomemNode[]): void => {
    for (const n of ns) {
      all.push(n);
      flatten(n.children);
    }
  };
  flatten(f.iomem);
  const regions = new Map<number, { [key: string]: Json }>();
  for (const d of f.dax) {
    if (d.resource === undefined || d.size === undefined) {
      notes.push(`${d.name}: no resource or size reported; left out`);
      continue;
    }
    const id = d.region?.id ?? Number(/^dax(\d+)\./.exec(d.name)?.[1] ?? 0);
    const kind = /hmem/.test(d.sysfs) ? 'hmem' : /cxl/.test(d.sysfs) ? 'cxl' : 'pmem';
    const holder = all.find((n) => REGION_NAMES.test(n.name) && contains(n, d.resource ?? 0n, (d.resource ?? 0n) + (d.size === 0n ? 0n : (d.size ?? 1n) - 1n)));
    if (holder === undefined) throw new Error(`${d.name} at ${hex(d.resource)} lies in no Soft Reserved / Persistent Memory / CXL Window resource`);
    let reg = regions.get(id);
    if (reg === undefined) {
      regionNodes.push(holder);
      const ns = holder.children.find((c) => /^namespace\d+\.\d+$/.test(c.name));
      if (ns !== undefined && ns.start !== holder.start) throw new Error(`${ns.name} does not start at its region's start ${hex(holder.start)}`);
      reg = {
        id,
        kind,
        name: holder.name,
        start: hex(holder.start),
        size: hex(holder.end - holder.start + 1n),
        targetNode: d.targetNode ?? -1,
        align: hex(d.region?.align ?? 2n * MIB),
        ...(ns === undefined ? {} : { namespace: { name: ns.name, size: hex(ns.end - ns.start + 1n) } }),
        devices: [],
      };
      regions.set(id, reg);
    }
    const devices = reg['devices'];
    if (Array.isArray(devices)) {
      const driver = d.driver === 'device_dax' || d.driver === 'kmem' ? d.driver : null;
      if (d.driver !== null && driver === null) notes.push(`${d.name} is bound to ${d.driver}, which the model does not know; described unbound`);
      devices.push({
        name: d.name,
        start: hex(d.resource),
        size: hex(d.size),
        align: hex(d.align ?? 2n * MIB),
        driver,
      });
    }
  }

  // A built-in test_hmm (lib/test_hmm.c's dmirror_fops_open in kallsyms): the model places its chunks at boot
  // (src/kernel/hmm/testHmm.ts), so its "hmm_dmirror" ranges are left out of the listing and compared instead.
  const testHmmBuiltIn = opts.kallsyms?.includes('dmirror_fops_open') === true;
  // iomem[]: every other resource, nested as the kernel nests them; the region subtrees are the model's to build.
  const iomem: { [key: string]: Json }[] = [];
  const walk = (ns: readonly IomemNode[], top: boolean): void => {
    for (const n of ns) {
      if (regionNodes.includes(n)) continue;
      if (testHmmBuiltIn && top && n.name === 'hmm_dmirror') continue;
      if (!(top && n.name === 'System RAM')) {
        iomem.push({ start: hex(n.start), end: hex(n.end), name: n.name, busy: staticBusy(n.name), desc: descForName(n.name) });
      }
      walk(n.children, false);
    }
  };
  walk(f.iomem, true);

  const autoOnline = (ONLINE_TYPES as readonly string[]).includes(f.autoOnlineBlocks) ? (f.autoOnlineBlocks as OnlineType) : 'offline';
  const memmap = f.memmapOnMemoryParam === 'Y' ? true : f.memmapOnMemoryParam === 'force' ? 'force' : false;
  const reservedKiB = Number(ramPages) * 4 - f.memTotalKiB;
  if (reservedKiB < 0) throw new Error(`MemTotal ${f.memTotalKiB} kB exceeds the System RAM in /proc/iomem`);
  const json: { [key: string]: Json } = {
    type: 'boot',
    kernel,
    config: {
      // valid_zones exists only with CONFIG_MEMORY_HOTREMOVE (drivers/base/memory.c).
      memoryHotremove: f.blocks.some((b) => b.validZones !== undefined),
      autoOnline,
      memmapOnMemory: memmap,
      structPageSize: 64,
      pageblockOrder: 9,
      movableNode: /(^|\s)movable_node(\s|$)/.test(f.cmdline),
      physmemBits: 46,
      devDaxKmem: opts.daxDrivers.includes('kmem'),
      // memory_root_attrs: these files exist only with their Kconfig option.
      ...(opts.memoryFiles?.includes('soft_offline_page') === true ? { memoryFailure: true } : {}),
      ...(opts.memoryFiles?.includes('crash_hotplug') === true ? { crashHotplug: true } : {}),
      ...(opts.memoryFiles?.includes('probe') === true ? { archMemoryProbe: true } : {}),
      // Kconfig options no file shows, by a function only they build (older guests report no kallsyms: left at the defaults).
      ...(opts.kallsyms === undefined || opts.kallsyms.length === 0
        ? {}
        : { devicePrivate: opts.kallsyms.includes('make_device_exclusive_range'), migration: opts.kallsyms.includes('migrate_pages') }),
      ...(testHmmBuiltIn ? { testHmm: 'y' } : {}),
      ...(opts.physBits === undefined ? {} : { physAddrBits: opts.physBits }),
      // CONFIG_PTE_MARKER has no function of its own (6.1: only inlines); every harness kernel has it (Debian 6.1
      // cloud and the custom hmm kernel: y; 6.12: no such option, always on), so the default (true) stands.
    },
    memoryBlockSize: hex(B),
    ram,
    iomem,
    unmovable: [...opts.unmovable].sort((a, b) => a - b),
    reservedKiB,
    ...(opts.swap === undefined || opts.swap.length === 0
      ? {}
      : { blockDevices: opts.swap.map((s) => s.path), swapAreas: opts.swap.filter((s) => s.area).map((s) => s.path) }),
    daxRegions: [...regions.values()],
  };
  return { json, event: parseBoot(json), notes };
}
