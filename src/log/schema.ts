/**
 * Zod schemas for the raw JSON of each event (SPEC §3, version 1). Objects are
 * strict: an unknown field is an error, since a misspelt field silently taking
 * its default would replay a different machine than the one recorded.
 * Defaults that depend on other fields (a device's align, a region's name)
 * are filled in by boot.ts, not here.
 */
import { z } from 'zod';
import { DEFAULT_CONFIG, ONLINE_TYPES, PHYS_ADDR_BITS_RANGE } from '../kernel/config.js';
import { KERNEL_VERSIONS, VARIANT_NAMES } from '../kernel/profile.js';
import { PATCH_NAMES } from '../kernel/patches.js';
import { INJECT_SITES } from './events.js';
import { BOOT_LIMITS } from './limits.js';
import { arrayOf, bool, errnoName, intIn, nonEmptyStr, oneOf, outcome, seq, str, strict, u64 } from './fields.js';

/** CONFIG_NODES_SHIFT is at most 10 on x86-64, so node ids stay below 1024. */
const MAX_NODE = 1023;

const absolutePath = z
  .string({ error: 'a path string ("/sys/...", "/proc/iomem")' })
  .regex(/^\//, { error: 'an absolute path ("/sys/...", "/proc/iomem")' });

const devPath = (what: string) => z.string({ error: what }).regex(/^\/dev\/\S+$/, { error: what });

export const eventType = (t: string) => z.literal(t, { error: `"${t}"` });

export const writeSchema = strict(
  {
    seq,
    type: eventType('write'),
    path: absolutePath,
    value: str(),
    raw: bool().default(false),
    result: outcome.optional(),
  },
  'a write event',
);

export const readSchema = strict(
  { seq, type: eventType('read'), path: absolutePath, result: outcome.optional() },
  'a read event',
);

export const rebootSchema = strict({ seq, type: eventType('reboot'), result: outcome.optional() }, 'a reboot event {"type":"reboot"}');

export const injectSchema = strict(
  {
    seq,
    type: eventType('inject'),
    site: z.enum(INJECT_SITES, { error: oneOf(INJECT_SITES) }),
    errno: errnoName,
    nth: intIn(1, Number.MAX_SAFE_INTEGER, 'a positive integer (1 = the next call)').default(1),
    result: outcome.optional(),
  },
  'an inject event',
);

const configSchema = strict(
  {
    memoryHotremove: bool().default(DEFAULT_CONFIG.memoryHotremove),
    autoOnline: z.enum(ONLINE_TYPES, { error: oneOf(ONLINE_TYPES) }).default(DEFAULT_CONFIG.autoOnline),
    memmapOnMemory: z
      .union([z.boolean(), z.literal('force')], { error: 'true, false or "force"' })
      .default(DEFAULT_CONFIG.memmapOnMemory),
    structPageSize: z.literal([64, 72, 80], { error: oneOf([64, 72, 80]) }).default(DEFAULT_CONFIG.structPageSize),
    pageblockOrder: z.literal([9, 10], { error: oneOf([9, 10]) }).default(DEFAULT_CONFIG.pageblockOrder),
    movableNode: bool().default(DEFAULT_CONFIG.movableNode),
    physmemBits: z.literal([46, 52], { error: oneOf([46, 52]) }).default(DEFAULT_CONFIG.physmemBits),
    devDaxKmem: bool().default(DEFAULT_CONFIG.devDaxKmem),
    memoryFailure: bool().default(DEFAULT_CONFIG.memoryFailure),
    crashHotplug: bool().default(DEFAULT_CONFIG.crashHotplug),
    archMemoryProbe: bool().default(DEFAULT_CONFIG.archMemoryProbe),
    devicePrivate: bool().default(DEFAULT_CONFIG.devicePrivate),
    migration: bool().default(DEFAULT_CONFIG.migration),
    pteMarker: bool().default(DEFAULT_CONFIG.pteMarker),
    testHmm: z.enum(['n', 'm', 'y'], { error: oneOf(['n', 'm', 'y']) }).default(DEFAULT_CONFIG.testHmm),
    physAddrBits: intIn(PHYS_ADDR_BITS_RANGE[0], PHYS_ADDR_BITS_RANGE[1], `the CPU's physical address bits, ${PHYS_ADDR_BITS_RANGE[0]}..${PHYS_ADDR_BITS_RANGE[1]} (x86_phys_bits)`).default(DEFAULT_CONFIG.physAddrBits),
    thp: z.enum(['always', 'madvise', 'never'], { error: oneOf(['always', 'madvise', 'never']) }).default(DEFAULT_CONFIG.thp),
  },
  'a config object (fields of BootConfig, each optional)',
);

const ramSchema = strict(
  { start: u64, size: u64, node: intIn(0, MAX_NODE, `a node id 0..${MAX_NODE}`) },
  'a RAM range {"start","size","node"}',
);

const iomemSchema = strict(
  {
    start: u64,
    size: u64.optional(),
    end: u64.optional(),
    name: nonEmptyStr('a non-empty resource name ("Reserved", "PCI Bus 0000:00")'),
    busy: bool().default(false),
    desc: intIn(0, 9, 'an IORES_DESC_* value 0..9').optional(),
  },
  'an iomem entry {"start", "size" or "end", "name"}',
);

const rangeSchema = strict({ start: u64, size: u64 }, 'a range {"start","size"}');

const deviceSchema = strict(
  {
    name: str('a device name ("dax0.0")'),
    start: u64.optional(),
    size: u64.optional(),
    ranges: arrayOf(rangeSchema, 'an array of ranges [{"start","size"}]').max(BOOT_LIMITS.ranges, { error: `at most ${BOOT_LIMITS.ranges} ranges (README: Limits)` }).optional(),
    align: u64.optional(),
    driver: z
      .union([z.literal(['device_dax', 'kmem']), z.null()], { error: '"device_dax", "kmem" or null' })
      .optional(),
    memmapOnMemory: bool().optional(),
  },
  'a dax device {"name", "start" and "size" or "ranges", ...}',
);

const regionSchema = strict(
  {
    id: intIn(0, 0x7fffffff, 'a region id (a non-negative integer)'),
    kind: z.enum(['pmem', 'hmem', 'cxl'], { error: oneOf(['pmem', 'hmem', 'cxl']) }),
    name: str('a resource name').optional(),
    start: u64,
    size: u64,
    targetNode: intIn(-1, MAX_NODE, `a node id -1..${MAX_NODE} (-1: no node)`),
    align: u64.optional(),
    map: z.enum(['dev', 'mem', 'none'], { error: oneOf(['dev', 'mem', 'none']) }).optional(),
    persistent: bool().optional(),
    namespace: strict(
      { name: nonEmptyStr('a namespace name ("namespace0.0")'), size: u64 },
      'a namespace {"name","size"}',
    ).optional(),
    devices: arrayOf(deviceSchema, 'an array of dax devices').max(BOOT_LIMITS.devices, { error: `at most ${BOOT_LIMITS.devices} devices (README: Limits)` }).default(() => []),
  },
  'a dax region {"id","kind","start","size","targetNode",...}',
);

export const bootSchema = strict(
  {
    seq,
    type: eventType('boot'),
    kernel: z.enum(KERNEL_VERSIONS, { error: oneOf(KERNEL_VERSIONS) }).default('6.12'),
    config: configSchema.default(() => ({ ...DEFAULT_CONFIG })),
    memoryBlockSize: u64,
    ram: arrayOf(ramSchema, 'an array of RAM ranges')
      .min(1, { error: 'at least one RAM range' })
      .max(BOOT_LIMITS.ramRanges, { error: `at most ${BOOT_LIMITS.ramRanges} RAM ranges (E820_MAX_ENTRIES; README: Limits)` }),
    iomem: arrayOf(iomemSchema, 'an array of iomem entries').max(BOOT_LIMITS.iomemEntries, { error: `at most ${BOOT_LIMITS.iomemEntries} iomem entries (README: Limits)` }).default(() => []),
    unmovable: arrayOf(intIn(0, Number.MAX_SAFE_INTEGER, 'a memory block id'), 'an array of block ids')
      .max(BOOT_LIMITS.unmovable, { error: `at most ${BOOT_LIMITS.unmovable} block ids (README: Limits)` })
      .default(() => []),
    daxRegions: arrayOf(regionSchema, 'an array of dax regions').max(BOOT_LIMITS.daxRegions, { error: `at most ${BOOT_LIMITS.daxRegions} dax regions (README: Limits)` }).default(() => []),
    blockDevices: arrayOf(devPath('a block device path ("/dev/ram0")'), 'a list of block device paths (SPEC §7: the model keeps names, not contents)')
      .max(BOOT_LIMITS.blockDevices, { error: `at most ${BOOT_LIMITS.blockDevices} block devices (README: Limits)` })
      .default(() => []),
    swapAreas: arrayOf(devPath('a block device path ("/dev/ram0")'), 'a list of the block devices that hold a swap signature (mkswap)')
      .max(BOOT_LIMITS.blockDevices, { error: `at most ${BOOT_LIMITS.blockDevices} swap areas (README: Limits)` })
      .default(() => []),
    reservedKiB: intIn(0, Number.MAX_SAFE_INTEGER, 'KiB of boot RAM the page allocator never manages (a non-negative integer)').default(0),
    variant: z.enum(VARIANT_NAMES, { error: `null or ${oneOf(VARIANT_NAMES)}` }).nullable().default(null),
    patches: arrayOf(z.enum(PATCH_NAMES, { error: oneOf(PATCH_NAMES) }), `a list of patch series (SPEC §11), each ${oneOf(PATCH_NAMES)}`)
      .default(() => [])
      .refine((l) => new Set(l).size === l.length, { error: 'each patch series at most once' }),
    result: outcome.optional(),
  },
  'a boot event',
);

export type RawBoot = z.output<typeof bootSchema>;
export type RawRegion = RawBoot['daxRegions'][number];
export type RawDevice = RawRegion['devices'][number];
export type RawIomem = RawBoot['iomem'][number];

export const EVENT_TYPES = ['boot', 'write', 'read', 'inject', 'reboot'] as const;
