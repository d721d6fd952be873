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
 *
 * listDirectory gives a directory's entries as `ls -l` shows them (mode,
 * symlink target, content), for the four directories the model mirrors
 * whole: /sys/devices/system/memory/, memoryN/, a dax device and a dax
 * driver directory; test/sysfs/listing.test.ts holds it to listings recorded
 * on both harness kernels. Writes that the model does not mirror: `uevent`
 * (kobject_synth_uevent), {soft,hard}_offline_page (memory failure) and the
 * dax `mapping` attribute (the process/mapping layer) are listed with the
 * kernel's mode but have no store here.
 */
import { posix } from 'node:path';
import { alignStore, bindStore, doIdStore, mappingStore, memmapOnMemoryStore, sizeStore, unbindStore } from '../kernel/dax/bus.js';
import { err, OK, type Ret } from '../kernel/errno.js';
import { autoOnlineBlocksStore, onlineShow, onlineStore, physIndexShow, removableShow, stateShow, stateStore, validZonesShow } from '../kernel/memory.js';
import type { Op } from '../kernel/op.js';
import { probeStore } from '../kernel/memoryProbe.js';
import { renderIomem } from '../kernel/resource.js';
import { deviceSize, findDevice, findRegion, type DaxDevice, type DaxDriverName, type KernelState } from '../kernel/state.js';
import { renderMeminfo } from '../views/meminfo.js';
import { renderNodeMeminfo } from '../views/nodeMeminfo.js';
import { formatForceShow, formatForceStore, formatTypeShow, formatTypeStore, persistOf } from '../kernel/dax/kmemPersist.js';
import { kmemDiskBytes, kmemDiskOwner } from '../kernel/block/kmemDisk.js';
import { DAX_MAJOR, daxMinor, daxNumaNode, daxUevent } from '../kernel/dax/deviceAttrs.js';
import { renderMaps, renderSmaps } from '../views/smaps.js';
import { thpEnabledShow, thpEnabledStore } from '../kernel/mm/thp.js';

/** A file handler for a file class; `arg` is the block id, device or driver the path names. */
interface Handler<A> {
  /** The mode bits when they are not what show/store imply (0444, 0644, 0200): e.g. DEVICE_ATTR(resource, 0400). */
  readonly mode?: number;
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
  // dev_uevent: the memory subsystem's root device has no bus, class, type or driver, so nothing to print.
  '/sys/devices/system/memory/uevent': { mode: 0o644, show: () => '' },
  // crash_hotplug_show: crash_check_hotplug_support(), 0 without a loaded kexec crash image (the model loads none).
  '/sys/devices/system/memory/crash_hotplug': { exists: (s) => s.config.crashHotplug, show: () => '0\n' },
  '/sys/devices/system/memory/soft_offline_page': { exists: (s) => s.config.memoryFailure, mode: 0o200 },
  '/sys/devices/system/memory/hard_offline_page': { exists: (s) => s.config.memoryFailure, mode: 0o200 },
  '/sys/devices/system/memory/probe': { exists: (s) => s.config.archMemoryProbe, mode: 0o200, store: (op, _a, buf) => probeStore(op, buf) },
  // mm/huge_memory.c hugepage_attr: the THP mode anonymous faults use (src/kernel/mm/thp.ts).
  '/sys/kernel/mm/transparent_hugepage/enabled': { mode: 0o644, show: (op) => thpEnabledShow(op.state), store: (op, _a, buf) => thpEnabledStore(op, buf) },
  // kmem's module parameters under the kmem-persist series (module_param(..., 0644)), while kmem is there.
  '/sys/module/kmem/parameters/persist_format_type': {
    exists: (s) => s.profile.kmemPersist && s.config.devDaxKmem,
    mode: 0o644,
    show: (op) => formatTypeShow(op.state),
    store: (op, _a, buf) => formatTypeStore(op, buf),
  },
  '/sys/module/kmem/parameters/persist_format_force': {
    exists: (s) => s.profile.kmemPersist && s.config.devDaxKmem,
    mode: 0o644,
    show: (op) => formatForceShow(op.state),
    store: (op, _a, buf) => formatForceStore(op, buf),
  },
};

