/**
 * kmem-resource-shape (drivers/dax/kmem.c dev_dax_kmem_probe, mm/memory_hotplug.c register_memory_resource).
 */
import { hex } from '../../src/util/u64.js';
import {
  IORESOURCE_BUSY,
  IORESOURCE_SYSRAM_DRIVER_MANAGED,
  IORESOURCE_SYSTEM_RAM,
  findExact,
  nodeAt,
} from '../../src/kernel/resource.js';
import type { Invariant } from './types.js';

export const kmemResourceShape: Invariant = {
  name: 'kmem-resource-shape',
  inputs: ['iomem', 'devices', 'blockSize', 'profile'],
  summary: 'each range kmem holds is a non-BUSY daxX.Y node (flags exactly SYSTEM_RAM) with exactly one BUSY "System RAM (kmem)" child of the same block-aligned range',
  kernel: 'dev_dax_kmem_probe: request_mem_region, res->flags = IORESOURCE_SYSTEM_RAM, add_memory_driver_managed nests the System RAM child',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.iomem === after.iomem && before.devices === after.devices) return [];
    const out: string[] = [];
    const B = after.blockSize;
    const childName = after.profile.kmemDriverManaged ? 'System RAM (kmem)' : 'System RAM';
    const childFlags = after.profile.kmemDriverManaged
      ? (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY | IORESOURCE_SYSRAM_DRIVER_MANAGED) >>> 0
      : (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY) >>> 0;
    for (const dev of after.devices) {
      if (dev.kmem === null) continue;
      dev.kmem.res.forEach((r, i) => {
        if (r === null) return;
        const where = `${dev.name} mapping${i} [${hex(r.start)}-${hex(r.end)}]`;
        if (r.start % B !== 0n || (r.end + 1n) % B !== 0n) out.push(`${where} is not block-aligned`);
        const path = findExact(after.iomem, r.start, r.end, (n) => n.name === dev.name);
        if (path === undefined) {
          out.push(`${where}: no ${dev.name} node in iomem`);
          return;
        }
        const node = nodeAt(after.iomem, path);
        if (node.flags !== IORESOURCE_SYSTEM_RAM) out.push(`${where}: flags 0x${(node.flags >>> 0).toString(16)}, expected exactly IORESOURCE_SYSTEM_RAM (0x1000200)`);
        if (node.children.length !== 1) {
          out.push(`${where}: ${node.children.length} children, expected one "${childName}"`);
          return;
        }
        const c = node.children[0]!;
        if (c.name !== childName || c.start !== r.start || c.end !== r.end || c.flags >>> 0 !== childFlags) {
          out.push(`${where}: child ${c.name} [${hex(c.start)}-${hex(c.end)}] flags 0x${(c.flags >>> 0).toString(16)}, expected "${childName}" of the same range, flags 0x${childFlags.toString(16)}`);
        }
      });
    }
    return out;
  },
};
