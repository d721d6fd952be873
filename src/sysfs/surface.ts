/**
 * The sysfs and procfs files the model understands, mapped to the kernel
 * functions behind them. Opening mirrors kernfs_fop_open (fs/kernfs/file.c):
 * a file without a store method cannot be opened for writing and one without
 * a show method cannot be opened for reading, both -EACCES even for root; a
 * path that does not exist is -ENOENT. A zero-byte write reaches no store
 * method (sysfs_kf_write returns 0 for count 0).
 */
import { posix } from 'node:path';
import { bindStore, doIdStore, unbindStore, alignStore, sizeStore, memmapOnMemoryStore } from '../kernel/dax/bus.js';
import { err, OK, type Ret } from '../kernel/memoryHotplug.js';
import { autoOnlineBlocksStore, onlineShow, onlineStore, physIndexShow, stateShow, stateStore, validZonesShow } from '../kernel/memory.js';
import type { Op } from '../kernel/op.js';
import { renderIomem } from '../kernel/resource.js';
import { deviceSize, findDevice, findRegion, type DaxDriverName } from '../kernel/state.js';
import { renderMeminfo } from '../views/meminfo.js';

export interface SysfsFile {
  /** A directory: read(2) and open(O_WRONLY) both fail with EISDIR. */
  readonly directory?: boolean;
  /** The kernel function a read runs, or undefined for a write-only file. */
  readonly show?: (op: Op) => string;
  /** The kernel function a write runs, or undefined for a read-only file. */
  readonly store?: (op: Op, buf: string) => Ret;
}

const DRIVER_FILES = {
  bind: (drv: DaxDriverName) => (op: Op, buf: string) => bindStore(op, drv, buf),
  unbind: (drv: DaxDriverName) => (op: Op, buf: string) => unbindStore(op, drv, buf),
  new_id: (drv: DaxDriverName) => (op: Op, buf: string) => doIdStore(op, drv, buf, true),
  remove_id: (drv: DaxDriverName) => (op: Op, buf: string) => doIdStore(op, drv, buf, false),
} as const;

/** Resolve a path against the current state; undefined = no such file. */
export function resolve(op: Op, path: string): SysfsFile | undefined {
  const s = op.state;
  if (isDirectory(op, path)) return { directory: true };
  if (path === '/proc/iomem') return { show: (o) => renderIomem(o.state.iomem) };
  if (path === '/proc/meminfo') return { show: (o) => renderMeminfo(o.state) };
  if (path === '/sys/devices/system/memory/block_size_bytes') return { show: (o) => `${o.state.blockSize.toString(16)}\n` };
  if (path === '/sys/devices/system/memory/auto_online_blocks') {
    return { show: (o) => `${o.state.autoOnline}\n`, store: autoOnlineBlocksStore };
  }

  const drvFile = /^\/sys\/bus\/dax\/drivers\/(device_dax|kmem)\/(bind|unbind|new_id|remove_id)$/.exec(path);
  if (drvFile !== null) {
    const drv = drvFile[1] as DaxDriverName;
    const file = drvFile[2] as keyof typeof DRIVER_FILES;
    return { store: DRIVER_FILES[file](drv) };
  }

  const devFile = /^\/sys\/bus\/dax\/devices\/([^/]+)\/([^/]+)$/.exec(path);
  if (devFile !== null) {
    const name = devFile[1] as string;
    const dev = findDevice(s, name);
    if (dev === undefined) return undefined;
    const region = findRegion(s, dev.regionId);
    const writable = s.profile.daxResizable && region?.isStatic === false;
    const cur = (o: Op) => findDevice(o.state, name) ?? dev;
    switch (devFile[2]) {
      case 'target_node':
        // dev_dax_visible hides target_node when it is negative.
        return dev.targetNode < 0 ? undefined : { show: (o) => `${cur(o).targetNode}\n` };
      case 'size':
        return { show: (o) => `${deviceSize(cur(o))}\n`, ...(writable ? { store: (o: Op, b: string) => sizeStore(o, cur(o), b) } : {}) };
      case 'align':
        if (!s.profile.daxResizable) return undefined;
        return { show: (o) => `${cur(o).align}\n`, ...(writable ? { store: (o: Op, b: string) => alignStore(o, cur(o), b) } : {}) };
      case 'resource':
        if (!s.profile.daxResourceAttr) return undefined;
        return { show: (o) => `0x${(cur(o).ranges[0]?.start ?? region?.start ?? 0n).toString(16)}\n` };
      case 'memmap_on_memory':
        if (!s.profile.daxMemmapOnMemory) return undefined;
        return { show: (o) => `${cur(o).memmapOnMemory ? 1 : 0}\n`, store: (o, b) => memmapOnMemoryStore(o, cur(o), b) };
      default:
        return undefined;
    }
  }

  const blkFile = /^\/sys\/devices\/system\/memory\/memory(0|[1-9][0-9]*)\/([^/]+)$/.exec(path);
  if (blkFile !== null) {
    const id = Number(blkFile[1]);
    const b = s.blocks.get(id);
    if (b === undefined) return undefined;
    const blk = (o: Op) => o.state.blocks.get(id) ?? b;
    switch (blkFile[2]) {
      case 'state':
        return { show: (o) => stateShow(blk(o)), store: (o, buf) => stateStore(o, id, buf) };
      case 'online':
        return { show: (o) => onlineShow(blk(o)), store: (o, buf) => onlineStore(o, id, buf) };
      case 'phys_index':
        return { show: () => physIndexShow(id) };
      case 'phys_device':
        return { show: () => '0\n' };
      case 'removable':
        return { show: () => '1\n' };
      case 'valid_zones':
        // Only built with CONFIG_MEMORY_HOTREMOVE.
        return s.config.memoryHotremove ? { show: (o) => validZonesShow(o, id) } : undefined;
      default:
        return undefined;
    }
  }
  return undefined;
}

