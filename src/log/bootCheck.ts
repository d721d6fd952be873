/**
 * Self-consistency of a boot event: the machine it describes must be one
 * firmware and the dax producers could have built, or the model would start
 * from a state the kernel never reaches. Each check throws a FieldProblem
 * naming the field to fix.
 */
import { PROFILES } from '../kernel/profile.js';
import { hex, isPowerOfTwo, memRange, sizeString } from '../util/u64.js';
import type { BootEvent, DaxRegionSpec } from './events.js';
import { FieldProblem, formatPath, type FieldPath } from './errors.js';
import type { RangeForms } from './boot.js';
import { BOOT_LIMITS } from './limits.js';

const MIB = 1n << 20n;
const MIN_BLOCK_SIZE = 128n * MIB;
/** dax_align_valid: PAGE_SIZE, PMD_SIZE, PUD_SIZE on x86-64. */
const DAX_ALIGNS = [4096n, 2n * MIB, 1024n * MIB];
/** memremap_compat_align(): device sizes are multiples of the 2 MiB subsection size too. */
const SUBSECTION = 2n * MIB;
const ADDR_LIMIT = 1n << 64n;

/** [start, end) with where it came from, for messages. */
interface Span {
  readonly start: bigint;
  readonly end: bigint;
  readonly what: string;
}

const show = (s: { start: bigint; end: bigint }) => memRange(s.start, s.end - 1n);
const overlaps = (a: Span, b: Span) => a.start < b.end && b.start < a.end;
const contains = (outer: Span, inner: Span) => outer.start <= inner.start && inner.end <= outer.end;
const alignText = DAX_ALIGNS.map(sizeString).join(', ');

function fail(path: FieldPath, expected: string, got: string): never {
  throw new FieldProblem(path, expected, got);
}

function checkBlockSize(boot: BootEvent): void {
  const bs = boot.memoryBlockSize;
  if (!isPowerOfTwo(bs) || bs < MIN_BLOCK_SIZE)
    fail(['memoryBlockSize'], 'a power of two of at least 128M (0x8000000)', hex(bs));
}

/** Memory blocks [start, start + size) touches. */
function blocksOf(start: bigint, size: bigint, bs: bigint): bigint {
  return size === 0n ? 0n : (start + size - 1n) / bs - start / bs + 1n;
}

/**
 * The model keeps a record per memory block: refuse a boot whose RAM and dax
 * regions span more blocks than BOOT_LIMITS.blocks, naming the range that
 * passes it, before anything is built per block.
 */
function checkBlockBudget(boot: BootEvent): void {
  const bs = boot.memoryBlockSize;
  const limit = BigInt(BOOT_LIMITS.blocks);
  const expected = `at most ${BOOT_LIMITS.blocks} memory blocks of ${sizeString(bs)} in boot RAM and dax regions together (README: Limits)`;
  let total = 0n;
  const add = (path: FieldPath, start: bigint, size: bigint): void => {
    const n = blocksOf(start, size, bs);
    total += n;
    if (total > limit) fail([...path, 'size'], expected, `${show({ start, end: start + size })}: ${n} blocks, ${total} so far`);
  };
  boot.ram.forEach((r, i) => add(['ram', i], r.start, r.size));
  boot.daxRegions.forEach((r, i) => add(['daxRegions', i], r.start, r.size));
}

function checkRam(boot: BootEvent): Span[] {
  const bits = boot.config.physmemBits;
  const limit = 1n << BigInt(bits);
  const spans: Span[] = [];
  boot.ram.forEach((r, i) => {
    const path = ['ram', i];
    if (r.size === 0n) fail([...path, 'size'], 'a non-zero size', '0x0');
    const span = { start: r.start, end: r.start + r.size, what: `ram[${i}]` };
    if (span.end > limit)
      fail([...path, 'size'], `a range below ${hex(limit)} (2^${bits}, config.physmemBits)`, show(span));
    const other = spans.find((s) => overlaps(s, span));
    if (other) fail([...path, 'start'], `a range that does not overlap ${other.what} ${show(other)}`, show(span));
    spans.push(span);
  });
  return spans;
}

