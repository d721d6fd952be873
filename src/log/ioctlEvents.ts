/**
 * The ioctl events of log format 2 (SPEC §7, §9): the block commands of the
 * kmem persistence RFC's disk and test_hmm's dmirror commands, each with the
 * arguments its kernel structure takes.
 */
import type { Outcome } from './events.js';
import type { MapAddress } from './programEvents.js';

interface Common {
  readonly seq?: number;
  readonly result?: Outcome;
}

/** The block ioctls the model knows: a range of bytes to discard or zero. */
export const BLOCK_IOCTL_CMDS = ['BLKDISCARD', 'BLKZEROOUT'] as const;
export type BlockIoctlCmd = (typeof BLOCK_IOCTL_CMDS)[number];
/**
 * test_hmm's commands (lib/test_hmm_uapi.h, 6.1: _IOWR('H', 0..7, struct
 * hmm_dmirror_cmd)), by the kernel's names (SPEC §9).
 */
export const DMIRROR_IOCTL_CMDS = [
  'HMM_DMIRROR_READ',
  'HMM_DMIRROR_WRITE',
  'HMM_DMIRROR_MIGRATE_TO_DEV',
  'HMM_DMIRROR_MIGRATE_TO_SYS',
  'HMM_DMIRROR_SNAPSHOT',
  'HMM_DMIRROR_EXCLUSIVE',
  'HMM_DMIRROR_CHECK_EXCLUSIVE',
  'HMM_DMIRROR_RELEASE',
] as const;
export type DmirrorIoctlCmd = (typeof DMIRROR_IOCTL_CMDS)[number];
export const IOCTL_CMDS = [...BLOCK_IOCTL_CMDS, ...DMIRROR_IOCTL_CMDS] as const;
export type IoctlCmd = (typeof IOCTL_CMDS)[number];

export function isDmirrorIoctlCmd(cmd: unknown): cmd is DmirrorIoctlCmd {
  return typeof cmd === 'string' && (DMIRROR_IOCTL_CMDS as readonly string[]).includes(cmd);
}

export interface BlockIoctlEvent extends Common {
  readonly type: 'ioctl';
  readonly pid: string;
  readonly fd: string;
  readonly cmd: BlockIoctlCmd;
  /** BLKDISCARD / BLKZEROOUT: uint64_t range[2] = {start, length} in bytes. */
  readonly args: { readonly start: bigint; readonly length: bigint };
}

/**
 * A dmirror command: struct hmm_dmirror_cmd's inputs, with addresses named by
 * mappings (SPEC §9): `addr` the range of the process the device mirrors,
 * `npages` pages of it, `ptr` the process buffer the driver copies to or
 * from (READ/WRITE: npages pages; SNAPSHOT: npages bytes; null: 0, as the
 * commands that ignore it are called). Its outputs `cpages` and `faults` are
 * the outcome's `out`.
 */
export interface DmirrorIoctlEvent extends Common {
  readonly type: 'ioctl';
  readonly pid: string;
  readonly fd: string;
  readonly cmd: DmirrorIoctlCmd;
  readonly args: { readonly addr: MapAddress; readonly npages: bigint; readonly ptr: MapAddress | null };
}

export type IoctlEvent = BlockIoctlEvent | DmirrorIoctlEvent;

export function isBlockIoctl(e: IoctlEvent): e is BlockIoctlEvent {
  return !isDmirrorIoctlCmd(e.cmd);
}