const DIRECTORIES = new Set(['/', '/proc', '/sys', '/sys/bus', '/sys/bus/dax', '/sys/bus/dax/devices', '/sys/bus/dax/drivers', '/sys/bus/dax/drivers/device_dax', '/sys/bus/dax/drivers/kmem', '/sys/devices', '/sys/devices/system', '/sys/devices/system/memory']);

function isDirectory(op: Op, path: string): boolean {
  if (DIRECTORIES.has(path)) return true;
  const dev = /^\/sys\/bus\/dax\/devices\/([^/]+)$/.exec(path);
  if (dev !== null) return findDevice(op.state, dev[1] as string) !== undefined;
  const blk = /^\/sys\/devices\/system\/memory\/memory(0|[1-9][0-9]*)$/.exec(path);
  return blk !== null && op.state.blocks.has(Number(blk[1]));
}

/**
 * The path the VFS walks to: `.`, `..` and repeated slashes resolved. Every
 * `..` the model can meet climbs out of a dax device or memory block
 * directory, where the symlinked and the physical parent hold the same files.
 */
export function canonicalPath(path: string): string {
  return posix.normalize(path);
}

/** `echo value > path` (or printf %s): open for writing, then one write(2). */
export function writeFile(op: Op, rawPath: string, bytes: string): Ret {
  const path = canonicalPath(rawPath);
  const f = resolve(op, path);
  if (f === undefined) return err('ENOENT');
  if (f.directory === true) return err('EISDIR');
  // procfs has no kernfs open check: root opens a 0444 proc file for writing and write(2) fails (no .proc_write).
  if (f.store === undefined) return err(path.startsWith('/proc/') ? 'EIO' : 'EACCES');
  if (bytes.length === 0) return OK;
  return f.store(op, bytes);
}

/** `cat path`. */
export function readFile(op: Op, rawPath: string): Ret<string> {
  const f = resolve(op, canonicalPath(rawPath));
  if (f === undefined) return err('ENOENT');
  if (f.directory === true) return err('EISDIR');
  if (f.show === undefined) return err('EACCES');
  return { ok: true, value: f.show(op) };
}
