/**
 * bootMachine: random machines as firmware would describe them — kernel
 * profile, block size, boot RAM with DMA32/Normal parts on one or two nodes,
 * 1–4 dax regions (pmem/hmem/cxl) at block-aligned and unaligned addresses,
 * some smaller than a block, multi-range devices, target nodes including -1
 * and nodes without memory, and every config switch that matters. Every
 * machine passes the log reader's own boot checks (test/properties/generator.test.ts).
 */
import type { PatchName } from '../../src/kernel/patches.js';
import fc from 'fast-check';
import type { BootConfig, OnlineType } from '../../src/kernel/config.js';
import type { KernelVersion, VariantName } from '../../src/kernel/profile.js';
import type { BootEvent, DaxDeviceSpec, DaxRegionSpec, DaxRegionKind } from '../../src/log/events.js';

const MIB = 1n << 20n;
const GIB = 1n << 30n;
const SZ_2M = 2n * MIB;

export interface MachineConstraints {
  /** Force this kernel profile (a variant usually names one). */
  readonly kernel?: KernelVersion;
  readonly variant?: VariantName | null;
  /** Patch series applied to every generated machine (SPEC §11, `fuzz --patches`). */
  readonly patches?: readonly PatchName[];
  /** Force config fields (e.g. memmapOnMemory for the memmap variants). */
  readonly config?: Partial<BootConfig>;
}

interface RegionDraft {
  readonly kind: DaxRegionKind;
  readonly gapMiB: number;
  readonly unalignedMiB: number;
  readonly sizeMiB: number;
  readonly targetNode: number;
  readonly twoDevices: boolean;
  readonly multiRange: boolean;
  readonly driver: 'auto' | 'device_dax' | 'kmem' | null;
  readonly memmap: boolean | null;
  /** A single-range device's align (dynamic regions, v5.10+): 4K, 2M or 1G (where the range allows it). */
  readonly deviceAlign: bigint;
}

const regionDraft: fc.Arbitrary<RegionDraft> = fc.record({
  kind: fc.constantFrom<DaxRegionKind>('pmem', 'hmem', 'cxl'),
  gapMiB: fc.constantFrom(0, 0, 2, 64, 128, 1024),
  // Offsets from block alignment, in 2 MiB steps: 0 gives block-aligned regions.
  unalignedMiB: fc.constantFrom(0, 0, 0, 2, 18, 126),
  // 64 MiB is smaller than any block; up to 2.5 GiB spans many 128 MiB blocks.
  sizeMiB: fc.constantFrom(64, 128, 256, 384, 512, 1024, 2048, 2560),
  targetNode: fc.constantFrom(0, 0, 1, 1, 2, -1),
  twoDevices: fc.boolean(),
  multiRange: fc.boolean(),
  driver: fc.constantFrom<RegionDraft['driver']>('auto', 'auto', 'auto', 'device_dax', 'kmem', null),
  memmap: fc.constantFrom(null, null, true, false),
  deviceAlign: fc.constantFrom(SZ_2M, SZ_2M, 4096n, 1n << 30n, 1n << 30n),
});

function onlineTypes(kernel: KernelVersion): readonly OnlineType[] {
  return kernel === '5.1' ? ['offline', 'online'] : ['offline', 'online', 'online_kernel', 'online_movable'];
}

