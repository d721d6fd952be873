/**
 * Generated logs for the round-trip property: boots that pass every
 * self-consistency check (laid out left to right so nothing overlaps), and
 * step events with arbitrary strings.
 */
import { PATCH_NAMES } from '../../src/kernel/patches.js';
import fc from 'fast-check';
import { ONLINE_TYPES, type BootConfig } from '../../src/kernel/config.js';
import { ERRNO_NAMES } from '../../src/kernel/errno.js';
import { KERNEL_VERSIONS, VARIANT_NAMES, type KernelVersion } from '../../src/kernel/profile.js';
import { INJECT_SITES, type BootEvent, type DaxDeviceSpec, type DaxRegionSpec, type IomemEntry, type LogEvent, type Outcome, type StepEvent } from '../../src/log/events.js';

const MIB = 1n << 20n;
const ALIGNS = [4096n, 2n * MIB, 1024n * MIB];
const alignUp = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;
const max = (a: bigint, b: bigint) => (a > b ? a : b);

export const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({ ok: fc.constant(true as const), value: fc.string(), log: fc.array(fc.string(), { maxLength: 2 }) }, { requiredKeys: ['ok'] }),
  fc.record({ ok: fc.constant(false as const), errno: fc.constantFrom(...ERRNO_NAMES), log: fc.array(fc.string(), { maxLength: 2 }) }, { requiredKeys: ['ok', 'errno'] }),
);

const config = (kernel: KernelVersion): fc.Arbitrary<BootConfig> =>
  fc.record({
    memoryHotremove: fc.boolean(),
    autoOnline: kernel === '5.1' ? fc.constantFrom('online' as const, 'offline' as const) : fc.constantFrom(...ONLINE_TYPES),
    memmapOnMemory: fc.constantFrom(true, false, 'force' as const),
    structPageSize: fc.constantFrom(64 as const, 72 as const, 80 as const),
    pageblockOrder: fc.constantFrom(9 as const, 10 as const),
    movableNode: fc.boolean(),
    physmemBits: fc.constantFrom(46 as const, 52 as const),
    devDaxKmem: fc.boolean(),
    memoryFailure: fc.boolean(),
    crashHotplug: fc.boolean(),
    archMemoryProbe: fc.boolean(),
    devicePrivate: fc.boolean(),
    migration: fc.boolean(),
    pteMarker: fc.boolean(),
    // test_hmm: v5.7+ only, built in only with DEVICE_PRIVATE (src/log/bootCheck.ts); 'y' is drawn as 'm' where it cannot be.
    testHmm: kernel === '5.1' ? fc.constant('n' as const) : fc.constantFrom('n' as const, 'm' as const, 'y' as const),
    physAddrBits: fc.integer({ min: 36, max: 52 }),
    thp: fc.constantFrom('always' as const, 'madvise' as const, 'never' as const),
  }).map((c) => (c.testHmm === 'y' && !c.devicePrivate ? { ...c, testHmm: 'm' as const } : c));

const deviceShape = fc.record({
  units: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
  gap: fc.integer({ min: 0, max: 1 }),
  empty: fc.boolean(),
  alignIdx: fc.integer({ min: 0, max: 2 }),
  driver: fc.constantFrom('auto' as const, 'device_dax' as const, 'kmem' as const, null),
  memmap: fc.boolean(),
});

const regionShape = fc.record({
  kind: fc.constantFrom('pmem' as const, 'hmem' as const, 'cxl' as const),
  alignIdx: fc.integer({ min: 0, max: 2 }),
  gap: fc.integer({ min: 0, max: 3 }),
  slack: fc.integer({ min: 0, max: 2 }),
  targetNode: fc.integer({ min: -1, max: 3 }),
  name: fc.string(),
  namespace: fc.option(fc.string({ minLength: 1 }), { nil: null }),
  parent: fc.boolean(),
  devices: fc.array(deviceShape, { maxLength: 3 }),
});

const iomemShape = fc.record({ name: fc.string({ minLength: 1 }).filter((s) => !s.startsWith('System RAM')), busy: fc.boolean(), desc: fc.integer({ min: 0, max: 9 }) });

