/**
 * The sysfs writes of the alphabet, each with the values that mean something
 * to the kernel path behind it (SPEC §3 paths): driver bind / unbind /
 * new_id / remove_id for every device and both dax drivers, the four state
 * words and the two online values for every block in scope, the dax device
 * attributes and auto_online_blocks, and a few malformed writes whose
 * errnos are part of each path's contract.
 */
import type { KernelState } from '../../src/kernel/state.js';
import { deviceSize } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { DAX, MEM, write } from './events.js';
import type { AlphabetScope, OperationGenerator } from './types.js';

const DRIVERS = ['device_dax', 'kmem'] as const;
const DRIVER_FILES = ['bind', 'unbind', 'new_id', 'remove_id'] as const;

/** Hot-added block ids of a block map, cached per map (maps are immutable and shared between states). */
const hotCache = new WeakMap<KernelState['blocks'], readonly number[]>();

/** The blocks in scope: the hot-added blocks (up to the scope's limit) and the scope's boot blocks that exist, ascending. */
export function scopeBlocks(s: KernelState, scope: AlphabetScope): readonly number[] {
  let hot = hotCache.get(s.blocks);
  if (hot === undefined) {
    const ids: number[] = [];
    for (const [id, b] of s.blocks.entries()) if (!b.boot) ids.push(id);
    hotCache.set(s.blocks, (hot = ids));
  }
  if (hot.length > scope.hotBlockLimit) hot = hot.slice(0, scope.hotBlockLimit);
  if (scope.bootBlocks.length === 0) return hot;
  const boot = scope.bootBlocks.filter((id) => s.blocks.get(id)?.boot === true);
  return [...boot, ...hot].sort((a, b) => a - b);
}

export const driverOps: OperationGenerator = {
  name: 'driver',
  inputs: (s) => [s.devices],
  reachesFaults: true,
  summary: 'bind, unbind, new_id and remove_id of each dax driver, for each device',
  onRealKernel: true,
  ops(s) {
    const out: StepEvent[] = [];
    for (const d of s.devices) for (const drv of DRIVERS) for (const f of DRIVER_FILES) out.push(write(`${DAX}/drivers/${drv}/${f}`, d.name));
    return out;
  },
};

/**
 * The driver operations mappings depend on: unbind from and bind to
 * device_dax (the zap of live mappings, files outliving a bind). A preset
 * with programs takes these rather than all of `driver`, whose new_id /
 * remove_id lists and kmem binds multiply the process states by hotplug
 * states no mapping sees.
 */
export const rebindOps: OperationGenerator = {
  name: 'rebind',
  inputs: (s) => [s.devices],
  reachesFaults: true,
  // A subset of `driver`: by default it would only repeat its transitions.
  byDefault: false,
  summary: 'unbind and bind of device_dax, for each device (the part of driver that mappings see)',
  onRealKernel: true,
  ops(s) {
    const out: StepEvent[] = [];
    for (const d of s.devices) out.push(write(`${DAX}/drivers/device_dax/unbind`, d.name), write(`${DAX}/drivers/device_dax/bind`, d.name));
    return out;
  },
};

const BLOCK_WRITES: ReadonlyArray<readonly [string, string]> = [
  ['state', 'online_movable'],
  ['state', 'online_kernel'],
  ['state', 'online'],
  ['state', 'offline'],
  ['online', '1'],
  ['online', '0'],
];

export const blockOps: OperationGenerator = {
  name: 'block',
  inputs: (s) => [s.blocks],
  reachesFaults: true,
  summary: 'the four state words and online 1/0 for each hot-added block (and the preset\'s boot blocks)',
  onRealKernel: true,
  ops(s, scope) {
    const out: StepEvent[] = [];
    for (const id of scopeBlocks(s, scope)) for (const [f, v] of BLOCK_WRITES) out.push(write(`${MEM}/memory${id}/${f}`, v));
    return out;
  },
};

export const attrOps: OperationGenerator = {
  name: 'attr',
  inputs: (s) => [s.devices],
  reachesFaults: true,
  summary: 'auto_online_blocks (each online type); per device size (0, align, one block, boot size), align (2M, 1G), memmap_on_memory (1, 0)',
  onRealKernel: true,
  ops(s, scope) {
    const out: StepEvent[] = [];
    for (const t of ['offline', 'online', 'online_kernel', 'online_movable']) out.push(write(`${MEM}/auto_online_blocks`, t));
    for (const d of s.devices) {
      const dir = `${DAX}/devices/${d.name}`;
      // Sizes: shrink to nothing, to the smallest allocation, to one memory block, and back to the size the
      // device had at boot.
      const sizes = new Set<bigint>([0n, d.align, s.blockSize, scope.bootSizes.get(d.name) ?? deviceSize(d)]);
      for (const v of [...sizes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out.push(write(`${dir}/size`, String(v)));
      out.push(write(`${dir}/align`, '2097152'), write(`${dir}/align`, '1073741824'));
      out.push(write(`${dir}/memmap_on_memory`, '1'), write(`${dir}/memmap_on_memory`, '0'));
    }
    return out;
  },
};

export const invalidOps: OperationGenerator = {
  name: 'invalid',
  inputs: (s) => [s.blocks, s.devices],
  reachesFaults: false,
  summary: 'malformed or refused writes: bad state words, online 2, read-only files, unknown devices and blocks',
  onRealKernel: true,
  ops(s, scope) {
    const out: StepEvent[] = [];
    const blocks = scopeBlocks(s, scope);
    const first = blocks[0];
    if (first !== undefined) {
      out.push(
        write(`${MEM}/memory${first}/state`, 'onlin'),
        write(`${MEM}/memory${first}/state`, 'going-offline'),
        write(`${MEM}/memory${first}/state`, '', true),
        write(`${MEM}/memory${first}/online`, '2'),
        write(`${MEM}/memory${first}/valid_zones`, 'Movable'),
        write(`${MEM}/memory${first}/phys_index`, '0'),
      );
    }
    out.push(write(`${MEM}/auto_online_blocks`, 'movable'), write(`${MEM}/block_size_bytes`, '1'));
    for (const drv of DRIVERS) out.push(write(`${DAX}/drivers/${drv}/bind`, 'dax9.9'), write(`${DAX}/drivers/${drv}/new_id`, 'dax'));
    const d = s.devices[0];
    if (d !== undefined) {
      const dir = `${DAX}/devices/${d.name}`;
      out.push(write(`${dir}/size`, 'abc'), write(`${dir}/align`, '12345'), write(`${dir}/target_node`, '0'), write(`${dir}/resource`, '0'), write(`${dir}/memmap_on_memory`, 'maybe'));
    }
    return out;
  },
};
