/**
 * Mirrors drivers/dax/bus.c (v6.8; v5.1/v6.1 matching and driver-core
 * errnos behind switches) and the bind/unbind/attach parts of
 * drivers/base/bus.c and dd.c: matching, the id lists, sysfs bind, unbind,
 * new_id, remove_id, and the dax device attributes.
 * Left out: region create/delete/seed, mapping writes, dynamic device
 * creation, numa_node/modalias attributes.
 */
import { ERRNO, type Errno } from '../errno.js';
import { err, OK, type Ret } from '../errno.js';
import { kstrtoull } from '../kstrtox.js';
import { kstrtobool, sysfsStreq } from '../memory.js';
import { mhpSupportsMemmapOnMemory } from '../memmapOnMemory.js';
import type { Op } from '../op.js';
import { deviceNamed, findRegion, replaceDevice, withDevice, withState, deviceSize, type DaxDevice, type DaxDriverName, type DaxRange, type KernelState } from '../state.js';
import { daxAlignValid, devDaxProbe, devDaxRemove, SZ_2M } from './device.js';
import { devDaxKmemProbe, devDaxKmemRemove } from './kmem.js';

/**
 * @kernel really_probe drivers/base/dd.c — a failed probe is reported with
 * its number; -ENODEV and -ENXIO ("rejects match") only at debug level.
 */
export function reallyProbeFailed(op: Op, drv: DaxDriverName, name: string, errno: Errno): void {
  if (errno === 'ENODEV' || errno === 'ENXIO') return;
  if (op.state.profile.probeFailedDevErr) op.print(`${drv} ${name}: probe with driver ${drv} failed with error -${ERRNO[errno]}`);
  else op.print(`${drv}: probe of ${name} failed with error -${ERRNO[errno]}`);
}

/** @kernel dax_match_id drivers/dax/bus.c */
function daxMatchId(s: KernelState, drv: DaxDriverName, dev: DaxDevice): boolean {
  return s.driverIds[drv].some((id) => sysfsStreq(id, dev.name));
}

/**
 * @kernel dax_bus_match drivers/dax/bus.c
 * v6.3+: the id list, then the type (IORESOURCE_DAX_KMEM regions are kmem's).
 * Before: device_dax has match_always; kmem matches only by id.
 */
export function daxBusMatch(s: KernelState, drv: DaxDriverName, dev: DaxDevice): boolean {
  if (!s.profile.daxMatchByType) return drv === 'device_dax' || daxMatchId(s, drv, dev);
  if (daxMatchId(s, drv, dev)) return true;
  const region = findRegion(s, dev.regionId);
  const type: DaxDriverName = region?.kmemType === true ? 'kmem' : 'device_dax';
  if (drv === type) return true;
  // dax_match_type: default to device mode if dax_kmem is disabled.
  return drv === 'device_dax' && !s.config.devDaxKmem;
}

/** @kernel dax_bus_probe drivers/dax/bus.c — a zero-sized device is refused before the driver sees it. */
export function daxBusProbe(op: Op, drv: DaxDriverName, dev: DaxDevice): Ret {
  if (deviceSize(dev) === 0n) {
    op.branch('dax_bus_probe', 'ENXIO');
    return err('ENXIO');
  }
  return drv === 'kmem' ? devDaxKmemProbe(op, dev) : devDaxProbe(op, dev);
}

/** @kernel dax_bus_remove drivers/dax/bus.c */
function daxBusRemove(op: Op, dev: DaxDevice): void {
  if (dev.driver === 'kmem') devDaxKmemRemove(op, dev);
  else devDaxRemove(op, dev);
}

function findByName(op: Op, buf: string): DaxDevice | undefined {
  return op.state.devices.find((d) => sysfsStreq(d.name, buf));
}

/**
 * @kernel bind_store drivers/base/bus.c (device_driver_attach, drivers/base/dd.c)
 * v5.14+: -EBUSY for a bound device and the probe's errno; before, only an
 * unbound device was tried and every failure was -ENODEV.
 */
export function bindStore(op: Op, drv: DaxDriverName, buf: string): Ret {
  const dev = findByName(op, buf);
  if (dev === undefined || !daxBusMatch(op.state, drv, dev)) {
    op.branch('bind_store', 'ENODEV');
    return err('ENODEV');
  }
  if (!op.state.profile.bindReportsProbeErrno) {
    if (dev.driver !== null) {
      op.branch('bind_store', 'ENODEV(bound)');
      return err('ENODEV');
    }
    const rc = daxBusProbe(op, drv, dev);
    if (!rc.ok) {
      reallyProbeFailed(op, drv, dev.name, rc.errno);
      op.branch('bind_store', 'ENODEV(probe)');
      return err('ENODEV');
    }
    return OK;
  }
  if (dev.driver !== null) {
    op.branch('bind_store', 'EBUSY');
    return err('EBUSY');
  }
  const rc = daxBusProbe(op, drv, dev);
  if (!rc.ok) reallyProbeFailed(op, drv, dev.name, rc.errno);
  return rc;
}