const DRIVER_FILES: Readonly<Record<string, Handler<DaxDriverName>>> = {
  // DRIVER_ATTR_WO(uevent) (drivers/base/bus.c): a synthetic uevent; not mirrored.
  uevent: { mode: 0o200 },
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
    // DEVICE_ATTR(resource, 0400, ...): root only.
    mode: 0o400,
    exists: (s) => s.profile.daxResourceAttr,
    show: (op, d) => `0x${(d.ranges[0]?.start ?? findRegion(op.state, d.regionId)?.start ?? 0n).toString(16)}\n`,
  },
  // dev_dax_visible: 0200, only on dynamic regions (v5.10+).
  mapping: { exists: resizable, store: (op, d, buf) => mappingStore(op, d, buf) },
  memmap_on_memory: {
    exists: (s) => s.profile.daxMemmapOnMemory,
    show: (_op, d) => `${d.memmapOnMemory ? 1 : 0}\n`,
    store: (op, d, buf) => memmapOnMemoryStore(op, d, buf),
  },
  // modalias_show: DAX_DEVICE_MODALIAS_FMT with type 0.
  modalias: { show: () => 'dax:t0\n' },
  numa_node: { show: (op, d) => `${daxNumaNode(op.state, d)}\n` },
  dev: { show: (op, d) => `${DAX_MAJOR}:${daxMinor(op.state, d)}\n` },
  uevent: { mode: 0o644, show: (op, d) => daxUevent(op.state, d) },
};

