/**
 * Log format version 2 (SPEC §7): what programs do. Every object a program
 * creates is named by a handle the log chooses (`"pid":"p1"`, `"fd":"f1"`,
 * `"map":"m1"`), never by a number the kernel picks, so a log is
 * deterministic and a log recorded on a real machine replays as it is.
 *
 * A process exists from its first use or from the fork that names it. An
 * fd handle names what the last successful `open` with that handle returned
 * (a handle nothing was opened under is EBADF, as an fd of -1 would be). A
 * map handle names the address the last successful `mmap` (or `mremap`) with
 * that handle returned; a handle whose mmap failed or never ran names
 * address 0, where nothing is mapped (the guest helper does the same).
 */
import { z } from 'zod';
import type { Outcome } from './events.js';
import { arrayOf, nonEmptyStr, oneOf, outcome, seq, strict, u64 } from './fields.js';
import { eventType } from './schema.js';

export const OPEN_MODES = ['rdonly', 'wronly', 'rdwr'] as const;
export type OpenMode = (typeof OPEN_MODES)[number];
export const PROTS = ['none', 'r', 'rw'] as const;
export type Prot = (typeof PROTS)[number];
export const MAP_FLAGS = ['shared', 'private', 'validate', 'sync', 'populate', 'fixed'] as const;
export type MapFlag = (typeof MAP_FLAGS)[number];
export const ADVICES = ['hugepage', 'nohugepage', 'dontneed', 'dontfork', 'dofork', 'hwpoison', 'soft_offline'] as const;
export type Advice = (typeof ADVICES)[number];
export const MREMAP_FLAGS = ['maymove', 'fixed'] as const;
export type MremapFlag = (typeof MREMAP_FLAGS)[number];
export const ACCESS_OPS = ['read', 'write'] as const;
export type AccessOp = (typeof ACCESS_OPS)[number];
/** Host users that resolve a process address to a pfn without a CPU access: KVM's guest memory, VFIO type1's DMA map. */
export const PFN_USERS = ['kvm', 'vfio'] as const;
export type PfnUser = (typeof PFN_USERS)[number];

/** An address relative to an existing mapping: `{"map":"m0","offset":"2M"}`. */
export interface MapAddress {
  readonly map: string;
  readonly offset: bigint;
}

interface Common {
  readonly seq?: number;
  readonly result?: Outcome;
}

export interface OpenEvent extends Common {
  readonly type: 'open';
  readonly pid: string;
  readonly fd: string;
  readonly path: string;
  readonly mode: OpenMode;
  /** O_SYNC (`"rdwr+sync"` in the log). */
  readonly sync: boolean;
}
export interface CloseEvent extends Common {
  readonly type: 'close';
  readonly pid: string;
  readonly fd: string;
}
export interface MmapEvent extends Common {
  readonly type: 'mmap';
  readonly pid: string;
  readonly map: string;
  /** The fd handle, or null for an anonymous mapping (MAP_ANONYMOUS). */
  readonly fd: string | null;
  readonly length: bigint;
  readonly offset: bigint;
  readonly prot: Prot;
  readonly flags: readonly MapFlag[];
  /** The hint (or, with `fixed`, the exact address), relative to an existing mapping. */
  readonly addr: MapAddress | null;
}
interface RangeEvent extends Common {
  readonly pid: string;
  readonly map: string;
  readonly offset: bigint;
  readonly length: bigint;
}
export interface MunmapEvent extends RangeEvent {
  readonly type: 'munmap';
}
export interface MprotectEvent extends RangeEvent {
  readonly type: 'mprotect';
  readonly prot: Prot;
}
export interface MadviseEvent extends RangeEvent {
  readonly type: 'madvise';
  readonly advice: Advice;
}
export interface MremapEvent extends RangeEvent {
  readonly type: 'mremap';
  readonly newLength: bigint;
  readonly flags: readonly MremapFlag[];
  readonly addr: MapAddress | null;
}
export interface AccessEvent extends Common {
  readonly type: 'access' | 'procmem';
  readonly pid: string;
  readonly map: string;
  readonly offset: bigint;
  readonly op: AccessOp;
  /** The 64-bit word a write stores. */
  readonly value: bigint | null;
}
/**
 * Model-only (no guest helper performs it): a KVM guest's access to memory
 * backed by `map + offset` (hva_to_pfn) or a VFIO type1 DMA map of that page
 * (vaddr_get_pfns), `op` saying whether the user wants it writable. These are
 * the follow_pfn users the 2020 RFC's patches 2, 4 and 9 are about. The
 * outcome is the physical address the user resolved, or the error it got.
 */