/** Resources nest by containment or stay apart; a straddle cannot be inserted (insert_resource fails). */
function checkIomem(boot: BootEvent, ram: readonly Span[], regions: readonly Span[]): void {
  const seen: Span[] = [];
  boot.iomem.forEach((e, i) => {
    const span = { start: e.start, end: e.end + 1n, what: `iomem[${i}]` };
    for (const other of [...seen, ...ram, ...regions]) {
      if (overlaps(span, other) && !contains(span, other) && !contains(other, span))
        fail(['iomem', i], `an entry that contains, nests in or stays clear of ${other.what} ${show(other)}`, show(span));
    }
    seen.push(span);
  });
}

function checkRegion(boot: BootEvent, r: DaxRegionSpec, i: number, ram: readonly Span[], done: readonly Span[]): Span {
  const path = ['daxRegions', i];
  if (!DAX_ALIGNS.includes(r.align)) fail([...path, 'align'], `one of ${alignText}`, hex(r.align));
  if (r.size === 0n) fail([...path, 'size'], 'a non-zero size', '0x0');
  const span = { start: r.start, end: r.start + r.size, what: `daxRegions[${i}]` };
  if (span.end > ADDR_LIMIT) fail([...path, 'size'], 'a range that ends at or below 0xffffffffffffffff', `end ${hex(span.end - 1n)}`);
  // alloc_dax_region refuses a region whose start or size is not a multiple of its align.
  if (r.start % r.align !== 0n) fail([...path, 'start'], `a multiple of the region align ${sizeString(r.align)}`, hex(r.start));
  if (r.size % r.align !== 0n) fail([...path, 'size'], `a multiple of the region align ${sizeString(r.align)}`, hex(r.size));
  for (const other of [...ram, ...done]) {
    if (overlaps(span, other)) fail([...path, 'start'], `a region that does not overlap ${other.what} ${show(other)}`, show(span));
  }
  const dup = boot.daxRegions.findIndex((o) => o.id === r.id);
  if (dup !== i) fail([...path, 'id'], `an id not used by daxRegions[${dup}]`, String(r.id));
  if (r.map !== (r.kind === 'pmem' ? r.map : 'mem')) fail([...path, 'map'], 'no map (hmem and cxl regions keep their struct pages in RAM)', JSON.stringify(r.map));
  if (r.map === 'none') {
    // The RFC's dax_pmem (patch 8/10) uses the whole namespace: no info-block, no metadata area.
    if (!boot.patches.includes('devdax-map-none')) fail([...path, 'map'], 'boot.patches ["devdax-map-none"] with "map": "none" (the 2020 RFC was never merged; no kernel has it)', '"none"');
    if (r.namespace !== null) fail([...path, 'namespace'], 'no namespace metadata with "map": "none" (the RFC uses the whole namespace)', JSON.stringify(r.namespace.name));
  }
  if (r.namespace !== null) {
    if (r.kind !== 'pmem')
      fail([...path, 'namespace'], 'no namespace (only pmem regions have namespace metadata)', JSON.stringify(r.namespace.name));
    if (r.namespace.size === 0n || r.namespace.size > r.size)
      fail([...path, 'namespace', 'size'], `a non-zero size within the region's ${sizeString(r.size)}`, hex(r.namespace.size));
  }
  return span;
}

/**
 * The devices and device ranges of the whole boot, against BOOT_LIMITS: the
 * per-list limits of the schema alone would let 1,024 regions hold a million
 * devices, each checked against its region's others.
 */
function checkDeviceTotals(boot: BootEvent): void {
  let devices = 0;
  let ranges = 0;
  boot.daxRegions.forEach((r, i) =>
    r.devices.forEach((d, j) => {
      devices++;
      ranges += d.ranges.length;
      if (devices > BOOT_LIMITS.devices)
        fail(['daxRegions', i, 'devices', j], `at most ${BOOT_LIMITS.devices} dax devices in all regions together (README: Limits)`, `device ${devices}`);
      if (ranges > BOOT_LIMITS.ranges)
        fail(['daxRegions', i, 'devices', j, 'ranges'], `at most ${BOOT_LIMITS.ranges} device ranges in all regions together (README: Limits)`, `${ranges} so far`);
    }),
  );
}

