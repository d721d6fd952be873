/**
 * The event log's events after validation (SPEC §3, version 1). Addresses and
 * sizes are bigints; everything optional in the file has its documented
 * default filled in by the reader, so the model never guesses.
 */
import type { BootConfig } from '../kernel/config.js';
import type { KernelVersion, VariantName } from '../kernel/profile.js';
import type { Errno } from '../kernel/errno.js';
import type { ProgramEvent } from './programEvents.js';
import type { PatchName } from '../kernel/patches.js';
export type * from './programEvents.js';

/** A fatal signal a CPU access ends in (SPEC §7), with its si_code. */
export const SIGNALS = ['SIGBUS', 'SIGSEGV'] as const;
export type SignalName = (typeof SIGNALS)[number];
export const SIGNAL_CODES = ['BUS_ADRERR', 'BUS_ADRALN', 'BUS_OBJERR', 'BUS_MCEERR_AR', 'SEGV_MAPERR', 'SEGV_ACCERR'] as const;
export type SignalCode = (typeof SIGNAL_CODES)[number];

/** An ioctl's output fields by the kernel's names (SPEC §7: `{"cpages":16,"faults":0}` for a dmirror command). */
export type IoctlOut = Readonly<Record<string, number>>;

export type Outcome =
  | { readonly ok: true; readonly value?: string; readonly out?: IoctlOut; readonly log?: readonly string[] }
  | { readonly ok: false; readonly errno: Errno; readonly log?: readonly string[] }
  | { readonly ok: false; readonly signal: SignalName; readonly code: SignalCode; readonly log?: readonly string[] }
  /** The modelled kernel crashed: the first line of the oops. The machine is dead from here on. */
  | { readonly ok: false; readonly oops: string; readonly log?: readonly string[] };

export type Failed = Extract<Outcome, { ok: false }>;

/** An ioctl's output fields as strace prints a struct: {cpages=16, faults=0}. */
export function outText(out: IoctlOut): string {
  return `{${Object.entries(out)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}}`;
}

/** How a failed outcome reads in one word: the errno, `SIGBUS/BUS_ADRERR`, or `oops`. */
export function failureKey(o: Failed): string {
  if ('errno' in o) return o.errno;
  if ('signal' in o) return `${o.signal}/${o.code}`;
  return 'oops';
}

export interface RamRange {
  readonly start: bigint;
  readonly size: bigint;
  readonly node: number;
}

export interface IomemEntry {
  readonly start: bigint;
  /** Inclusive end (from `end`, or start + size - 1). */
  readonly end: bigint;
  readonly name: string;
  readonly busy: boolean;
  /** IORES_DESC_* value; defaults from the name ("Soft Reserved" 8, "Persistent Memory" 4, ...). */
  readonly desc: number;
  /** True for "System RAM" entries described here rather than in ram[] (not allowed: use ram[]). */
}

export type DaxRegionKind = 'pmem' | 'hmem' | 'cxl';

export interface DaxDeviceSpec {
  readonly name: string;
  /** One or more physical ranges (multi-range needs kernel >= 5.10). */
  readonly ranges: ReadonlyArray<{ readonly start: bigint; readonly size: bigint }>;
  readonly align: bigint;
  /** The driver bound at boot: "device_dax", "kmem", null (none), or "auto" (what the profile's dax_bus_match picks). */
  readonly driver: 'device_dax' | 'kmem' | null | 'auto';
  /** dev_dax->memmap_on_memory (6.8; CXL devices default to true). */
  readonly memmapOnMemory: boolean;
}

export interface DaxRegionSpec {
  readonly id: number;
  readonly kind: DaxRegionKind;
  /** The region resource's name in /proc/iomem ("Persistent Memory (legacy)", "Soft Reserved", "CXL Window 0"). */
  readonly name: string;
  readonly start: bigint;
  readonly size: bigint;
  readonly targetNode: number;
  readonly align: bigint;
  /** pmem namespace metadata (dax_pmem reserves [start, start+size) as a BUSY node). */
  readonly namespace: { readonly name: string; readonly size: bigint } | null;
  /**
   * Where the struct pages of a pmem namespace in devdax mode live (ndctl
   * create-namespace --map): "dev" in the namespace (altmap, the default),
   * "mem" in RAM, "none" for none at all (the 2020 RFC, boot.patches
   * ["devdax-map-none"]); hmem/cxl regions are always "mem".
   */
  readonly map: 'dev' | 'mem' | 'none';
  /**
   * Whether the region's contents survive a reboot (SPEC §7): pmem regions
   * by default; a Soft Reserved or CXL region backed by something persistent
   * (the harness's file-backed node 1) says so. Absent: kind === 'pmem'.
   */
  readonly persistent?: boolean;
  readonly devices: readonly DaxDeviceSpec[];
}

export interface BootEvent {
  readonly type: 'boot';
  readonly seq?: number;
  readonly kernel: KernelVersion;
  readonly config: BootConfig;
  readonly memoryBlockSize: bigint;
  readonly ram: readonly RamRange[];
  readonly iomem: readonly IomemEntry[];
  readonly unmovable: readonly number[];
  /**
   * Boot RAM the page allocator never manages (memblock reservations: kernel
   * image, boot memmap, page tables, crashkernel). MemTotal at boot is the
   * RAM of ram[] minus this; recorded machines report it (default 0).
   */
  readonly reservedKiB: number;
  /** Block devices that exist (the harness's brd ramdisks /dev/ramN): swapon of one without a swap signature is EINVAL. */
  readonly blockDevices: readonly string[];
  /** The block devices that hold a swap signature (mkswap): what swapon can activate (src/kernel/mm/swapfile.ts). */
  readonly swapAreas: readonly string[];
  readonly daxRegions: readonly DaxRegionSpec[];
  readonly variant: VariantName | null;
  /** Proposed patch series applied on top of the profile (SPEC §11). */
  readonly patches: readonly PatchName[];
  readonly result?: Outcome;
}

export interface WriteEvent {
  readonly type: 'write';
  readonly seq?: number;
  readonly path: string;
  readonly value: string;
  /** Written exactly as given (printf %s) instead of echo's value + "\n". */
  readonly raw: boolean;
  readonly result?: Outcome;
}

export interface ReadEvent {
  readonly type: 'read';
  readonly seq?: number;
  readonly path: string;
  readonly result?: Outcome;
}

export const INJECT_SITES = [
  'add_memory',
  'request_mem_region',
  'online_pages',
  'offline_pages',
  'memory_group_register',
  'memremap_pages',
  'remove_memory',
] as const;
export type InjectSite = (typeof INJECT_SITES)[number];

export interface InjectEvent {
  readonly type: 'inject';
  readonly seq?: number;
  readonly site: InjectSite;
  readonly errno: Errno;
  /** Fail the nth next call at that site (1 = the next one). */
  readonly nth: number;
  readonly result?: Outcome;
}

/**
 * The machine restarts (SPEC §7, log format 2): processes end, RAM contents
 * are lost, persistent memory keeps its contents, the boot description is
 * applied again.
 */
export interface RebootEvent {
  readonly type: 'reboot';
  readonly seq?: number;
  readonly result?: Outcome;
}

export type StepEvent = WriteEvent | ReadEvent | InjectEvent | RebootEvent | ProgramEvent;
export type SysfsEvent = WriteEvent | ReadEvent | InjectEvent;
export type LogEvent = BootEvent | StepEvent;

/** Where an event came from, for messages: file and 1-based line. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

export interface LocatedEvent<E extends LogEvent = LogEvent> {
  readonly event: E;
  readonly at: SourceLocation;
}