export interface FollowPfnEvent extends Common {
  readonly type: 'follow_pfn';
  readonly pid: string;
  readonly map: string;
  readonly offset: bigint;
  readonly op: AccessOp;
  readonly user: PfnUser;
}
export interface ForkEvent extends Common {
  readonly type: 'fork';
  readonly pid: string;
  readonly child: string;
}
export interface ExitEvent extends Common {
  readonly type: 'exit';
  readonly pid: string;
}
/**
 * `swapon(path, 0)` / `swapoff(path)` (mm/swapfile.c). No pid: which process
 * asks does not matter to the kernel (both need CAP_SYS_ADMIN, which the log's
 * processes have). The model keeps names, not contents: the boot's
 * `blockDevices` and `swapAreas` say which paths exist and which hold a swap
 * signature.
 */
export interface SwaponEvent extends Common {
  readonly type: 'swapon';
  readonly path: string;
}
export interface SwapoffEvent extends Common {
  readonly type: 'swapoff';
  readonly path: string;
}
export type SwapEvent = SwaponEvent | SwapoffEvent;
/** The modules a modprobe/rmmod event can name (SPEC §9): lib/test_hmm.c only. */
export const MODULES = ['test_hmm'] as const;
export type ModuleName = (typeof MODULES)[number];
/**
 * `modprobe --first-time MODULE` / `rmmod MODULE` (SPEC §9): the module
 * syscalls finit_module and delete_module (kernel/module/main.c) as kmod
 * makes them. No pid, as for swapon: both need CAP_SYS_MODULE, which the
 * log's processes have.
 */
export interface ModprobeEvent extends Common {
  readonly type: 'modprobe';
  readonly module: ModuleName;
}
export interface RmmodEvent extends Common {
  readonly type: 'rmmod';
  readonly module: ModuleName;
}
export type ModuleEvent = ModprobeEvent | RmmodEvent;
/**
 * pread(2) / pwrite(2) on an open block device, as direct I/O (the guest
 * opens block devices with O_DIRECT, so offsets and lengths are whole
 * logical blocks and nothing stays in a page cache): a write stores `value`
 * in every 64-bit word of [offset, offset+length); a read's outcome value is
 * what it read (see readValue).
 */
export interface BlockIoEvent extends Common {
  readonly type: 'pread' | 'pwrite';
  readonly pid: string;
  readonly fd: string;
  readonly offset: bigint;
  readonly length: bigint;
  readonly value: bigint | null;
}
export { BLOCK_IOCTL_CMDS, DMIRROR_IOCTL_CMDS, IOCTL_CMDS, isBlockIoctl, isDmirrorIoctlCmd } from './ioctlEvents.js';
export type { BlockIoctlCmd, BlockIoctlEvent, DmirrorIoctlCmd, DmirrorIoctlEvent, IoctlCmd, IoctlEvent } from './ioctlEvents.js';
import { DMIRROR_IOCTL_CMDS, IOCTL_CMDS, type IoctlEvent } from './ioctlEvents.js';

export type ProgramEvent =
  | OpenEvent
  | CloseEvent
  | MmapEvent
  | MunmapEvent
  | MprotectEvent
  | MadviseEvent
  | MremapEvent
  | AccessEvent
  | FollowPfnEvent
  | ForkEvent
  | ExitEvent
  | SwaponEvent
  | SwapoffEvent
  | ModprobeEvent
  | RmmodEvent
  | BlockIoEvent
  | IoctlEvent;

