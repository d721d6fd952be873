/**
 * Program events for the differential fuzzer (`memhp kernel fuzz
 * --programs`): processes that open /dev/dax0.0, map it (aligned and not,
 * shared and private, fixed and not, populated), touch it, split and remap
 * their mappings, read it through /proc/PID/mem, fork and exit, between the
 * sysfs operations of src/realkernel/generate.ts. Like that generator it
 * follows the model only to keep the log valid (a fork's child must not be
 * alive); the kernel and the model decide what each step does.
 */
import type { ProgramEvent, ReadEvent, WriteEvent } from '../log/events.js';
import type { KernelState } from '../kernel/state.js';
import type { Rng } from './generate.js';

const K = 1n << 10n;
const M = 1n << 20n;
const G = 1n << 30n;
const DAX = '/sys/bus/dax';

const LENGTHS = [2n * M, 2n * M, 4n * M, 4n * M, 4n * K, 8n * K, 3n * M, G, 6n * M];
const OFFSETS = [0n, 0n, 0n, 2n * M, 4n * K, G - 2n * M, G, 512n * M];
const TOUCH = [0n, 8n, 4n * K, 2n * M, 2n * M + 8n, 4n * M - 8n, 512n * M];
const RANGES: readonly (readonly [bigint, bigint])[] = [
  [0n, 2n * M],
  [2n * M, 2n * M],
  [4n * K, 4n * K],
  [0n, 4n * M],
  [0n, 4n * K],
  [2n * M, 4n * K],
];

/**
 * How a generated run with programs starts: the device at some align, on
 * device_dax. Where dax0.0 boots on kmem (hmem from v6.3: dax_bus_match by
 * type, the region carries IORESOURCE_DAX_KMEM) device_dax matches it only
 * through its id list, so the run first unbinds kmem (every block is offline:
 * the memory goes away) and writes dax0.0 to device_dax's new_id, whose
 * driver_attach probes it; later binds work through the same id.
 */
export function programPrologue(g: Rng, bootDriver: 'device_dax' | 'kmem' | null = 'device_dax'): (WriteEvent | ReadEvent)[] {
  const w = (path: string, value: string): WriteEvent => ({ type: 'write', path, value, raw: false });
  const toDevdax = bootDriver === 'kmem' ? [w(`${DAX}/drivers/kmem/unbind`, 'dax0.0'), w(`${DAX}/drivers/device_dax/new_id`, 'dax0.0')] : [];
  const unbind = w(`${DAX}/drivers/device_dax/unbind`, 'dax0.0');
  const bind = w(`${DAX}/drivers/device_dax/bind`, 'dax0.0');
  const align = (v: string) => w(`${DAX}/devices/dax0.0/align`, v);
  return [
    ...toDevdax,
    ...g.weighted<() => (WriteEvent | ReadEvent)[]>([
      [50, () => []],
      [20, () => [unbind, align('4096'), bind]],
      [15, () => [unbind, align('1073741824'), bind]],
      [15, () => [unbind]],
    ])(),
  ];
}

/** The sysfs steps that matter most to mappings: unbind / bind (zap and revival) and align changes. */
export function mappingSysfsStep(g: Rng): WriteEvent | ReadEvent {
  const w = (path: string, value: string): WriteEvent => ({ type: 'write', path, value, raw: false });
  return g.weighted<() => WriteEvent | ReadEvent>([
    [30, () => w(`${DAX}/drivers/device_dax/unbind`, 'dax0.0')],
    [30, () => w(`${DAX}/drivers/device_dax/bind`, 'dax0.0')],
    [20, () => w(`${DAX}/devices/dax0.0/align`, g.pick(['4096', '2097152', '1073741824']))],
    [10, () => w(`${DAX}/devices/dax0.0/size`, g.pick(['536870912', '1073741824', '0']))],
    [10, () => ({ type: 'read', path: g.pick(['/proc/p1/smaps', '/proc/p1/maps', '/proc/p2/smaps']) })],
  ])();
}

