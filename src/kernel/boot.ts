/**
 * The machine as firmware and the command line describe it: the boot event
 * turned into the initial state. Mirrors, loosely, e820 / SRAT parsing
 * (arch/x86/kernel/e820.c: System RAM and reserved ranges inserted with
 * insert_resource), memory_dev_init (boot blocks online, in the zone their
 * address gives), the dax region producers (dax_pmem, dax_hmem, cxl) and the
 * driver-core probe at boot.
 */
import { bootSwap } from './mm/swapfile.js';
import { EMPTY_MM, withMm, type MmState } from './mm/types.js';
import { KMEM_PERSIST_MODULE_DEFAULTS } from './dax/kmemPersistTypes.js';
import { HMM_UNLOADED } from './hmm/types.js';
import { bootTestHmm } from './hmm/testHmm.js';
import type { BootEvent } from '../log/events.js';
import { IntMap } from '../util/intMap.js';
import { daxBusMatch, daxBusProbe, reallyProbeFailed } from './dax/bus.js';
import { Op } from './op.js';
import { KernelOops } from './oops.js';
import { makeProfile } from './profile.js';
import {
  IORESOURCE_BUSY,
  IORESOURCE_MEM,
  IORESOURCE_SYSTEM_RAM,
  IORES_DESC_CXL,
  IORES_DESC_NONE,
  IORES_DESC_PERSISTENT_MEMORY,
  IORES_DESC_PERSISTENT_MEMORY_LEGACY,
  IORES_DESC_SOFT_RESERVED,
  insertResource,
  iomemRoot,
  requestRegion,
  type Resource,
} from './resource.js';
import { internBlock, withState, type DaxDevice, type DaxRegion, type KernelState, type MemoryBlock, type ZoneSpan } from './state.js';
import { bootZoneOfPfn, MAX_DMA32_PFN, MAX_DMA_PFN, spanKey } from './zones.js';
import type { ZoneName } from '../../machines/index.js';

interface StaticNode {
  readonly start: bigint;
  readonly end: bigint;
  readonly name: string;
  readonly flags: number;
  readonly desc: number;
}

function regionDesc(kind: 'pmem' | 'hmem' | 'cxl', name: string): number {
  if (kind === 'hmem') return IORES_DESC_SOFT_RESERVED;
  if (kind === 'cxl') return IORES_DESC_CXL;
  return name.includes('legacy') ? IORES_DESC_PERSISTENT_MEMORY_LEGACY : IORES_DESC_PERSISTENT_MEMORY;
}

export interface BootResult {
  readonly state: KernelState;
  readonly log: readonly string[];
  /** What the boot-time probes did (failure branches, machine transitions). */
  readonly branches: readonly string[];
  readonly transitions: readonly string[];
}