export const boot: fc.Arbitrary<BootEvent> = fc.constantFrom(...KERNEL_VERSIONS).chain((kernel) =>
  fc
    .record({
      config: config(kernel),
      blockShift: fc.integer({ min: 0, max: 3 }),
      ram: fc.array(fc.record({ gapPages: fc.nat(4096), sizeMiB: fc.integer({ min: 1, max: 4096 }), node: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 3 }),
      iomem: fc.array(iomemShape, { maxLength: 2 }),
      regions: fc.array(regionShape, { maxLength: 3 }),
      unmovable: fc.array(fc.nat(), { maxLength: 3 }),
      reservedPages: fc.nat({ max: 1000 }),
      ramdisks: fc.uniqueArray(fc.nat({ max: 40 }), { maxLength: 4 }),
      variant: fc.constantFrom(null, ...VARIANT_NAMES),
      patches: fc.subarray([...PATCH_NAMES]),
    })
    .map((p): BootEvent => {
      const memoryBlockSize = (128n * MIB) << BigInt(p.blockShift);
      let cursor = 0n;
      const ram = p.ram.map((r) => {
        const start = cursor + BigInt(r.gapPages) * 4096n;
        const size = BigInt(r.sizeMiB) * MIB;
        cursor = start + size;
        return { start, size, node: r.node };
      });
      const first = ram[0] ?? { start: 0n, size: MIB };
      // Small entries nested inside the first RAM range (it is at least 1 MiB: room for 256 pages).
      const iomem: IomemEntry[] = p.iomem.map((e, i) => ({ start: first.start + BigInt(i) * 4096n, end: first.start + BigInt(i + 1) * 4096n - 1n, ...e }));
      const daxRegions = p.regions.map((r, id): DaxRegionSpec => {
        const align = ALIGNS[r.alignIdx] ?? 4096n;
        const unit = max(align, 2n * MIB);
        const start = alignUp(cursor, align) + BigInt(r.gap) * unit;
        let at = start + (r.namespace !== null && r.kind === 'pmem' ? unit : 0n);
        const multi = kernel !== '5.1';
        const devices = r.devices.map((d, j): DaxDeviceSpec => {
          const devAlign = ALIGNS.filter((a) => a <= unit)[d.alignIdx] ?? 4096n;
          const units = multi ? d.units : d.units.slice(0, 1);
          const ranges = d.empty && multi && r.kind !== 'pmem' ? [] : units.map((u) => {
            at += BigInt(d.gap) * unit;
            const range = { start: at, size: BigInt(u) * unit };
            at += range.size;
            return range;
          });
          return { name: `dax${id}.${j}`, ranges, align: devAlign, driver: d.driver, memmapOnMemory: d.memmap };
        });
        const size = at - start + BigInt(r.slack + 1) * unit;
        cursor = start + size;
        if (r.parent) iomem.push({ start, end: start + size - 1n, name: `hmem.${id}`, busy: false, desc: 0 });
        const namespace = r.namespace !== null && r.kind === 'pmem' ? { name: r.namespace, size: unit } : null;
        return { id, kind: r.kind, name: r.name, start, size, targetNode: r.targetNode, align, namespace, map: r.kind === 'pmem' ? ('dev' as const) : ('mem' as const), devices };
      });
      const blocks = [...new Set(ram.flatMap((r) => [r.start / memoryBlockSize, (r.start + r.size - 1n) / memoryBlockSize]))];
      const unmovable = [...new Set(p.unmovable.map((k) => Number(blocks[k % blocks.length] ?? 0n)))];
      return { type: 'boot', kernel, config: p.config, memoryBlockSize, ram, iomem, unmovable, reservedKiB: Math.min(4 * p.reservedPages, Number(ram.reduce((s, r) => s + r.size, 0n) / 4096n) * 4), blockDevices: p.ramdisks.map((i) => `/dev/ram${i}`), swapAreas: p.ramdisks.filter((i) => i % 2 === 0).map((i) => `/dev/ram${i}`), daxRegions, variant: p.variant, patches: p.patches };
    }),
);

const path = fc.string().map((s) => `/${s}`);

export const stepEvent: fc.Arbitrary<StepEvent> = fc.oneof(
  fc.record({ type: fc.constant('write' as const), path, value: fc.string({ unit: 'binary' }), raw: fc.boolean() }),
  fc.record({ type: fc.constant('read' as const), path }),
  fc.record({ type: fc.constant('inject' as const), site: fc.constantFrom(...INJECT_SITES), errno: fc.constantFrom(...ERRNO_NAMES), nth: fc.integer({ min: 1, max: 10 }) }),
);

/** A whole log: boot first, steps after, some events numbered (increasing) and some with results. */
export const log: fc.Arbitrary<LogEvent[]> = fc
  .tuple(boot, fc.array(stepEvent, { maxLength: 8 }), fc.array(fc.record({ seqGap: fc.option(fc.integer({ min: 1, max: 3 })), result: fc.option(outcome) }), { minLength: 9, maxLength: 9 }))
  .map(([b, steps, extras]) => {
    let seq = 0;
    return [b as LogEvent, ...steps].map((e, i) => {
      const x = extras[i];
      const out: LogEvent = { ...e };
      if (x?.seqGap != null) Object.assign(out, { seq: (seq += x.seqGap) });
      if (x?.result != null) Object.assign(out, { result: x.result });
      return out;
    });
  });
