/**
 * Mirrors drivers/dax/device.c (v6.8): the device_dax driver's probe and
 * remove as far as they touch the resource tree and the device's state, plus
 * the alignment rule (dax_align_valid).
 * Left out: the character device, mmap and faults (a later area), pgmap
 * vmemmap_shift details.
 */
import { hex } from '../../util/u64.js';
import { err, OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { IORESOURCE_SYSTEM_RAM, REGION_DISJOINT, regionIntersects, releaseMemRegion, requestRegion } from '../resource.js';
import { deviceNamed, findRegion, replaceDevice, withDevice, withState, type DaxDevice, type DaxRange } from '../state.js';
import { advanceDevice } from './lifecycle.js';
import { cdevPut, daxIsPfnSpecial } from './deviceFops.js';
import { unmapMappingRange } from '../mm/vma.js';

export const SZ_4K = 4096n;
export const SZ_2M = 2n * 1024n * 1024n;
export const SZ_1G = 1024n * 1024n * 1024n;

/** @kernel dax_align_valid drivers/dax/device.c — x86-64 with THP and PUD THP. */
export function daxAlignValid(align: bigint): boolean {
  return align === SZ_4K || align === SZ_2M || align === SZ_1G;
}

/** @kernel dev_dax_probe drivers/dax/device.c */
export function devDaxProbe(op: Op, device: DaxDevice): Ret {
  let dev = device;
  const region = findRegion(op.state, dev.regionId);
  if (region === undefined) throw new Error(`model bug: no region ${dev.regionId}`);
  if (region.isStatic && dev.ranges.length > 1) {
    op.print(`device_dax ${dev.name}: static pgmap / multi-range device conflict`);
    op.branch('dev_dax_probe', 'EINVAL');
    return err('EINVAL');
  }
  if (!region.isStatic) {
    if (dev.pgmap) {
      op.print(`device_dax ${dev.name}: dynamic-dax with pre-populated page map`);
      op.branch('dev_dax_probe', 'EINVAL(pgmap)');
      return err('EINVAL');
    }
    // Set before the ranges are requested; a failure below leaves it stale (seen on 6.1.0-56, harness stale-pgmap).
    dev = withDevice(dev, { pgmap: true });
    op.state = replaceDevice(op.state, dev);
    op.branch('dev_dax_probe', 'pgmap-set');
  }
  // devm: on failure the regions requested so far are released, newest first.
  const acquired: DaxRange[] = [];
  const unwind = (): void => {
    let iomem = op.state.iomem;
    for (const r of acquired.reverse()) iomem = releaseMemRegion(iomem, r.start, r.end - r.start + 1n).root;
    op.state = withState(op.state, { iomem });
  };
  for (let i = 0; i < dev.ranges.length; i++) {
    const r = dev.ranges[i]!;
    const injected = op.inject('request_mem_region');
    const req = injected === null ? requestRegion(op.state.iomem, r.start, r.end - r.start + 1n, dev.name, 0, [], { warnTopLevelOnly: op.state.profile.devicePrivateWarnTopLevelOnly }) : null;
    for (const w of req?.warnings ?? []) op.print(w);
    if (req === null || !req.ok) {
      op.print(`device_dax ${dev.name}: mapping${i}: ${hex(r.start)}-${hex(r.end)} could not reserve range`);
      op.branch('dev_dax_probe', 'EBUSY');
      unwind();
      return err('EBUSY');
    }
    op.state = withState(op.state, { iomem: req.root });
    acquired.push(r);
  }
  // The RFC (7/10): a PFN_SPECIAL region skips devm_memremap_pages: no pgmap, no struct pages.
  if (daxIsPfnSpecial(op.state, dev)) {
    advanceDevice(op, dev, 'devdax.probed', { driver: 'device_dax', mapped: dev.ranges, cdevGen: dev.cdevGen + 1, cdevRefs: 1 });
    return OK;
  }
  // devm_memremap_pages: memremap_pages refuses ranges that intersect System RAM.
  for (const r of dev.ranges) {
    const is = regionIntersects(op.state.iomem, r.start, r.end - r.start + 1n, IORESOURCE_SYSTEM_RAM, 0);
    if (is !== REGION_DISJOINT) {
      op.print(`WARNING: memremap_pages attempted on ram region ${hex(r.start)}-${hex(r.end)}`);
      op.branch('dev_dax_probe', 'ENXIO');
      unwind();
      return err('ENXIO');
    }
  }
  const injected = op.inject('memremap_pages');
  if (injected !== null) {
    unwind();
    return err(injected);
  }
  // cdev_init + cdev_add of the embedded cdev (a new generation, bug B1), run_dax: the device is alive.
  advanceDevice(op, dev, 'devdax.probed', { driver: 'device_dax', mapped: dev.ranges, cdevGen: dev.cdevGen + 1, cdevRefs: 1 });
  return OK;
}

/**
 * @kernel dev_dax_remove drivers/dax/device.c — the devm actions of the probe
 * in reverse: dev_dax_kill (kill_dev_dax: kill_dax, then
 * unmap_mapping_range of the whole inode), cdev_del, then each range's
 * region released. Vmas survive and fault again after a rebind.
 */
export function devDaxRemove(op: Op, dev: DaxDevice): void {
  if (!op.state.profile.daxUnbindSkipsZap) unmapMappingRange(op, (f) => f.driver === 'dax' && f.dev === dev.name);
  // cdev_del drops the kobject reference cdev_init gave; stale files may have dropped it already (bug B1).
  if (!op.state.profile.daxCdevInitOnce) cdevPut(op, dev.name);
  let iomem = op.state.iomem;
  for (const r of dev.ranges) {
    const rel = releaseMemRegion(iomem, r.start, r.end - r.start + 1n);
    if (rel.warning !== undefined) op.print(rel.warning);
    iomem = rel.root;
  }
  op.state = withState(op.state, { iomem });
  const cur = deviceNamed(op.state, dev.name);
  // kill_dev_dax (the devm action of the successful probe) clears a dynamic device's pgmap.
  advanceDevice(op, cur, 'devdax.removed', { driver: null, pgmap: false, mapped: null });
}