/** Build the state the kernel has after boot; the boot event is assumed validated by the log reader. */
export function bootKernel(boot: BootEvent, kept: Pick<MmState, 'mem' | 'fills'> | null = null): BootResult {
  const profile = makeProfile(boot.kernel, boot.variant, boot.patches);
  const blockSize = boot.memoryBlockSize;
  const blockPages = Number(blockSize / 4096n);

  const nodes: StaticNode[] = [
    ...boot.ram.map((r) => ({ start: r.start, end: r.start + r.size - 1n, name: 'System RAM', flags: (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY) >>> 0, desc: IORES_DESC_NONE })),
    ...boot.iomem.map((e) => ({ start: e.start, end: e.end, name: e.name, flags: (IORESOURCE_MEM | (e.busy ? IORESOURCE_BUSY : 0)) >>> 0, desc: e.desc })),
    ...boot.daxRegions.map((r) => ({ start: r.start, end: r.start + r.size - 1n, name: r.name, flags: IORESOURCE_MEM, desc: regionDesc(r.kind, r.name) })),
  ];
  // Containers first, so that insert_resource nests the rest under them.
  nodes.sort((a, b) => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  let iomem: Resource = iomemRoot();
  for (const n of nodes) {
    const r = insertResource(iomem, { start: n.start, end: n.end, name: n.name, flags: n.flags, desc: n.desc, children: [] });
    if (!r.ok) throw new Error(`model bug: boot resource ${n.name} conflicts (the reader should have refused it)`);
    iomem = r.root;
  }
  // dax_pmem reserves the namespace metadata area as a BUSY node.
  for (const r of boot.daxRegions) {
    if (r.namespace === null) continue;
    const req = requestRegion(iomem, r.start, r.namespace.size, r.namespace.name);
    if (!req.ok) throw new Error(`model bug: namespace ${r.namespace.name} conflicts`);
    iomem = req.root;
  }

  // Boot memory blocks: one per block-sized chunk holding RAM, online, in the zone its pages are in.
  const unmovable = new Set(boot.unmovable);
  const perBlock = new Map<number, { pages: number; nid: number; zones: Set<ZoneName> }>();
  const spans = new Map<number, ZoneSpan>();
  // zone_spanned_pages_in_node: each zone spans the node's range clamped to the zone's limits, holes included.
  const nodeSpan = new Map<number, { start: number; end: number }>();
  for (const r of boot.ram) {
    const s = Number(r.start / 4096n);
    const e = Number((r.start + r.size) / 4096n);
    const old = nodeSpan.get(r.node);
    nodeSpan.set(r.node, old === undefined ? { start: s, end: e } : { start: Math.min(old.start, s), end: Math.max(old.end, e) });
  }
  for (const [nid, n] of nodeSpan) {
    for (const [zone, lo, hi] of [['DMA', 0, MAX_DMA_PFN], ['DMA32', MAX_DMA_PFN, MAX_DMA32_PFN], ['Normal', MAX_DMA32_PFN, Number.MAX_SAFE_INTEGER]] as const) {
      const s = Math.min(Math.max(n.start, lo), hi);
      const e = Math.min(Math.max(n.end, lo), hi);
      if (s < e) spans.set(spanKey(nid, zone), { startPfn: s, endPfn: e });
    }
  }
  for (const r of boot.ram) {
    const startPfn = Number(r.start / 4096n);
    const endPfn = Number((r.start + r.size) / 4096n);
    for (let id = Math.floor(startPfn / blockPages); id * blockPages < endPfn; id++) {
      const s = Math.max(startPfn, id * blockPages);
      const e = Math.min(endPfn, (id + 1) * blockPages);
      const cur = perBlock.get(id) ?? { pages: 0, nid: r.node, zones: new Set<ZoneName>() };
      cur.pages += e - s;
      cur.zones.add(bootZoneOfPfn(s));
      cur.zones.add(bootZoneOfPfn(e - 1));
      perBlock.set(id, cur);
    }
  }
  let present = 0;
  const bootBlocks: Array<[number, MemoryBlock]> = [];
  for (const [id, info] of perBlock) {
    const zone = info.zones.size === 1 ? ([...info.zones][0] as ZoneName) : null;
    bootBlocks.push([id, internBlock({ state: 'online', zone, nid: info.nid, boot: true, pages: info.pages, vmemmapPages: 0, memmapHost: null, group: null, unmovable: unmovable.has(id), addId: 0 })]);
    present += info.pages;
  }
  const blocks = IntMap.of(bootBlocks);

  const regions: DaxRegion[] = boot.daxRegions.map((r) => ({
    id: r.id,
    kind: r.kind,
    start: r.start + (r.namespace?.size ?? 0n),
    end: r.start + r.size - 1n,
    align: r.align,
    targetNode: r.targetNode,
    isStatic: r.kind === 'pmem',
    kmemType: r.kind !== 'pmem',
    map: r.map,
  }));
  const devices: DaxDevice[] = boot.daxRegions.flatMap((r) =>
    r.devices.map((d) => ({
      name: d.name,
      regionId: r.id,
      ranges: d.ranges.map((x) => ({ start: x.start, end: x.start + x.size - 1n })),
      align: d.align,
      targetNode: r.targetNode,
      memmapOnMemory: d.memmapOnMemory,
      phase: 'unbound' as const,
      driver: null,
      kmem: null,
      pgmap: false,
      mapped: null,
      cdevGen: 0,
      cdevRefs: 0,
    })),
  );
  const possibleNodes = [...new Set([...boot.ram.map((r) => r.node), ...boot.daxRegions.map((r) => r.targetNode).filter((n) => n >= 0)])].sort((a, b) => a - b);

  const state: KernelState = {
    profile,
    config: boot.config,
    blockSize,
    blockPages,
    iomem,
    blocks,
    zoneSpans: spans,
    possibleNodes,
    regions,
    devices,
    driverIds: { device_dax: [], kmem: [] },
    groups: new Map(),
    autoOnline: boot.config.autoOnline,
    anyHotremoveFailed: false,
    faults: [],
    presentPages: present,
    managedPages: present - boot.reservedKiB / 4,
    nextAddId: 1,
    bootReservedPages: boot.reservedKiB / 4,
    // What persistent memory kept across a reboot is there before any driver probes.
    mm: kept === null ? EMPTY_MM : withMm(EMPTY_MM, kept),
    swap: bootSwap(boot.blockDevices, boot.swapAreas),
    oops: null,
    boot,
    kmemPersist: KMEM_PERSIST_MODULE_DEFAULTS,
    hmm: HMM_UNLOADED,
    thp: boot.config.thp,
  };

  // The driver core probes each device at registration with the first matching driver.
  const op = new Op(state);
  for (const spec of boot.daxRegions.flatMap((r) => r.devices)) {
    const dev = op.state.devices.find((d) => d.name === spec.name);
    if (dev === undefined) continue;
    let drv = spec.driver;
    if (drv === 'auto') drv = daxBusMatch(op.state, 'kmem', dev) ? 'kmem' : daxBusMatch(op.state, 'device_dax', dev) ? 'device_dax' : null;
    if (drv === null) continue;
    try {
      const rc = daxBusProbe(op, drv, dev);
      if (!rc.ok) reallyProbeFailed(op, drv, dev.name, rc.errno);
    } catch (x) {
      // A probe at boot can crash the kernel too (the kmem persistence RFC's BUG_ONs): the machine boots dead.
      if (!(x instanceof KernelOops)) throw x;
      op.print(x.line);
      op.branch('oops', x.fn);
      op.state = withState(op.state, { oops: x.line });
      break;
    }
  }
  // A built-in test_hmm: lib/ links after drivers/, so its device_initcall runs after the dax drivers' probes.
  if (op.state.oops === null) bootTestHmm(op);
  return { state: op.state, log: op.log, branches: op.branches, transitions: op.transitions };
}