/** @kernel unbind_store drivers/base/bus.c — only from the driver it is bound to; remove cannot fail. */
export function unbindStore(op: Op, drv: DaxDriverName, buf: string): Ret {
  const dev = findByName(op, buf);
  if (dev === undefined || dev.driver !== drv) {
    op.branch('unbind_store', 'ENODEV');
    return err('ENODEV');
  }
  daxBusRemove(op, dev);
  return OK;
}

/** @kernel __driver_attach drivers/base/dd.c — probe every unbound matching device; errors are ignored. */
export function driverAttach(op: Op, drv: DaxDriverName): void {
  for (const name of op.state.devices.map((d) => d.name)) {
    const dev = op.state.devices.find((d) => d.name === name);
    if (dev === undefined || dev.driver !== null || !daxBusMatch(op.state, drv, dev)) continue;
    const rc = daxBusProbe(op, drv, dev);
    if (!rc.ok) reallyProbeFailed(op, drv, dev.name, rc.errno);
  }
}

const INT32 = /^(-?(?:0|[1-9][0-9]*))$/;

/**
 * @kernel do_id_store drivers/dax/bus.c
 * The value must read back identically through sscanf("dax%d.%d") and
 * sprintf, so "dax00.0" and "dax0.0x" are -EINVAL. new_id then attaches.
 */
export function doIdStore(op: Op, drv: DaxDriverName, buf: string, add: boolean): Ret {
  const name = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
  const m = /^dax([^.]*)\.(.*)$/.exec(name);
  const canonical = (s: string | undefined): boolean =>
    s !== undefined && INT32.test(s) && s !== '-0' && Number(s) >= -(2 ** 31) && Number(s) < 2 ** 31;
  if (m === null || !canonical(m[1]) || !canonical(m[2])) {
    op.branch(add ? 'new_id_store' : 'remove_id_store', 'EINVAL');
    return err('EINVAL');
  }
  const ids = op.state.driverIds[drv];
  const present = ids.some((id) => sysfsStreq(id, name));
  if (add && !present) op.state = withState(op.state, { driverIds: { ...op.state.driverIds, [drv]: [...ids, name] } });
  if (!add && present) op.state = withState(op.state, { driverIds: { ...op.state.driverIds, [drv]: ids.filter((id) => !sysfsStreq(id, name)) } });
  if (add) driverAttach(op, drv);
  return OK;
}

/** alloc_is_aligned: multiples of max(align, memremap_compat_align() = 2 MiB on x86). */
function allocIsAligned(dev: DaxDevice, size: bigint): boolean {
  const a = dev.align > SZ_2M ? dev.align : SZ_2M;
  return size % a === 0n;
}

/** @kernel align_store drivers/dax/bus.c — a parse failure is -ENXIO (sic). */
export function alignStore(op: Op, dev: DaxDevice, buf: string): Ret {
  const v = kstrtoull(buf);
  if (!v.ok) return err('ENXIO');
  if (!daxAlignValid(v.value)) return err('EINVAL');
  if (dev.driver !== null) return err('EBUSY');
  const next: DaxDevice = withDevice(dev, { align: v.value });
  // dev_dax_validate_align; the old value is restored on failure.
  if (!dev.ranges.every((r) => allocIsAligned(next, r.end - r.start + 1n))) return err('EINVAL');
  op.state = replaceDevice(op.state, next);
  return OK;
}

/**
 * @kernel size_store drivers/dax/bus.c (dev_dax_resize, dev_dax_shrink,
 * adjust_dev_dax_range, alloc_dev_dax_range)
 */
export function sizeStore(op: Op, dev: DaxDevice, buf: string): Ret {
  const v = kstrtoull(buf);
  if (!v.ok) return v;
  if (!allocIsAligned(dev, v.value)) return err('EINVAL');
  if (dev.driver !== null) return err('EBUSY');
  const region = findRegion(op.state, dev.regionId);
  if (region === undefined) throw new Error(`model bug: no region ${dev.regionId}`);
  const cur = deviceSize(dev);
  if (v.value === cur) return OK;
  const taken = op.state.devices.filter((d) => d.regionId === dev.regionId).flatMap((d) => d.ranges.map((r) => ({ ...r, owner: d.name })));
  const avail = region.end - region.start + 1n - taken.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
  if (v.value > cur && v.value - cur > avail) return err('ENOSPC');
  let ranges: DaxRange[] = dev.ranges.slice();
  if (v.value < cur) {
    // dev_dax_shrink: trim from the last range backwards.
    let drop = cur - v.value;
    while (drop > 0n) {
      const last = ranges[ranges.length - 1] as DaxRange;
      const len = last.end - last.start + 1n;
      if (len <= drop) {
        ranges.pop();
        drop -= len;
      } else {
        ranges[ranges.length - 1] = { start: last.start, end: last.end - drop };
        drop = 0n;
      }
    }
  } else {
    // First fit in the region's free space; the device's own last range is extended when it borders the gap.
    let toAlloc = v.value - cur;
    const sorted = taken.sort((a, b) => (a.start < b.start ? -1 : 1));
    let cursor = region.start;
    const gaps: DaxRange[] = [];
    for (const t of sorted) {
      if (t.start > cursor) gaps.push({ start: cursor, end: t.start - 1n });
      cursor = t.end + 1n;
    }
    if (cursor <= region.end) gaps.push({ start: cursor, end: region.end });
    for (const g of gaps) {
      if (toAlloc === 0n) break;
      const len = g.end - g.start + 1n;
      const take = len < toAlloc ? len : toAlloc;
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last.end + 1n === g.start) ranges[ranges.length - 1] = { start: last.start, end: last.end + take };
      else ranges = [...ranges, { start: g.start, end: g.start + take - 1n }];
      toAlloc -= take;
    }
  }
  op.state = replaceDevice(op.state, withDevice(dev, { ranges }));
  return OK;
}

