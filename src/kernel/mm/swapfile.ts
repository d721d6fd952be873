/**
 * Swap areas: mirrors mm/swapfile.c (`SYSCALL_DEFINE2(swapon)`,
 * `alloc_swap_info`, `claim_swapfile`, `read_swap_header`'s signature test,
 * `SYSCALL_DEFINE1(swapoff)`) and include/linux/swap.h's MAX_SWAPFILES, as
 * read in Debian's linux-source-6.1 (6.1.192-3). For 6.12.118 only swap.h's
 * reserved types were checked (against the patches that changed them: profile
 * switches swp*, src/kernel/profile.ts); its mm/swapfile.c was not read here,
 * but the kernel answered every path below as 6.1 does
 * (test/traces-6.12/hmem/swap-max.jsonl).
 *
 * The model keeps names, not contents (SPEC §7): the boot's `blockDevices`
 * are the block devices that exist and its `swapAreas` those of them that
 * hold a swap signature (mkswap). A slot of swap_info[] is what the model
 * keeps of a swap_info_struct: SWP_USED and the path of p->swap_file.
 *
 * file_open_name(path, O_RDWR) opens what the model knows besides: a dax
 * character device through its fops (ENXIO while device_dax is unbound), a
 * sysfs or procfs file (kernfs: EACCES unless it has both show and store; a
 * directory EISDIR); such a file has no ->read_folio, so swapon is EINVAL
 * and swapoff, which finds no active area on it, EINVAL too.
 *
 * Left out: swap flags and priorities (swapon's flags are 0), the header's
 * version, size and bad pages (a prepared area is a good one), swap files on
 * a file system (only block devices), swapping itself (no page is ever
 * swapped out, so try_to_unuse has nothing to do and swapoff's ENOMEM from
 * security_vm_enough_memory_mm cannot happen), CAP_SYS_ADMIN (the log's
 * processes are root), the pr_info "Adding %uk swap on %s. ..." line (its
 * sizes are the device's), and every other path: one the model does not know
 * (/dev/null, a file in /tmp) is ENOENT here, whatever the guest has there.
 */
import type { BootConfig } from '../config.js';
import { err, OK, type Errno, type Ret } from '../errno.js';
import { chrdevAt, fopsOf } from '../fs/chrdev.js';
import type { Op } from '../op.js';
import type { ProfileSwitches } from '../profile.js';
import { withState } from '../state.js';
import { resolve } from '../../sysfs/surface.js';

/** include/linux/swap.h: five bits of a swap entry name its type. */
export const MAX_SWAPFILES_SHIFT = 5;

/** What a slot of swap_info[] keeps: `flags & SWP_USED` and `swap_file`'s path (null while the slot is free). */
export interface SwapInfo {
  readonly used: boolean;
  readonly path: string | null;
}

/** The swap state: swap_info[0 .. nr_swapfiles - 1] and the boot's block devices. */
export interface SwapState {
  /** swap_info[], in type order: a slot, once allocated, stays (nr_swapfiles only grows); swapoff frees it for reuse. */
  readonly info: readonly SwapInfo[];
  /** The block devices that exist (boot.blockDevices). */
  readonly blockDevices: ReadonlySet<string>;
  /** The block devices with a swap signature (boot.swapAreas). */
  readonly swapAreas: ReadonlySet<string>;
}

export const EMPTY_SWAP: SwapState = { info: [], blockDevices: new Set(), swapAreas: new Set() };

/** The swap state of a booted machine: no swap area active. */
export function bootSwap(blockDevices: readonly string[], swapAreas: readonly string[]): SwapState {
  return blockDevices.length === 0 ? EMPTY_SWAP : { info: [], blockDevices: new Set(blockDevices), swapAreas: new Set(swapAreas) };
}

/** The swap types include/linux/swap.h reserves for other uses, each term as the profile and configuration make it. */
export interface ReservedSwapTypes {
  /** SWP_DEVICE_NUM (CONFIG_DEVICE_PRIVATE). */
  readonly device: number;
  /** SWP_MIGRATION_NUM (CONFIG_MIGRATION). */
  readonly migration: number;
  /** SWP_HWPOISON_NUM (CONFIG_MEMORY_FAILURE). */
  readonly hwpoison: number;
  /** SWP_PTE_MARKER_NUM (CONFIG_PTE_MARKER on 6.1, always from v6.5, none before v5.19). */
  readonly pteMarker: number;
  /** SWP_SWAPIN_ERROR_NUM (6.1 only). */
  readonly swapinError: number;
}

type SwapSwitches = Pick<ProfileSwitches, 'swpDeviceNum' | 'swpMigrationNum' | 'swpPteMarker' | 'swpSwapinError'>;
type SwapConfig = Pick<BootConfig, 'devicePrivate' | 'migration' | 'memoryFailure' | 'pteMarker'>;

export function reservedSwapTypes(profile: SwapSwitches, config: SwapConfig): ReservedSwapTypes {
  return {
    device: config.devicePrivate ? profile.swpDeviceNum : 0,
    migration: config.migration ? profile.swpMigrationNum : 0,
    hwpoison: config.memoryFailure ? 1 : 0,
    pteMarker: profile.swpPteMarker === 'always' || (profile.swpPteMarker === 'config' && config.pteMarker) ? 1 : 0,
    swapinError: profile.swpSwapinError ? 1 : 0,
  };
}

