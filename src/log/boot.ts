/**
 * From the boot event's parsed JSON to a BootEvent: the defaults that depend
 * on other fields, and the either-or forms (iomem "size" or "end"; a device's
 * "start"+"size" or "ranges").
 */
import type { BootEvent, DaxDeviceSpec, DaxRegionKind, DaxRegionSpec, IomemEntry } from './events.js';
import { hex, U64_MAX } from '../util/u64.js';
import { FieldProblem, type FieldPath } from './errors.js';
import type { RawBoot, RawDevice, RawIomem, RawRegion } from './schema.js';

/** IORES_DESC_* (include/linux/ioport.h) a firmware-described resource of this name carries. */
export function descForName(name: string): number {
  if (name === 'Soft Reserved') return 8;
  if (name === 'Persistent Memory') return 4;
  if (name === 'Persistent Memory (legacy)') return 5;
  if (name.startsWith('CXL Window')) return 9;
  if (name === 'Reserved') return 7;
  // test_hmm's device-private chunks: request_free_mem_region(..., "hmm_dmirror") sets IORES_DESC_DEVICE_PRIVATE_MEMORY.
  if (name === 'hmm_dmirror') return 6;
  return 0;
}

/** The region resource's name when the log gives none (drivers/dax/{pmem,hmem,cxl}.c producers). */
export function defaultRegionName(kind: DaxRegionKind, id: number): string {
  if (kind === 'pmem') return 'Persistent Memory (legacy)';
  if (kind === 'hmem') return 'Soft Reserved';
  return `CXL Window ${id}`;
}

/** dax_hmem and cxl_dax_region both use PMD_SIZE; pmem's superblock value is commonly 2 MiB too. */
export const DEFAULT_REGION_ALIGN = 2n << 20n;

function iomemEntry(e: RawIomem, path: FieldPath): IomemEntry {
  if ((e.size === undefined) === (e.end === undefined)) {
    const got = e.size === undefined ? 'neither' : 'both';
    throw new FieldProblem([...path, 'size'], 'exactly one of "size" and "end"', got);
  }
  let end: bigint;
  if (e.end !== undefined) {
    if (e.end < e.start) throw new FieldProblem([...path, 'end'], `an end at or above start ${hex(e.start)}`, hex(e.end));
    end = e.end;
  } else {
    const size = e.size ?? 0n;
    if (size === 0n) throw new FieldProblem([...path, 'size'], 'a non-zero size', '0x0');
    end = e.start + size - 1n;
    if (end > U64_MAX)
      throw new FieldProblem([...path, 'size'], 'a range that ends at or below 0xffffffffffffffff', `end ${hex(end)}`);
  }
  const name = e.name;
  if (name === 'System RAM' || name.startsWith('System RAM ('))
    throw new FieldProblem([...path, 'name'], 'a name other than System RAM (boot RAM belongs in "ram")', JSON.stringify(name));
  return { start: e.start, end, name, busy: e.busy, desc: e.desc ?? descForName(name) };
}

function device(d: RawDevice, region: RawRegion, regionAlign: bigint, path: FieldPath): DaxDeviceSpec {
  const single = d.start !== undefined || d.size !== undefined;
  if (single && d.ranges !== undefined)
    throw new FieldProblem([...path, 'ranges'], 'either "start" and "size" or "ranges", not both', 'both');
  let ranges: { start: bigint; size: bigint }[];
  if (single) {
    if (d.start === undefined) throw new FieldProblem([...path, 'start'], 'a start to go with "size"', 'nothing');
    if (d.size === undefined) throw new FieldProblem([...path, 'size'], 'a size to go with "start"', 'nothing');
    ranges = [{ start: d.start, size: d.size }];
  } else if (d.ranges !== undefined) {
    ranges = d.ranges.map((r) => ({ start: r.start, size: r.size }));
  } else {
    throw new FieldProblem([...path, 'start'], '"start" and "size", or "ranges"', 'neither');
  }
  return {
    name: d.name,
    ranges,
    align: d.align ?? regionAlign,
    driver: d.driver === undefined ? 'auto' : d.driver,
    memmapOnMemory: d.memmapOnMemory ?? region.kind === 'cxl',
  };
}

function region(r: RawRegion, path: FieldPath): DaxRegionSpec {
  const align = r.align ?? DEFAULT_REGION_ALIGN;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name ?? defaultRegionName(r.kind, r.id),
    start: r.start,
    size: r.size,
    targetNode: r.targetNode,
    align,
    namespace: r.namespace === undefined ? null : { name: r.namespace.name, size: r.namespace.size },
    map: r.map ?? (r.kind === 'pmem' ? 'dev' : 'mem'),
    ...(r.persistent === undefined || r.persistent === (r.kind === 'pmem') ? {} : { persistent: r.persistent }),
    devices: r.devices.map((d, i) => device(d, r, align, [...path, 'devices', i])),
  };
}

/**
 * Which devices the log wrote in the single-range form, so a later message can
 * name `devices[1].start` rather than a `ranges[0]` the user never wrote.
 */
export type RangeForms = ReadonlyArray<ReadonlyArray<boolean>>;

export function toBootEvent(raw: RawBoot): { boot: BootEvent; singleRange: RangeForms } {
  const boot: BootEvent = {
    type: 'boot',
    ...(raw.seq === undefined ? {} : { seq: raw.seq }),
    kernel: raw.kernel,
    config: raw.config,
    memoryBlockSize: raw.memoryBlockSize,
    ram: raw.ram.map((r) => ({ start: r.start, size: r.size, node: r.node })),
    iomem: raw.iomem.map((e, i) => iomemEntry(e, ['iomem', i])),
    unmovable: [...raw.unmovable],
    reservedKiB: raw.reservedKiB,
    blockDevices: [...raw.blockDevices],
    swapAreas: [...raw.swapAreas],
    daxRegions: raw.daxRegions.map((r, i) => region(r, ['daxRegions', i])),
    variant: raw.variant,
    patches: raw.patches,
    ...(raw.result === undefined ? {} : { result: raw.result }),
  };
  const singleRange = raw.daxRegions.map((r) => r.devices.map((d) => d.ranges === undefined));
  return { boot, singleRange };
}