/** @kernel memmap_on_memory_store drivers/dax/bus.c (v6.8) */
export function memmapOnMemoryStore(op: Op, dev: DaxDevice, buf: string): Ret {
  const val = kstrtobool(buf, op.state.profile.kstrtoboolTrueFalse);
  if (val === undefined) return err('EINVAL');
  const s = op.state;
  if (val && !mhpSupportsMemmapOnMemory(s.profile, s.config, s.blockPages, s.blockPages).ok) return err('EOPNOTSUPP');
  if (dev.memmapOnMemory !== val && dev.driver === 'kmem') return err('EBUSY');
  op.state = replaceDevice(op.state, withDevice(dev, { memmapOnMemory: val }));
  return OK;
}

/**
 * @kernel range_parse drivers/dax/bus.c — "start-end", both hex
 * (kstrtoull base 16), one trailing newline allowed; -EINVAL otherwise.
 */
export function rangeParse(buf: string): Ret<DaxRange> {
  const s = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
  const dash = s.indexOf('-');
  if (dash < 0) return err('EINVAL');
  const start = kstrtoull(s.slice(0, dash), 16);
  if (!start.ok) return err(start.errno);
  const end = kstrtoull(s.slice(dash + 1), 16);
  if (!end.ok) return err(end.errno);
  return { ok: true, value: { start: start.value, end: end.value } };
}

/**
 * @kernel mapping_store drivers/dax/bus.c (6.1; write-only, dynamic regions
 * only) — range_parse, then, with the region's device bound (dax_hmem is, in
 * every modelled machine), alloc_dev_dax_range for a length that is a
 * multiple of max(align, 2 MiB); rc starts at -ENXIO, so any other length
 * fails with ENXIO (v6.9 starts it at 0: the write "succeeds" and allocates
 * nothing). Unlike size_store and align_store it never looks at dev->driver
 * (finding B2): a bound device grows a range its probe never reserved.
 */
export function mappingStore(op: Op, dev: DaxDevice, buf: string): Ret {
  const r = rangeParse(buf);
  if (!r.ok) {
    op.branch('range_parse', 'EINVAL');
    return r;
  }
  if (op.state.profile.daxMappingStoreChecksBound && dev.driver !== null) {
    op.branch('mapping_store', 'EBUSY');
    return err('EBUSY');
  }
  const len = r.value.end - r.value.start + 1n;
  if (len <= 0n || !allocIsAligned(dev, len)) {
    if (op.state.profile.mappingStoreUnalignedAccepted) return OK;
    op.branch('mapping_store', 'ENXIO');
    return err('ENXIO');
  }
  return allocDevDaxRange(op, dev, r.value.start, len);
}

/**
 * @kernel alloc_dev_dax_range drivers/dax/bus.c — __request_region on the
 * dax region's own resource: the range must lie in the region and clear of
 * every device's ranges (-ENOMEM otherwise); the device gains it as its last
 * range (and the mappingN directory, not modelled).
 */
function allocDevDaxRange(op: Op, dev: DaxDevice, start: bigint, len: bigint): Ret {
  const region = findRegion(op.state, dev.regionId);
  if (region === undefined) throw new Error(`model bug: no region ${dev.regionId}`);
  const end = start + len - 1n;
  const taken = op.state.devices.filter((d) => d.regionId === dev.regionId).flatMap((d) => d.ranges);
  if (start < region.start || end > region.end || taken.some((t) => t.start <= end && start <= t.end)) {
    op.branch('alloc_dev_dax_range', 'ENOMEM');
    return err('ENOMEM');
  }
  op.state = replaceDevice(op.state, withDevice(deviceNamed(op.state, dev.name), { ranges: [...dev.ranges, { start, end }] }));
  return OK;
}
