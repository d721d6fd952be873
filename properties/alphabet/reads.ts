/**
 * The reads of the alphabet: the procfs views, each in-scope block's files
 * and each device's attributes. A read never changes the state (the search
 * finds it a self-loop), but its outcome is checked (errno-documented) and
 * its (path, errno) pairs count for coverage.
 */
import type { StepEvent } from '../../src/log/events.js';
import { DAX, MEM, read } from './events.js';
import { scopeBlocks } from './sysfs.js';
import type { OperationGenerator } from './types.js';

const BLOCK_FILES = ['state', 'online', 'valid_zones', 'phys_index', 'removable'] as const;
const DEVICE_FILES = ['size', 'align', 'target_node', 'resource', 'memmap_on_memory'] as const;

export const readOps: OperationGenerator = {
  name: 'read',
  inputs: (s) => [s.blocks, s.devices],
  reachesFaults: false,
  summary: '/proc/iomem, /proc/meminfo, block_size_bytes, auto_online_blocks, each block\'s and each device\'s files, a write-only file',
  onRealKernel: true,
  ops(s, scope) {
    const out: StepEvent[] = [read('/proc/iomem'), read('/proc/meminfo'), read(`${MEM}/block_size_bytes`), read(`${MEM}/auto_online_blocks`), read(`${DAX}/drivers/kmem/bind`)];
    for (const id of scopeBlocks(s, scope)) for (const f of BLOCK_FILES) out.push(read(`${MEM}/memory${id}/${f}`));
    for (const d of s.devices) for (const f of DEVICE_FILES) out.push(read(`${DAX}/devices/${d.name}/${f}`));
    return out;
  },
};