/** A machine (boot event); `variant` and forced fields come from the constraints. */
export function bootMachine(c: MachineConstraints = {}): fc.Arbitrary<BootEvent> {
  const kernelArb = c.kernel !== undefined ? fc.constant(c.kernel) : fc.constantFrom<KernelVersion>('5.1', '6.1', '6.8', '6.12', '6.8', '6.12');
  // chain builds its inner arbitrary for every value drawn: built once per kernel instead (the same
  // arbitrary, so the same values and shrinks).
  const perKernel = new Map<KernelVersion, fc.Arbitrary<BootEvent>>();
  const forKernel = (kernel: KernelVersion): fc.Arbitrary<BootEvent> =>
    fc
      .record({
        blockShift: fc.constantFrom(27, 27, 27, 28, 30, 31),
        lowGiB: fc.constantFrom(1, 2, 3),
        highGiB: fc.constantFrom(0, 2, 4),
        node1GiB: fc.constantFrom(0, 0, 1, 2),
        regions: fc.array(regionDraft, { minLength: 1, maxLength: 4 }),
        config: fc.record({
          memoryHotremove: fc.boolean(),
          autoOnline: fc.constantFrom(...onlineTypes(kernel)),
          memmapOnMemory: fc.constantFrom<boolean | 'force'>(false, true, true, 'force'),
          structPageSize: fc.constantFrom<64 | 72>(64, 64, 64, 72),
          pageblockOrder: fc.constantFrom<9 | 10>(9, 9, 9, 10),
          movableNode: fc.boolean(),
          physmemBits: fc.constant<46>(46),
          devDaxKmem: fc.constant(true),
          // Only add files to /sys/devices/system/memory/ (no kernel path reads them): not drawn.
          memoryFailure: fc.constant(false),
          crashHotplug: fc.constant(false),
          // The probe file is a hot-add path of its own (src/kernel/memoryProbe.ts), tested by hand; the step generator does not write it yet.
          archMemoryProbe: fc.constant(false),
          // MAX_SWAPFILES's terms (src/kernel/mm/swapfile.ts): only swapon reads them, and generated machines have no
          // block devices (the step generator emits no swapon): not drawn, so the campaigns' seeds keep their runs.
          devicePrivate: fc.constant(false),
          migration: fc.constant(true),
          pteMarker: fc.constant(true),
          // test_hmm and the CPU's physical address bits (src/kernel/hmm/): constants (no draw, so the campaigns' seeds
          // keep their runs); the HMM variants force them (properties/variants.ts).
          testHmm: fc.constant<'n'>('n'),
          physAddrBits: fc.constant(46),
          // Debian's default; a constant draws nothing, so the campaigns' seeds keep their runs.
          thp: fc.constant('always' as const),
        }),
        unmovable: fc.array(fc.nat(), { maxLength: 2 }),
        reservedMiB: fc.constantFrom(0, 0, 64, 190),
        beyondPhysmem: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
      })
      .map((p): BootEvent => {
        const B = 1n << BigInt(p.blockShift);
        const config: BootConfig = { ...p.config, ...c.config };
        const ram: Array<{ start: bigint; size: bigint; node: number }> = [{ start: 0n, size: BigInt(p.lowGiB) * GIB, node: 0 }];
        let top = 4n * GIB;
        if (p.highGiB > 0) {
          ram.push({ start: top, size: BigInt(p.highGiB) * GIB, node: 0 });
          top += BigInt(p.highGiB) * GIB;
        }
        if (p.node1GiB > 0) {
          ram.push({ start: top, size: BigInt(p.node1GiB) * GIB, node: 1 });
          top += BigInt(p.node1GiB) * GIB;
        }
        // Dax regions above all RAM, each starting on a block boundary plus an optional 2 MiB-step offset.
        // Now and then the regions sit above MAX_PHYSMEM_BITS (46), where hot-add is -E2BIG.
        let cursor = p.beyondPhysmem ? 1n << 46n : ((top + B - 1n) / B) * B;
        const daxRegions: DaxRegionSpec[] = p.regions.map((r, id) => {
          const kind: DaxRegionKind = r.kind;
          cursor = ((cursor + BigInt(r.gapMiB) * MIB + B - 1n) / B) * B + BigInt(r.unalignedMiB) * MIB;
          const start = cursor;
          const size = BigInt(r.sizeMiB) * MIB;
          cursor = start + size;
          // The kmem-persist series refuses a node with memory: half its pmem regions aimed at node 0 or -1 go to
          // node 2 instead (never boot RAM), so persistent devices it can bind are common (multiRange, meaningless
          // to a static region, is the coin).
          const persistNode = c.patches?.includes('kmem-persist') === true && kind === 'pmem' && r.targetNode <= 0 && r.multiRange;
          return region(kernel, id, kind, start, size, persistNode ? { ...r, targetNode: 2 } : r, c.patches?.includes('devdax-map-none') === true);
        });
        const bootBlocks = [...new Set(ram.flatMap((r) => {
          const ids: number[] = [];
          for (let a = (r.start / B) * B; a < r.start + r.size; a += B) ids.push(Number(a / B));
          return ids;
        }))];
        const unmovable = [...new Set(p.unmovable.map((k) => bootBlocks[k % bootBlocks.length] as number))];
        return {
          type: 'boot',
          kernel,
          config,
          memoryBlockSize: B,
          ram,
          iomem: [],
          unmovable,
          reservedKiB: p.reservedMiB * 1024,
          blockDevices: [],
          swapAreas: [],
          daxRegions,
          variant: c.variant ?? null,
          patches: c.patches ?? [],
        };
      });
  return kernelArb.chain((kernel) => {
    let arb = perKernel.get(kernel);
    if (arb === undefined) perKernel.set(kernel, (arb = forKernel(kernel)));
    return arb;
  });
}