/**
 * MAX_SWAPFILES: `(1 << MAX_SWAPFILES_SHIFT) - SWP_DEVICE_NUM - SWP_MIGRATION_NUM - SWP_HWPOISON_NUM -
 * SWP_PTE_MARKER_NUM - SWP_SWAPIN_ERROR_NUM` (6.1's include/linux/swap.h; the terms a profile lacks are 0).
 * @example maxSwapfiles(makeProfile('6.1', null), { ...DEFAULT_CONFIG, devicePrivate: true }) // 23
 */
export function maxSwapfiles(profile: SwapSwitches, config: SwapConfig): number {
  const r = reservedSwapTypes(profile, config);
  return (1 << MAX_SWAPFILES_SHIFT) - r.device - r.migration - r.hwpoison - r.pteMarker - r.swapinError;
}

function setSwapInfo(op: Op, type: number, si: SwapInfo): void {
  const swap = op.state.swap;
  const info = swap.info.slice();
  info[type] = si;
  op.state = withState(op.state, { swap: { ...swap, info } });
}

/**
 * What file_open_name(path, O_RDWR|O_LARGEFILE, 0) opens, or its errno: one of the boot's block devices
 * ('blkdev'), or a file the model knows that no swap area can be on ('other': a character device, a sysfs or
 * procfs file). The file is closed again at once: swapon and swapoff keep only the path.
 * @kernel file_open_name fs/open.c
 */
function fileOpenName(op: Op, path: string): Ret<'blkdev' | 'other'> {
  if (op.state.swap.blockDevices.has(path)) return { ok: true, value: 'blkdev' };
  const cdev = chrdevAt(op.state, path);
  if (cdev !== null) {
    // swapon runs in no process the log names (no mm): the file is closed again at once.
    const f = cdev.fops.open(op, cdev.dev, path, 'rdwr', false, 0);
    if (!f.ok) return err(f.errno);
    // filp_close: the only reference goes (__fput -> ->release).
    fopsOf(f.value).release(op, f.value);
    return { ok: true, value: 'other' };
  }
  const node = resolve(op, path);
  if (node.kind === 'missing') {
    op.branch('file_open_name', 'ENOENT');
    return err('ENOENT');
  }
  if (node.kind === 'dir') {
    op.branch('file_open_name', 'EISDIR');
    return err('EISDIR');
  }
  // kernfs_fop_open: O_RDWR needs both a show and a store method, even for root; procfs has no such check.
  if (!node.proc && (node.show === undefined || node.store === undefined)) {
    op.branch('file_open_name', 'EACCES');
    return err('EACCES');
  }
  return { ok: true, value: 'other' };
}

/** The type whose swap_file is `path`, or -1. */
function activeType(swap: SwapState, path: string): number {
  return swap.info.findIndex((si) => si.used && si.path === path);
}

/**
 * The first swap_info[] slot without SWP_USED (a new one past nr_swapfiles), marked SWP_USED; -EPERM when
 * there is none below MAX_SWAPFILES.
 * @kernel alloc_swap_info mm/swapfile.c
 */
export function allocSwapInfo(op: Op): Ret<number> {
  const { info } = op.state.swap;
  let type = 0;
  for (; type < info.length; type++) if (info[type]?.used !== true) break;
  if (type >= maxSwapfiles(op.state.profile, op.state.config)) {
    op.branch('alloc_swap_info', 'EPERM');
    return err('EPERM');
  }
  setSwapInfo(op, type, { used: true, path: null });
  return { ok: true, value: type };
}

/**
 * swapon(path, 0): a type first (so a full table is EPERM whatever the path), then the file, the exclusive
 * claim of the block device, the swap header; each failure goes to bad_swap, which clears the slot.
 * @kernel sys_swapon mm/swapfile.c
 */
export function sysSwapon(op: Op, path: string): Ret {
  const p = allocSwapInfo(op);
  if (!p.ok) return p;
  const type = p.value;
  const badSwap = (errno: Errno): Ret => {
    setSwapInfo(op, type, { used: false, path: null });
    return err(errno);
  };
  const file = fileOpenName(op, path);
  if (!file.ok) return badSwap(file.errno);
  // Not a block device nor a regular file: claim_swapfile has nothing to claim, and the file has no
  // mapping->a_ops->read_folio to read a swap header with.
  if (file.value === 'other') {
    op.branch('sys_swapon', 'EINVAL(!read_folio)');
    return badSwap('EINVAL');
  }
  // claim_swapfile: blkdev_get_by_dev(FMODE_EXCL, p) fails while an active area holds the device.
  if (activeType(op.state.swap, path) >= 0) {
    op.branch('claim_swapfile', 'EBUSY');
    return badSwap('EBUSY');
  }
  // read_swap_header: memcmp("SWAPSPACE2", ...) (sys_swapon: !maxpages -> -EINVAL)
  if (!op.state.swap.swapAreas.has(path)) {
    op.print('Unable to find swap-space signature');
    op.branch('read_swap_header', 'EINVAL');
    return badSwap('EINVAL');
  }
  setSwapInfo(op, type, { used: true, path });
  return OK;
}

/**
 * swapoff(path): the active area whose file is `path` (SWP_WRITEOK on swap_active_head), else -EINVAL;
 * the slot loses SWP_USED and may be reused by the next swapon.
 * @kernel sys_swapoff mm/swapfile.c
 */
export function sysSwapoff(op: Op, path: string): Ret {
  const file = fileOpenName(op, path);
  if (!file.ok) return file;
  const type = activeType(op.state.swap, path);
  if (type < 0) {
    op.branch('sys_swapoff', 'EINVAL');
    return err('EINVAL');
  }
  setSwapInfo(op, type, { used: false, path: null });
  return OK;
}
