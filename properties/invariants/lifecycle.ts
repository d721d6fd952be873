/**
 * Lifecycle invariants: the one-way trip (no CONFIG_MEMORY_HOTREMOVE) and,
 * with hot-remove, that device_dax never maps memory the page allocator owns.
 */
import { DAX_DEVICE_PHASE } from '../../machines/index.js';
import { NO_MESSAGES, type Invariant } from './types.js';

/** device-one-way: a device never returns to an earlier phase; a block never goes back offline. */
export const deviceOneWay: Invariant = {
  name: 'device-one-way',
  summary: 'without hot-remove, a dax device never returns to an earlier phase (intact → kmem → online) and an online block never goes offline',
  kernel: 'remove_memory is a stub returning -EBUSY and offline_pages one returning -EINVAL without CONFIG_MEMORY_HOTREMOVE; dev_dax_kmem_remove then pins the memory',
  appliesTo: (s) => !s.config.memoryHotremove,
  check: ({ step, before, after, changedBlocks }) => {
    // Nothing it looks at changed (a program step): no list made.
    if (step.branches.length === 0 && before !== null && before.devices === after.devices && changedBlocks.length === 0) return NO_MESSAGES;
    const out: string[] = [];
    for (const b of step.branches) {
      if (b.startsWith('lifecycle-refused:')) out.push(`the kernel path took a transition the dax device machine does not have: ${b.slice('lifecycle-refused:'.length)}`);
    }
    if (before === null) return out;
    // The same device list: no device changed phase (a program step, a block write).
    if (before.devices !== after.devices) for (const dev of after.devices) {
      const old = before.devices.find((d) => d.name === dev.name);
      if (old !== undefined && DAX_DEVICE_PHASE[dev.phase] < DAX_DEVICE_PHASE[old.phase]) out.push(`${dev.name} went back from ${old.phase} to ${dev.phase}`);
    }
    for (const id of changedBlocks) {
      const was = before.blocks.get(id);
      const now = after.blocks.get(id);
      if (was?.state === 'online' && now?.state !== 'online') out.push(`memory${id} went from online to ${now?.state ?? 'removed'}`);
    }
    return out;
  },
};

/** no-devdax-over-online-memory: with hot-remove, no device_dax device covers online memory. */
export const noDevdaxOverOnlineMemory: Invariant = {
  name: 'no-devdax-over-online-memory',
  summary: 'with hot-remove, no device bound to device_dax covers a memory block that is online',
  kernel: 'dev_dax_kmem_remove removes memory only when every block is offline; otherwise the kmem resources stay BUSY and dev_dax_probe fails',
  appliesTo: (s) => s.config.memoryHotremove,
  check: ({ step, after }) => {
    const out: string[] = [];
    for (const b of step.branches) {
      if (b.startsWith('lifecycle-refused:')) out.push(`the kernel path took a transition the dax device machine does not have: ${b.slice('lifecycle-refused:'.length)}`);
    }
    for (const dev of after.devices) {
      if (dev.driver !== 'device_dax') continue;
      for (const r of dev.ranges) {
        for (const [id, b] of after.blocks.range(Number(r.start / after.blockSize), Number(r.end / after.blockSize))) {
          if (b.state === 'online') out.push(`${dev.name} is bound to device_dax over online memory${id}`);
        }
      }
    }
    return out;
  },
};