const BLOCK_FILES: Readonly<Record<string, Handler<number>>> = {
  state: { show: (op, id) => stateShow(block(op, id)), store: stateStore },
  online: { show: (op, id) => onlineShow(block(op, id)), store: onlineStore },
  phys_index: { show: (_op, id) => physIndexShow(id) },
  phys_device: { show: () => '0\n' },
  removable: { show: (op) => removableShow(op.state.config) },
  // Only built with CONFIG_MEMORY_HOTREMOVE.
  valid_zones: { exists: (s) => s.config.memoryHotremove, show: validZonesShow },
  // dev_uevent: a memory block has no driver, devt or uevent callback.
  uevent: { mode: 0o644, show: () => '' },
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
  | { readonly k: 'pid'; readonly pid: string; readonly file: 'maps' | 'smaps' }
  | { readonly k: 'node'; readonly nid: number }
  | { readonly k: 'disk'; readonly nid: number }
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
    const pid = /^\/proc\/([^/]+)\/(maps|smaps)$/.exec(path);
    const node = /^\/sys\/devices\/system\/node\/node(0|[1-9][0-9]{0,3})\/meminfo$/.exec(path);
    const disk = /^\/sys\/block\/kmem(0|[1-9][0-9]{0,3})\/size$/.exec(path);
    if (pid !== null) p = { k: 'pid', pid: pid[1] as string, file: pid[2] as 'maps' | 'smaps' };
    else if (node !== null) p = { k: 'node', nid: Number(node[1]) };
    else if (disk !== null) p = { k: 'disk', nid: Number(disk[1]) };
    else if (drv !== null) {
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
    case 'pid': {
      // The log's pid handle names the process (SPEC §7); a process that never ran or exited has no directory.
      const proc = s.mm.procs.get(p.pid);
      if (proc === undefined) return { kind: 'missing' };
      const render = p.file === 'maps' ? renderMaps : renderSmaps;
      return { kind: 'file', proc: true, show: (o) => render(o.state, proc), store: undefined };
    }
    case 'node':
      // node_read_meminfo, for a node the kernel has (node_possible_map stands in for N_ONLINE).
      if (!s.possibleNodes.includes(p.nid)) return { kind: 'missing' };
      return { kind: 'file', proc: false, show: (o) => renderNodeMeminfo(o.state, p.nid), store: undefined };
    case 'disk': {
      // disk_attrs' size (block/genhd.c part_size_show): capacity in 512-byte sectors.
      const owner = kmemDiskOwner(s, p.nid);
      if (owner === null) return { kind: 'missing' };
      return { kind: 'file', proc: false, show: (o) => `${kmemDiskBytes(persistOf(o.state, owner)) / 512n}\n`, store: undefined };
    }
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

// ---------------------------------------------------------------- directory listings

/** One directory entry as `ls -l` shows it. */
export interface ListedEntry {
  readonly name: string;
  /** "-rw-r--r--", "drwxr-xr-x", "lrwxrwxrwx". */
  readonly mode: string;
  /** A symlink's target, as an absolute /sys path (the kernel's links are relative). */
  readonly target: string | null;
  /** A regular file with a read bit: what reading it gives. */
  readonly content: string | null;
}

function modeString(kind: '-' | 'd' | 'l', bits: number): string {
  if (kind === 'l') return 'lrwxrwxrwx';
  const rwx = (b: number): string => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  return `${kind}${rwx((bits >> 6) & 7)}${rwx((bits >> 3) & 7)}${rwx(bits & 7)}`;
}

/** The mode sysfs gives an attribute: its own, or what DEVICE_ATTR_RO/RW/WO give (0444, 0644, 0200); 0444 where not writable (dev_dax_visible). */
function handlerMode<A>(s: KernelState, h: Handler<A>, arg: A): number {
  if (h.mode !== undefined) return h.mode;
  const writable = h.store !== undefined && (h.writable === undefined || h.writable(s, arg));
  if (h.show !== undefined) return writable ? 0o644 : 0o444;
  return 0o200;
}

function filesOf<A>(op: Op, table: Readonly<Record<string, Handler<A>>>, arg: A): ListedEntry[] {
  const out: ListedEntry[] = [];
  for (const [name, h] of Object.entries(table)) {
    if (h.exists !== undefined && !h.exists(op.state, arg)) continue;
    const mode = handlerMode(op.state, h, arg);
    out.push({ name, mode: modeString('-', mode), target: null, content: mode & 0o444 && h.show !== undefined ? h.show(op, arg) : null });
  }
  return out;
}

const dirEntry = (name: string): ListedEntry => ({ name, mode: modeString('d', 0o755), target: null, content: null });
const linkEntry = (name: string, target: string): ListedEntry => ({ name, mode: modeString('l', 0o777), target, content: null });

/**
 * `ls -l DIR` for the directories the model mirrors whole (null for any other path; sorted by name as ls sorts).
 * Besides the attributes: the device core's `power/`, `subsystem` and `driver` links, a memory block's node link
 * (register_mem_block_under_node), a dax device's mappingN directories (devm_register_dax_mapping, one per range)
 * and `mapping` attribute (dynamic regions only, dev_dax_visible), a driver's `module` link and device links.
 */
export function listDirectory(op: Op, raw: string): ListedEntry[] | null {
  const path = canonicalPath(raw).replace(/(.)\/+$/, '$1');
  const s = op.state;
  let out: ListedEntry[];
  if (path === '/sys/devices/system/memory') {
    const prefix = `${path}/`;
    out = Object.entries(GLOBAL_FILES)
      .filter(([p]) => p.startsWith(prefix))
      .flatMap(([p, h]) => filesOf(op, { [p.slice(prefix.length)]: h }, null));
    for (const id of s.blocks.keys()) out.push(dirEntry(`memory${id}`));
    out.push(dirEntry('power'));
  } else if (path.startsWith(BLOCK_PREFIX)) {
    const p = parsePath(path);
    if (p.k !== 'block' || p.h !== null || !s.blocks.has(p.id)) return null;
    out = [...filesOf(op, BLOCK_FILES, p.id), dirEntry('power'), linkEntry('subsystem', '/sys/bus/memory'), linkEntry(`node${block(op, p.id).nid}`, `/sys/devices/system/node/node${block(op, p.id).nid}`)];
  } else {
    const dev = /^\/sys\/bus\/dax\/devices\/([^/]+)$/.exec(path);
    const drv = /^\/sys\/bus\/dax\/drivers\/(device_dax|kmem)$/.exec(path);
    if (dev !== null) {
      const d = findDevice(s, dev[1] as string);
      if (d === undefined) return null;
      const isStatic = findRegion(s, d.regionId)?.isStatic !== false;
      out = [...filesOf(op, DEVICE_FILES, d), dirEntry('power'), linkEntry('subsystem', '/sys/bus/dax')];
      if (d.driver !== null) out.push(linkEntry('driver', `/sys/bus/dax/drivers/${d.driver}`));
      if (s.profile.daxResizable && !isStatic) out.push({ name: 'mapping', mode: modeString('-', 0o200), target: null, content: null });
      if (s.profile.daxResizable) d.ranges.forEach((_r, i) => out.push(dirEntry(`mapping${i}`)));
    } else if (drv !== null) {
      const name = drv[1] as DaxDriverName;
      out = [...filesOf(op, DRIVER_FILES, name), linkEntry('module', `/sys/module/${name}`)];
      for (const d of s.devices) if (d.driver === name) out.push(linkEntry(d.name, `/sys/bus/dax/devices/${d.name}`));
    } else return null;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