function checkDevices(boot: BootEvent, r: DaxRegionSpec, i: number, singleRange: RangeForms, names: Set<string>): void {
  const dataStart = r.start + (r.namespace?.size ?? 0n);
  const data = { start: dataStart, end: r.start + r.size, what: '' };
  const where = r.namespace === null ? `inside the region ${show(data)}` : `inside the region after its namespace ${show(data)}`;
  const multiRange = PROFILES[boot.kernel].daxResizable;
  const taken: Span[] = [];
  r.devices.forEach((d, j) => {
    const path = ['daxRegions', i, 'devices', j];
    const name = /^dax(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.exec(d.name);
    if (name?.[1] !== String(r.id)) fail([...path, 'name'], `a name "dax${r.id}.<n>" (region id, then instance)`, JSON.stringify(d.name));
    if (names.has(d.name)) fail([...path, 'name'], 'a device name used only once', JSON.stringify(d.name));
    names.add(d.name);
    if (!DAX_ALIGNS.includes(d.align)) fail([...path, 'align'], `one of ${alignText}`, hex(d.align));
    // Static (pmem) regions always carry one full device; resizing to 0 is for dynamic regions (v5.10).
    if (d.ranges.length === 0 && (r.kind === 'pmem' || !multiRange))
      fail([...path, 'ranges'], `at least one range (${r.kind === 'pmem' ? 'pmem devices are static' : `kernel ${boot.kernel} has no resizable devices`})`, 'none');
    if (d.ranges.length > 1 && !multiRange)
      fail([...path, 'ranges'], `one range (multi-range devices need kernel >= 5.10, not ${boot.kernel})`, `${d.ranges.length} ranges`);
    const unit = d.align > SUBSECTION ? d.align : SUBSECTION;
    d.ranges.forEach((rg, k) => {
      const rp = singleRange[i]?.[j] === true ? path : [...path, 'ranges', k];
      if (rg.size === 0n) fail([...rp, 'size'], 'a non-zero size', '0x0');
      const span = { start: rg.start, end: rg.start + rg.size, what: `${formatPath(rp) ?? ''} (${d.name})` };
      if (!contains(data, span)) fail([...rp, 'start'], `a range ${where}`, show(span));
      if (rg.start % r.align !== 0n) fail([...rp, 'start'], `a multiple of the region align ${sizeString(r.align)}`, hex(rg.start));
      if (rg.size % unit !== 0n) fail([...rp, 'size'], `a multiple of ${sizeString(unit)} (max of the device align and 2M)`, hex(rg.size));
      const other = taken.find((s) => overlaps(s, span));
      if (other) fail([...rp, 'start'], `a range that does not overlap ${other.what} ${show(other)}`, show(span));
      taken.push(span);
    });
  });
}

/**
 * A pmem namespace's metadata area must be claimable, or dax_pmem never
 * creates the region: its probe requests [start, start + dataoff) with
 * __request_region, which fails on a busy resource over the range and on
 * any resource it must descend into that does not contain the range ("could
 * not reserve metadata", -EBUSY). A log describing the region's devices
 * anyway describes a machine the kernel never builds.
 * Earlier in the same probe devm_nsio_enable claims the namespace's start the
 * same way: its first nd_info_block_reserve() (8 KiB) in kernels whose
 * devm_nsio_enable takes a size, the whole namespace in older ones (5.1, when
 * the size argument came is unconfirmed). Only the metadata area is checked
 * here, so on 5.1 an entry inside the data area is still accepted although
 * that probe would fail too.
 * @kernel __dax_pmem_probe drivers/dax/pmem.c
 * @kernel devm_nsio_enable drivers/nvdimm/claim.c
 */
function checkNamespaces(boot: BootEvent): void {
  boot.daxRegions.forEach((r, i) => {
    if (r.namespace === null) return;
    const area = { start: r.start, end: r.start + r.namespace.size, what: `daxRegions[${i}].namespace` };
    boot.iomem.forEach((e, k) => {
      const entry = { start: e.start, end: e.end + 1n, what: `iomem[${k}]` };
      if (!overlaps(entry, area) || (!e.busy && contains(entry, area))) return;
      fail(
        ['daxRegions', i, 'namespace'],
        `a namespace whose metadata area ${show(area)} dax_pmem can reserve (no busy resource over it, any other containing it)`,
        `iomem[${k}] ${JSON.stringify(e.name)} ${show(entry)} (${e.busy ? 'busy' : 'not containing it'})`,
      );
    });
  });
}

/** blockDevices and swapAreas: each path once, every swap area one of the block devices (the model swaps to block devices only). */
function checkSwapAreas(boot: BootEvent): void {
  const seen = new Set<string>();
  boot.blockDevices.forEach((p, k) => {
    if (seen.has(p)) fail(['blockDevices', k], 'each block device once', `${JSON.stringify(p)} again`);
    seen.add(p);
  });
  const areas = new Set<string>();
  boot.swapAreas.forEach((p, k) => {
    if (!seen.has(p)) fail(['swapAreas', k], 'one of the paths in blockDevices (a swap area on a block device the boot lists)', JSON.stringify(p));
    if (areas.has(p)) fail(['swapAreas', k], 'each swap area once', `${JSON.stringify(p)} again`);
    areas.add(p);
  });
}

function checkUnmovable(boot: BootEvent, ram: readonly Span[]): void {
  const bs = boot.memoryBlockSize;
  const ramKiB = boot.ram.reduce((s, r) => s + r.size, 0n) / 1024n;
  const seen = new Set<number>();
  if (BigInt(boot.reservedKiB) > ramKiB || boot.reservedKiB % 4 !== 0) fail(['reservedKiB'], `whole 4 KiB pages, at most the boot RAM (${ramKiB} KiB)`, `${boot.reservedKiB}`);
  boot.unmovable.forEach((id, k) => {
    const block = { start: BigInt(id) * bs, end: (BigInt(id) + 1n) * bs, what: '' };
    if (!ram.some((s) => overlaps(s, block)))
      fail(['unmovable', k], 'the id of a memory block that boot RAM covers', `${id} ${show(block)}`);
    if (seen.has(id)) fail(['unmovable', k], 'each block id once', `${id} again`);
    seen.add(id);
  });
}

function checkConfig(boot: BootEvent): void {
  // memhp_default_state= took only online/offline before the online-type rework (~v5.9).
  const mode = boot.config.autoOnline;
  if (!PROFILES[boot.kernel].autoOnlineTypes && mode !== 'online' && mode !== 'offline')
    fail(['config', 'autoOnline'], `"online" or "offline" (kernel ${boot.kernel} has no other default online type)`, JSON.stringify(mode));
  const hmm = boot.config.testHmm;
  // lib/test_hmm.c came with v5.7 (before it, device-private memory had only nouveau's users).
  if (hmm !== 'n' && boot.kernel === '5.1') fail(['config', 'testHmm'], '"n" (kernel 5.1 has no lib/test_hmm.c; it came with v5.7)', JSON.stringify(hmm));
  // Kconfig: TEST_HMM depends on DEVICE_PRIVATE (lib/Kconfig.debug), so a built-in test_hmm needs it.
  if (hmm === 'y' && !boot.config.devicePrivate) fail(['config', 'testHmm'], '"n" or "m" without config.devicePrivate (TEST_HMM depends on DEVICE_PRIVATE)', '"y"');
  // A built-in test_hmm's chunks are placed by the model at boot (src/kernel/hmm/testHmm.ts): the boot must not list them too.
  if (hmm === 'y') {
    const i = boot.iomem.findIndex((e) => e.name === 'hmm_dmirror');
    if (i >= 0) fail(['iomem', i, 'name'], 'no "hmm_dmirror" entry with config.testHmm "y" (the model places test_hmm\'s chunks itself)', '"hmm_dmirror"');
  }
}

/** Throws a FieldProblem for the first inconsistency in `boot`. */
export function checkBoot(boot: BootEvent, singleRange: RangeForms = []): void {
  checkBlockSize(boot);
  checkBlockBudget(boot);
  checkDeviceTotals(boot);
  checkConfig(boot);
  const ram = checkRam(boot);
  const regions: Span[] = [];
  const names = new Set<string>();
  boot.daxRegions.forEach((r, i) => {
    regions.push(checkRegion(boot, r, i, ram, regions));
    checkDevices(boot, r, i, singleRange, names);
  });
  checkIomem(boot, ram, regions);
  checkNamespaces(boot);
  checkUnmovable(boot, ram);
  checkSwapAreas(boot);
}
