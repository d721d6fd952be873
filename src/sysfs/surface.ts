/**
 * The sysfs and procfs files the model understands, mapped to the kernel
 * functions behind them. Opening mirrors kernfs_fop_open (fs/kernfs/file.c):
 * a file without a store method cannot be opened for writing and one without
 * a show method cannot be opened for reading, both -EACCES even for root; a
 * path that does not exist is -ENOENT; a directory is -EISDIR. procfs has no
 * such open check: root opens a 0444 proc file for writing and write(2)
 * fails with -EIO. A zero-byte write reaches no store method (sysfs_kf_write
 * returns 0 for count 0).
 *
 * Paths are parsed once and cached; each file is a static handler, so a
 * step allocates nothing to find its file.
 */
import { posix } from 'node:path';
import { alignStore, bindStore, doIdStore, memmapOnMemoryStore, sizeStore, unbindStore } from '../kernel/dax/bus.js';
import { err, OK, type Ret } from '../kernel/memoryHotplug.js';
import { autoOnlineBlocksStore, onlineShow, onlineStore, physIndexShow, removableShow, stateShow, stateStore, validZonesShow } from '../kernel/memory.js';
import type { Op } from '../kernel/op.js';
import { renderIomem } from '../kernel/resource.js';
import { deviceSize, findDevice, findRegion, type DaxDevice, type DaxDriverName, type KernelState } from '../kernel/state.js';
import { renderMeminfo } from '../views/meminfo.js';

/** A file handler for a file class; `arg` is the block id, device or driver the path names. */
interface Handler<A> {
  /** Whether the file exists for this argument in this state (attributes hidden by profile or value). */
  readonly exists?: (s: KernelState, arg: A) => boolean;
  readonly show?: (op: Op, arg: A) => string;
  /** Whether the file is writable here (mode bits can depend on the region, e.g. static dax regions). */
  readonly writable?: (s: KernelState, arg: A) => boolean;
  readonly store?: (op: Op, arg: A, buf: string) => Ret;
}

const GLOBAL_FILES: Readonly<Record<string, Handler<null>>> = {
  '/proc/iomem': { show: (op) => renderIomem(op.state.iomem) },
  '/proc/meminfo': { show: (op) => renderMeminfo(op.state) },
  '/sys/devices/system/memory/block_size_bytes': { show: (op) => `${op.state.blockSize.toString(16)}\n` },
  '/sys/devices/system/memory/auto_online_blocks': { show: (op) => `${op.state.autoOnline}\n`, store: (op, _a, buf) => autoOnlineBlocksStore(op, buf) },
};

const DRIVER_FILES: Readonly<Record<string, Handler<DaxDriverName>>> = {
  bind: { store: bindStore },
  unbind: { store: unbindStore },
  new_id: { store: (op, drv, buf) => doIdStore(op, drv, buf, true) },
  remove_id: { store: (op, drv, buf) => doIdStore(op, drv, buf, false) },
};

/** size and align are 0444 on static regions and before v5.10 (dev_dax_visible). */
function resizable(s: KernelState, dev: DaxDevice): boolean {
  return s.profile.daxResizable && findRegion(s, dev.regionId)?.isStatic === false;
}

const DEVICE_FILES: Readonly<Record<string, Handler<DaxDevice>>> = {
  // dev_dax_visible hides target_node when it is negative.
  target_node: { exists: (_s, d) => d.targetNode >= 0, show: (_op, d) => `${d.targetNode}\n` },
  size: { show: (_op, d) => `${deviceSize(d)}\n`, writable: resizable, store: (op, d, buf) => sizeStore(op, d, buf) },
  align: { exists: (s) => s.profile.daxResizable, show: (_op, d) => `${d.align}\n`, writable: resizable, store: (op, d, buf) => alignStore(op, d, buf) },
  resource: {
    exists: (s) => s.profile.daxResourceAttr,
    show: (op, d) => `0x${(d.ranges[0]?.start ?? findRegion(op.state, d.regionId)?.start ?? 0n).toString(16)}\n`,
  },
  memmap_on_memory: {
    exists: (s) => s.profile.daxMemmapOnMemory,
    show: (_op, d) => `${d.memmapOnMemory ? 1 : 0}\n`,
    store: (op, d, buf) => memmapOnMemoryStore(op, d, buf),
  },
};

const BLOCK_FILES: Readonly<Record<string, Handler<number>>> = {
  state: { show: (op, id) => stateShow(block(op, id)), store: stateStore },
  online: { show: (op, id) => onlineShow(block(op, id)), store: onlineStore },
  phys_index: { show: (_op, id) => physIndexShow(id) },
  phys_device: { show: () => '0\n' },
  removable: { show: (op) => removableShow(op.state.config) },
  // Only built with CONFIG_MEMORY_HOTREMOVE.
  valid_zones: { exists: (s) => s.config.memoryHotremove, show: validZonesShow },
};