export const PROGRAM_EVENT_TYPES = ['open', 'close', 'mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'access', 'procmem', 'follow_pfn', 'fork', 'exit', 'swapon', 'swapoff', 'pread', 'pwrite', 'ioctl', 'modprobe', 'rmmod'] as const;
/**
 * Program events no real kernel can be asked to perform here (the harness refuses them, as it refuses inject):
 * follow_pfn is model-only; modprobe/rmmod have no guest helper command yet, and the harness's hmm kernel builds
 * test_hmm in (its chunks are there from boot).
 */
export const MODEL_ONLY_PROGRAM_EVENTS: readonly ProgramEventType[] = ['follow_pfn', 'modprobe', 'rmmod'];

/**
 * What a block read returns, as its outcome value: the 64-bit word every word
 * read holds ("0x0" for zeros), or runs of equal words in address order,
 * "0x1*512,0x0*512", when they differ; "" for a read at or past the end.
 */
export function readValue(runs: ReadonlyArray<readonly [bigint, number]>): string {
  if (runs.length === 0) return '';
  if (runs.length === 1) return `0x${(runs[0] as readonly [bigint, number])[0].toString(16)}`;
  return runs.map(([v, n]) => `0x${v.toString(16)}*${n}`).join(',');
}
export type ProgramEventType = (typeof PROGRAM_EVENT_TYPES)[number];

export function isProgramEventType(t: unknown): t is ProgramEventType {
  return typeof t === 'string' && (PROGRAM_EVENT_TYPES as readonly string[]).includes(t);
}

const handle = (what: string) => nonEmptyStr(`a ${what} handle chosen by the log (a non-empty string, e.g. "${what === 'pid' ? 'p1' : what === 'fd' ? 'f1' : 'm1'}")`);
const pid = handle('pid');
const devPath = z
  .string({ error: 'a device path ("/dev/dax0.0")' })
  .regex(/^\//, { error: 'an absolute path ("/dev/dax0.0")' });
const prot = z.enum(PROTS, { error: oneOf(PROTS) });
const flagList = <T extends readonly [string, ...string[]]>(values: T) =>
  arrayOf(z.enum(values, { error: oneOf(values) }), `a list of flags, each ${oneOf(values)}`);
const mapAddress = strict({ map: handle('map'), offset: u64 }, 'an address {"map","offset"} relative to an existing mapping');
const OPEN_FLAG_VALUES = ['rdonly', 'wronly', 'rdwr', 'rdonly+sync', 'wronly+sync', 'rdwr+sync'] as const;
/** A 64-bit word for a write: hex or decimal, below 2^64. */
const word = u64;

const common = { seq, result: outcome.optional() };

const openSchema = strict(
  { ...common, type: eventType('open'), pid, fd: handle('fd'), path: devPath, flags: z.enum(OPEN_FLAG_VALUES, { error: oneOf(OPEN_FLAG_VALUES) }) },
  'an open event {"pid","fd","path","flags"}',
);
const closeSchema = strict({ ...common, type: eventType('close'), pid, fd: handle('fd') }, 'a close event {"pid","fd"}');
const mmapSchema = strict(
  {
    ...common,
    type: eventType('mmap'),
    pid,
    map: handle('map'),
    fd: z.union([handle('fd'), z.null()], { error: 'an fd handle, or null for an anonymous mapping' }),
    length: u64,
    offset: u64.default(0n),
    prot,
    flags: flagList(MAP_FLAGS),
    addr: mapAddress.optional(),
  },
  'an mmap event {"pid","map","fd","length","offset","prot","flags"}',
);
const range = { ...common, pid, map: handle('map'), offset: u64.default(0n), length: u64 };
const munmapSchema = strict({ ...range, type: eventType('munmap') }, 'a munmap event {"pid","map","offset","length"}');
const mprotectSchema = strict({ ...range, type: eventType('mprotect'), prot }, 'an mprotect event {"pid","map","offset","length","prot"}');
const madviseSchema = strict(
  { ...range, type: eventType('madvise'), advice: z.enum(ADVICES, { error: oneOf(ADVICES) }) },
  'a madvise event {"pid","map","offset","length","advice"}',
);
const mremapSchema = strict(
  { ...range, type: eventType('mremap'), newLength: u64, flags: flagList(MREMAP_FLAGS).default(() => []), addr: mapAddress.optional() },
  'an mremap event {"pid","map","offset","length","newLength","flags"}',
);
const accessShape = (t: 'access' | 'procmem') =>
  strict(
    { ...common, type: eventType(t), pid, map: handle('map'), offset: u64, op: z.enum(ACCESS_OPS, { error: oneOf(ACCESS_OPS) }), value: word.optional() },
    `an ${t} event {"pid","map","offset","op"} ("value" for writes)`,
  );
const accessSchema = accessShape('access');
const procmemSchema = accessShape('procmem');
const followPfnSchema = strict(
  { ...common, type: eventType('follow_pfn'), pid, map: handle('map'), offset: u64, op: z.enum(ACCESS_OPS, { error: oneOf(ACCESS_OPS) }), user: z.enum(PFN_USERS, { error: oneOf(PFN_USERS) }) },
  'a follow_pfn event {"pid","map","offset","op","user"}',
);
const forkSchema = strict({ ...common, type: eventType('fork'), pid, child: handle('pid') }, 'a fork event {"pid","child"}');
const exitSchema = strict({ ...common, type: eventType('exit'), pid }, 'an exit event {"pid"}');
const swapPath = z
  .string({ error: 'a path ("/dev/ram0")' })
  .regex(/^\/[^\0]*$/, { error: 'an absolute path ("/dev/ram0")' })
  .max(4095, { error: 'a path of at most 4095 bytes (PATH_MAX)' });
const swaponSchema = strict({ ...common, type: eventType('swapon'), path: swapPath }, 'a swapon event {"path"}');
const swapoffSchema = strict({ ...common, type: eventType('swapoff'), path: swapPath }, 'a swapoff event {"path"}');
const moduleName = z.enum(MODULES, { error: oneOf(MODULES) });
const modprobeSchema = strict({ ...common, type: eventType('modprobe'), module: moduleName }, 'a modprobe event {"module"}');
const rmmodSchema = strict({ ...common, type: eventType('rmmod'), module: moduleName }, 'an rmmod event {"module"}');
const preadSchema = strict({ ...common, type: eventType('pread'), pid, fd: handle('fd'), offset: u64, length: u64 }, 'a pread event {"pid","fd","offset","length"}');
const pwriteSchema = strict(
  { ...common, type: eventType('pwrite'), pid, fd: handle('fd'), offset: u64, length: u64, value: word },
  'a pwrite event {"pid","fd","offset","length","value"} (value: the 64-bit word written to every word of the range)',
);
const ioctlSchema = strict(
  {
    ...common,
    type: eventType('ioctl'),
    pid,
    fd: handle('fd'),
    cmd: z.enum(IOCTL_CMDS, { error: oneOf(IOCTL_CMDS) }),
    args: strict({ start: u64, length: u64 }, 'the ioctl\'s arguments {"start","length"} (bytes)'),
  },
  'an ioctl event {"pid","fd","cmd","args"}',
);
/** The same event with a dmirror command (chosen by `cmd`, so the errors speak of the arguments that command takes). */
const dmirrorIoctlSchema = strict(
  {
    ...common,
    type: eventType('ioctl'),
    pid,
    fd: handle('fd'),
    cmd: z.enum(DMIRROR_IOCTL_CMDS, { error: oneOf(DMIRROR_IOCTL_CMDS) }),
    args: strict(
      { addr: mapAddress, npages: u64, ptr: mapAddress.nullable().default(null) },
      'struct hmm_dmirror_cmd\'s inputs {"addr":{"map","offset"},"npages","ptr":{"map","offset"}} ("ptr" may be null or left out)',
    ),
  },
  'an ioctl event {"pid","fd","cmd","args"}',
);

export const PROGRAM_SCHEMAS = {
  open: openSchema,
  close: closeSchema,
  mmap: mmapSchema,
  munmap: munmapSchema,
  mprotect: mprotectSchema,
  madvise: madviseSchema,
  mremap: mremapSchema,
  access: accessSchema,
  procmem: procmemSchema,
  follow_pfn: followPfnSchema,
  fork: forkSchema,
  exit: exitSchema,
  swapon: swaponSchema,
  swapoff: swapoffSchema,
  modprobe: modprobeSchema,
  rmmod: rmmodSchema,
  pread: preadSchema,
  pwrite: pwriteSchema,
  ioctl: ioctlSchema,
  dmirrorIoctl: dmirrorIoctlSchema,
} as const;

/** The largest power of two a log may name as a length or offset: 2^62 (no mapping in a 57-bit address space comes near). */
export const MAX_PROGRAM_LENGTH = 1n << 62n;
