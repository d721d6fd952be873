/**
 * The dax device attributes the driver core and drivers/dax/bus.c show
 * besides the model's own (Debian 6.1.192 / 6.12.118): `dev`, `numa_node`,
 * `uevent`. Left out: the dynamic char major (the model has no chrdev table).
 */
import type { DaxDevice, KernelState } from '../state.js';

/**
 * The char major of /dev/daxX.Y: dax_core_init's alloc_chrdev_region takes it dynamically at boot; both Debian
 * harness kernels (6.1.0-57, 6.12.118) gave 253 (test/sysfs-listings). A kernel loading other char drivers
 * first may differ; the model has no chrdev table.
 */
export const DAX_MAJOR = 253;

/** alloc_dax's ida minor: devices numbered in creation order (no device is ever freed in the model). */
export function daxMinor(s: KernelState, d: DaxDevice): number {
  return s.devices.findIndex((x) => x.name === d.name);
}

/**
 * @kernel numa_node_show drivers/dax/bus.c — dev_to_node(): the dax device inherits its region parent's node,
 * numa_map_to_online_node(target_node) at boot (hmem_register_device, nd_e820's ndr_desc.numa_node): the target
 * itself when it had memory at boot, else the nearest online node (the model: the lowest one, exact for two
 * nodes); NUMA_NO_NODE stays -1.
 */
export function daxNumaNode(s: KernelState, d: DaxDevice): number {
  if (d.targetNode < 0) return -1;
  const online = new Set<number>();
  for (const [, b] of s.blocks.entries()) if (b.boot) online.add(b.nid);
  if (online.has(d.targetNode)) return d.targetNode;
  return Math.min(...online);
}

/** @kernel dev_uevent drivers/base/core.c (with dax_bus_uevent): MAJOR/MINOR/DEVNAME for a devt, the driver, MODALIAS. */
export function daxUevent(s: KernelState, d: DaxDevice): string {
  return `MAJOR=${DAX_MAJOR}\nMINOR=${daxMinor(s, d)}\nDEVNAME=${d.name}\n${d.driver === null ? '' : `DRIVER=${d.driver}\n`}MODALIAS=dax:t0\n`;
}