function block(op: Op, id: number) {
  const b = op.state.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  return b;
}

const DIRECTORIES = new Set(['/', '/proc', '/sys', '/sys/bus', '/sys/bus/dax', '/sys/bus/dax/devices', '/sys/bus/dax/drivers', '/sys/bus/dax/drivers/device_dax', '/sys/bus/dax/drivers/kmem', '/sys/devices', '/sys/devices/system', '/sys/devices/system/memory']);

/** What a path names, independent of the state. */
type Parsed =
  | { readonly k: 'global'; readonly h: Handler<null>; readonly proc: boolean }
  | { readonly k: 'driver'; readonly drv: DaxDriverName; readonly h: Handler<DaxDriverName> }
  | { readonly k: 'device'; readonly name: string; readonly h: Handler<DaxDevice> | null }
  | { readonly k: 'block'; readonly id: number; readonly h: Handler<number> | null }
  | { readonly k: 'dir' }
  | { readonly k: 'none' };

const parsedCache = new Map<string, Parsed>();

/**
 * The path the VFS walks to: `.`, `..` and repeated slashes resolved. Every
 * `..` the model can meet climbs out of a dax device or memory block
 * directory, where the symlinked and the physical parent hold the same files.
 */
export function canonicalPath(path: string): string {
  // Most paths are already canonical; normalize only when a `.` segment, `//` or a trailing `/` could change them.
  return path.includes('/.') || path.includes('//') || (path.length > 1 && path.endsWith('/')) ? posix.normalize(path) : path;
}

const BLOCK_PREFIX = '/sys/devices/system/memory/memory';

/** memory<N>[/file] parsed by hand: the hottest paths of a log, and the ones with the most distinct values. */
function parseBlockPath(path: string): Parsed | null {
  let i = BLOCK_PREFIX.length;
  const d0 = i;
  let id = 0;
  while (i < path.length) {
    const c = path.charCodeAt(i);
    if (c < 48 || c > 57) break;
    id = id * 10 + (c - 48);
    i++;
  }
  const digits = i - d0;
  if (digits === 0 || digits > 9 || (digits > 1 && path.charCodeAt(d0) === 48)) return null;
  if (i === path.length) return { k: 'block', id, h: null };
  if (path.charCodeAt(i) !== 47) return null;
  // The file name, compared only with the block files of its length.
  const len = path.length - i - 1;
  const candidates = BLOCK_FILES_BY_LENGTH[len];
  if (candidates !== undefined) {
    for (let j = 0; j < candidates.length; j++) {
      const [name, h] = candidates[j] as readonly [string, Handler<number>];
      if (path.slice(i + 1) === name) return { k: 'block', id, h };
    }
  }
  if (len === 0 || path.indexOf('/', i + 1) >= 0) return null;
  return { k: 'block', id, h: NO_FILE };
}

/** The block files grouped by name length: a path's file name is compared with one or two names. */
const BLOCK_FILES_BY_LENGTH: ReadonlyArray<ReadonlyArray<readonly [string, Handler<number>]> | undefined> = (() => {
  const out: Array<Array<readonly [string, Handler<number>]>> = [];
  for (const [name, h] of Object.entries(BLOCK_FILES)) (out[name.length] ??= []).push([name, h]);
  return out;
})();
const NO_FILE: Handler<number> = { exists: () => false };

function parsePath(raw: string): Parsed {
  // Block paths are most of a log and mostly distinct: parsing them costs less than hashing a fresh string.
  // A sliced compare: String.prototype.startsWith costs twice as much on V8 for this 33-character prefix.
  if (raw.slice(0, BLOCK_PREFIX.length) === BLOCK_PREFIX) {
    const b = parseBlockPath(raw);
    if (b !== null) return b;
  }
  const hit = parsedCache.get(raw);
  if (hit !== undefined) return hit;
  const path = canonicalPath(raw);
  let p: Parsed = { k: 'none' };
  const g = GLOBAL_FILES[path];
  const blockPath = path.startsWith(BLOCK_PREFIX) ? parseBlockPath(path) : null;
  if (blockPath !== null) p = blockPath;
  else if (g !== undefined) p = { k: 'global', h: g, proc: path.startsWith('/proc/') };
  else if (DIRECTORIES.has(path)) p = { k: 'dir' };
  else {
    const drv = /^\/sys\/bus\/dax\/drivers\/(device_dax|kmem)\/([^/]+)$/.exec(path);
    const dev = /^\/sys\/bus\/dax\/devices\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    const blk = /^\/sys\/devices\/system\/memory\/memory(0|[1-9][0-9]*)(?:\/([^/]+))?$/.exec(path);
    if (drv !== null) {
      const h = DRIVER_FILES[drv[2] as string];
      if (h !== undefined) p = { k: 'driver', drv: drv[1] as DaxDriverName, h };
    } else if (dev !== null) {
      p = { k: 'device', name: dev[1] as string, h: dev[2] === undefined ? null : (DEVICE_FILES[dev[2]] ?? { exists: () => false }) };
    } else if (blk !== null && Number(blk[1]) < 2 ** 30) {
      p = { k: 'block', id: Number(blk[1]), h: blk[2] === undefined ? null : (BLOCK_FILES[blk[2]] ?? { exists: () => false }) };
    }
  }
  // Bounded: a long random log must not grow the cache without end.
  if (parsedCache.size > 200_000) parsedCache.clear();
  parsedCache.set(raw, p);
  return p;
}