function region(kernel: KernelVersion, id: number, kind: DaxRegionKind, start: bigint, size: bigint, r: RegionDraft, mapNone: boolean): DaxRegionSpec {
  const name = kind === 'pmem' ? 'Persistent Memory (legacy)' : kind === 'hmem' ? 'Soft Reserved' : `CXL Window ${id}`;
  const memmapDefault = kind === 'cxl';
  const dev = (n: number, ranges: Array<{ start: bigint; size: bigint }>): DaxDeviceSpec => ({
    name: `dax${id}.${n}`,
    ranges,
    align: SZ_2M,
    driver: r.driver,
    memmapOnMemory: r.memmap ?? memmapDefault,
  });
  // twoDevices means nothing to a static pmem region: it picks --map=none there, where the series is applied.
  if (kind === 'pmem' && mapNone && r.twoDevices) {
    // The RFC's dax_pmem for --map=none (8/10): no info-block, the device spans the whole namespace.
    return { id, kind, name, start, size, targetNode: r.targetNode, align: SZ_2M, namespace: null, map: 'none', devices: [dev(0, [{ start, size }])] };
  }
  if (kind === 'pmem') {
    // dax_pmem: a 2 MiB info-block namespace at the start, one static device over the rest.
    const data = size - SZ_2M;
    return { id, kind, name, start, size, targetNode: r.targetNode, align: SZ_2M, namespace: { name: `namespace${id}.0`, size: SZ_2M }, map: 'dev', devices: [dev(0, [{ start: start + SZ_2M, size: data }])] };
  }
  // Dynamic regions: leave a quarter free (for size writes); split the rest between one or two devices.
  const quarter = ((size / 4n) / SZ_2M) * SZ_2M;
  const used = size - quarter;
  const multi = r.multiRange && kernel !== '5.1' && used >= 4n * SZ_2M;
  if (!r.twoDevices || used < 2n * SZ_2M) {
    if (!multi) {
      // A 1 GiB align needs a 1 GiB-aligned start (no kernel check: faults would insert unaligned PUDs) and whole GiBs.
      const G = 1n << 30n;
      const align = kernel === '5.1' ? SZ_2M : r.deviceAlign === G ? (start % G === 0n && used >= G ? G : SZ_2M) : r.deviceAlign;
      const len = align === G ? (used / G) * G : used;
      // A 1 GiB-aligned device is there to be mapped: where the profile would hand it to kmem, it boots on device_dax.
      const driver = align === G && r.driver === 'auto' ? 'device_dax' : r.driver;
      return { id, kind, name, start, size, targetNode: r.targetNode, align: SZ_2M, namespace: null, map: 'mem', devices: [{ ...dev(0, [{ start, size: len }]), align, driver }] };
    }
    const half = ((used / 2n) / SZ_2M) * SZ_2M;
    // Two ranges with a free hole between them (a dis-contiguous device).
    return { id, kind, name, start, size, targetNode: r.targetNode, align: SZ_2M, namespace: null, map: 'mem', devices: [dev(0, [{ start, size: half }, { start: start + half + quarter, size: used - half }])] };
  }
  const a = ((used / 2n) / SZ_2M) * SZ_2M;
  const first = multi ? ((a / 2n) / SZ_2M) * SZ_2M : a;
  const tail = multi && a - first > 0n ? [{ start: start + used - (a - first), size: a - first }] : [];
  const devices = [dev(0, [{ start, size: first }, ...tail]), dev(1, [{ start: start + first, size: used - first - (multi ? a - first : 0n) }])];
  return { id, kind, name, start, size, targetNode: r.targetNode, align: SZ_2M, namespace: null, map: 'mem', devices };
}