/** One program event for the state the model is in. */
export function programStep(g: Rng, state: KernelState): ProgramEvent {
  const procs = state.mm.procs;
  const alive = [...procs.keys()];
  const pid = alive.length > 0 && g.next() < 0.8 ? g.pick(alive) : 'p1';
  const p = procs.get(pid);
  const maps = p === undefined ? [] : [...p.maps.keys()];
  const fds = p === undefined ? [] : [...p.fds.keys()];
  const map = maps.length > 0 && g.next() < 0.85 ? g.pick(maps) : g.pick(['m1', 'm2', 'm3']);
  const fd = fds.length > 0 && g.next() < 0.9 ? g.pick(fds) : g.pick(['f1', 'f2']);
  const [off, len] = g.pick(RANGES);
  const kind = g.weighted([
    [fds.length === 0 ? 40 : 6, 'open'],
    [3, 'close'],
    [maps.length === 0 ? 30 : 14, 'mmap'],
    [5, 'munmap'],
    [4, 'mprotect'],
    [5, 'madvise'],
    [4, 'mremap'],
    [maps.length === 0 ? 2 : 30, 'access'],
    [5, 'procmem'],
    [procs.has('p2') ? 0 : 4, 'fork'],
    [procs.has('p2') ? 4 : 0, 'exit'],
  ] as const);
  switch (kind) {
    case 'open':
      return { type: 'open', pid, fd, path: '/dev/dax0.0', mode: g.weighted([[85, 'rdwr'], [10, 'rdonly'], [5, 'wronly']] as const), sync: false };
    case 'close':
      return { type: 'close', pid, fd };
    case 'mmap': {
      const fixed = maps.length > 0 && g.next() < 0.12;
      const flags = [g.weighted([[88, 'shared'], [7, 'private'], [5, 'validate']] as const), ...(g.next() < 0.1 ? (['populate'] as const) : []), ...(fixed ? (['fixed'] as const) : [])];
      return {
        type: 'mmap',
        pid,
        map: g.pick(['m1', 'm2', 'm3']),
        fd,
        // A MAP_FIXED range stays small: in the guest the helper's own stack and vdso lie above
        // the mappings (and with -cpu max's 5-level paging a fixed range may reach past 128 TiB),
        // so a large one replaces them and kills the helper (seed 2200 run 124), which says
        // nothing about device-dax.
        length: fixed ? g.pick([4n * K, 2n * M]) : g.pick(LENGTHS),
        offset: g.pick(OFFSETS),
        prot: g.weighted([[85, 'rw'], [12, 'r'], [3, 'none']] as const),
        flags,
        addr: fixed ? { map: g.pick(maps), offset: g.pick([0n, 2n * M]) } : null,
      };
    }
    case 'munmap':
      return { type: 'munmap', pid, map, offset: off, length: len };
    case 'mprotect':
      return { type: 'mprotect', pid, map, offset: off, length: len, prot: g.pick(['r', 'rw', 'none'] as const) };
    case 'madvise':
      return { type: 'madvise', pid, map, offset: off, length: len, advice: g.pick(['nohugepage', 'hugepage', 'dontneed', 'dontfork'] as const) };
    case 'mremap':
      return { type: 'mremap', pid, map, offset: 0n, length: g.pick([2n * M, 4n * M]), newLength: g.pick([2n * M, 4n * M, 6n * M]), flags: g.next() < 0.7 ? ['maymove'] : [], addr: null };
    case 'access':
    case 'procmem': {
      const write = g.next() < 0.4;
      return { type: kind, pid, map, offset: g.pick(TOUCH), op: write ? 'write' : 'read', value: write ? BigInt(g.int(1, 0x7fffffff)) : null };
    }
    case 'fork':
      return { type: 'fork', pid, child: 'p2' };
    case 'exit':
      return { type: 'exit', pid: 'p2' };
  }
}