type Resolved =
  | { readonly kind: 'missing' }
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly proc: boolean; readonly show: ((op: Op) => string) | undefined; readonly store: ((op: Op, buf: string) => Ret) | undefined };

// Built by helpers so the closures are anonymous: a property-named arrow gets tsx's __name wrapper on every call.
function showWith<A>(show: (op: Op, arg: A) => string, arg: A): (op: Op) => string {
  return (op) => show(op, arg);
}
function storeWith<A>(store: (op: Op, arg: A, buf: string) => Ret, arg: A): (op: Op, buf: string) => Ret {
  return (op, buf) => store(op, arg, buf);
}

function bind<A>(s: KernelState, h: Handler<A>, arg: A, proc = false): Resolved {
  if (h.exists !== undefined && !h.exists(s, arg)) return { kind: 'missing' };
  const store = h.store !== undefined && (h.writable === undefined || h.writable(s, arg)) ? h.store : undefined;
  return { kind: 'file', proc, show: h.show === undefined ? undefined : showWith(h.show, arg), store: store === undefined ? undefined : storeWith(store, arg) };
}

/** Resolve a path against the current state. */
export function resolve(op: Op, path: string): Resolved {
  const p = parsePath(path);
  const s = op.state;
  switch (p.k) {
    case 'global':
      return bind(s, p.h, null, p.proc);
    case 'driver':
      return bind(s, p.h, p.drv);
    case 'device': {
      const dev = findDevice(s, p.name);
      if (dev === undefined) return { kind: 'missing' };
      return p.h === null ? { kind: 'dir' } : bind(s, p.h, dev);
    }
    case 'block':
      if (!s.blocks.has(p.id)) return { kind: 'missing' };
      return p.h === null ? { kind: 'dir' } : bind(s, p.h, p.id);
    case 'dir':
      return { kind: 'dir' };
    case 'none':
      return { kind: 'missing' };
  }
}

/** `echo value > path` (or printf %s): open for writing, then one write(2). */
export function writeFile(op: Op, path: string, bytes: string): Ret {
  const p = parsePath(path);
  const s = op.state;
  // The hot paths (memory block and driver files) go straight to their store method.
  if (p.k === 'block' && p.h !== null && s.blocks.has(p.id) && (p.h.exists === undefined || p.h.exists(s, p.id))) {
    if (p.h.store === undefined) return err('EACCES');
    return bytes.length === 0 ? OK : p.h.store(op, p.id, bytes);
  }
  if (p.k === 'driver') {
    if (p.h.store === undefined) return err('EACCES');
    return bytes.length === 0 ? OK : p.h.store(op, p.drv, bytes);
  }
  const f = resolve(op, path);
  if (f.kind === 'missing') return err('ENOENT');
  if (f.kind === 'dir') return err('EISDIR');
  if (f.store === undefined) return err(f.proc ? 'EIO' : 'EACCES');
  if (bytes.length === 0) return OK;
  return f.store(op, bytes);
}

/** `cat path`. */
export function readFile(op: Op, path: string): Ret<string> {
  const p = parsePath(path);
  const s = op.state;
  if (p.k === 'block' && p.h !== null && s.blocks.has(p.id) && (p.h.exists === undefined || p.h.exists(s, p.id))) {
    if (p.h.show === undefined) return err('EACCES');
    return { ok: true, value: p.h.show(op, p.id) };
  }
  const f = resolve(op, path);
  if (f.kind === 'missing') return err('ENOENT');
  if (f.kind === 'dir') return err('EISDIR');
  if (f.show === undefined) return err('EACCES');
  return { ok: true, value: f.show(op) };
}
