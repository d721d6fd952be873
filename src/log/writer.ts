/**
 * Events back to JSON Lines (SPEC §3). Keys come in a fixed order and numbers
 * as lower-case hex, so the same events always give the same bytes and
 * reading the output gives the same events back.
 *
 * A boot is written in full (every config field, every default filled in):
 * a saved failure must replay on the same machine even if a default changes.
 * Step events keep their optional fields only when they differ from the default.
 */
import type { BootEvent, DaxDeviceSpec, DaxRegionSpec, LocatedEvent, LogEvent, Outcome } from './events.js';
import { hex } from '../util/u64.js';
import { programEventFields } from './programWriter.js';
import { DEFAULT_CONFIG } from '../kernel/config.js';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A recorded outcome as the log spells it. */
export function outcomeToJson(o: Outcome): JsonObject {
  const out: JsonObject = { ok: o.ok };
  if (o.ok && o.value !== undefined) out['value'] = o.value;
  if (o.ok && o.out !== undefined) out['out'] = { ...o.out };
  if (!o.ok) {
    if ('errno' in o) out['errno'] = o.errno;
    else if ('signal' in o) {
      out['signal'] = o.signal;
      out['code'] = o.code;
    } else out['oops'] = o.oops;
  }
  if (o.log !== undefined) out['log'] = [...o.log];
  return out;
}

function deviceToJson(d: DaxDeviceSpec): JsonObject {
  const out: JsonObject = { name: d.name };
  const only = d.ranges.length === 1 ? d.ranges[0] : undefined;
  if (only !== undefined) {
    out['start'] = hex(only.start);
    out['size'] = hex(only.size);
  } else {
    out['ranges'] = d.ranges.map((r) => ({ start: hex(r.start), size: hex(r.size) }));
  }
  out['align'] = hex(d.align);
  // "auto" is the absence of a driver field; null means explicitly unbound.
  if (d.driver !== 'auto') out['driver'] = d.driver;
  out['memmapOnMemory'] = d.memmapOnMemory;
  return out;
}

function regionToJson(r: DaxRegionSpec): JsonObject {
  const out: JsonObject = {
    id: r.id,
    kind: r.kind,
    name: r.name,
    start: hex(r.start),
    size: hex(r.size),
    targetNode: r.targetNode,
    align: hex(r.align),
  };
  if (r.namespace !== null) out['namespace'] = { name: r.namespace.name, size: hex(r.namespace.size) };
  if (r.map !== (r.kind === 'pmem' ? 'dev' : 'mem')) out['map'] = r.map;
  if (r.persistent !== undefined && r.persistent !== (r.kind === 'pmem')) out['persistent'] = r.persistent;
  out['devices'] = r.devices.map(deviceToJson);
  return out;
}

function bootFields(b: BootEvent): JsonObject {
  const c = b.config;
  const out: JsonObject = {
    kernel: b.kernel,
    config: {
      memoryHotremove: c.memoryHotremove,
      autoOnline: c.autoOnline,
      memmapOnMemory: c.memmapOnMemory,
      structPageSize: c.structPageSize,
      pageblockOrder: c.pageblockOrder,
      movableNode: c.movableNode,
      physmemBits: c.physmemBits,
      devDaxKmem: c.devDaxKmem,
      // Written only when set: a log of a kernel without these options reads (and writes back) as before they existed.
      ...(c.memoryFailure ? { memoryFailure: true } : {}),
      ...(c.crashHotplug ? { crashHotplug: true } : {}),
      ...(c.archMemoryProbe ? { archMemoryProbe: true } : {}),
      ...(c.devicePrivate ? { devicePrivate: true } : {}),
      ...(c.migration ? {} : { migration: false }),
      ...(c.pteMarker ? {} : { pteMarker: false }),
      ...(c.testHmm === 'n' ? {} : { testHmm: c.testHmm }),
      ...(c.physAddrBits === DEFAULT_CONFIG.physAddrBits ? {} : { physAddrBits: c.physAddrBits }),
      ...(c.thp === 'always' ? {} : { thp: c.thp }),
    },
    memoryBlockSize: hex(b.memoryBlockSize),
    ram: b.ram.map((r) => ({ start: hex(r.start), size: hex(r.size), node: r.node })),
    // "end" rather than "size": an entry reaching 0xffffffffffffffff has a size of 2^64.
    iomem: b.iomem.map((e) => ({ start: hex(e.start), end: hex(e.end), name: e.name, busy: e.busy, desc: e.desc })),
    unmovable: [...b.unmovable],
    reservedKiB: b.reservedKiB,
    daxRegions: b.daxRegions.map(regionToJson),
  };
  if (b.blockDevices.length > 0) out['blockDevices'] = [...b.blockDevices];
  if (b.swapAreas.length > 0) out['swapAreas'] = [...b.swapAreas];
  if (b.variant !== null) out['variant'] = b.variant;
  if (b.patches.length > 0) out['patches'] = [...b.patches];
  return out;
}

function eventFields(e: LogEvent): JsonObject {
  switch (e.type) {
    case 'boot':
      return bootFields(e);
    case 'write':
      return e.raw ? { path: e.path, value: e.value, raw: true } : { path: e.path, value: e.value };
    case 'read':
      return { path: e.path };
    case 'inject':
      return e.nth === 1 ? { site: e.site, errno: e.errno } : { site: e.site, errno: e.errno, nth: e.nth };
    case 'reboot':
      return {};
    default:
      return programEventFields(e);
  }
}

/**
 * An event as a JSON object: seq, type, the event's fields, result.
 * @param result the outcome to record; defaults to the event's own recorded result
 */
export function eventToJson(e: LogEvent, result: Outcome | undefined = e.result): JsonObject {
  const out: JsonObject = {};
  if (e.seq !== undefined) out['seq'] = e.seq;
  out['type'] = e.type;
  Object.assign(out, eventFields(e));
  if (result !== undefined) out['result'] = outcomeToJson(result);
  return out;
}

/**
 * One log line (no trailing newline).
 * @example writeEvent({ type: 'read', path: '/proc/iomem', seq: 4 }) // '{"seq":4,"type":"read","path":"/proc/iomem"}'
 */
export function writeEvent(e: LogEvent, result?: Outcome): string {
  return JSON.stringify(eventToJson(e, result ?? e.result));
}

/** A whole log, one line per event, newline-terminated. */
export function writeLog(events: Iterable<LogEvent | LocatedEvent>): string {
  let out = '';
  for (const item of events) out += `${writeEvent('at' in item ? item.event : item)}\n`;
  return out;
}
