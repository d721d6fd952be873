/**
 * The views `memhp replay --show` prints: /proc/iomem, lsmem, /proc/meminfo
 * (with present/managed pages per node and zone), daxctl-like devices.
 */
import { renderIomem } from '../kernel/resource.js';
import type { KernelState } from '../kernel/state.js';
import { devicesView, renderDevices } from './devices.js';
import { lsmem, renderLsmem } from './lsmem.js';
import { memTotalKiB, renderMeminfo, zoneUsage, type ZoneUsage } from './meminfo.js';
import { hex } from '../util/u64.js';
import { memmapRows, renderMemmap } from './memmap.js';
import { renderProcessMaps } from './smaps.js';

export { devicesView, renderDevices, type DeviceView } from './devices.js';
export { humanSize, lsmem, renderLsmem, type Lsmem, type LsmemRow } from './lsmem.js';
export { memTotalKiB, renderMeminfo, zoneUsage, type ZoneUsage } from './meminfo.js';
export { stateJson, type BlockJson, type DeviceJson, type StateJson } from './stateJson.js';

export const VIEW_NAMES = ['iomem', 'lsmem', 'meminfo', 'devices', 'maps', 'memmap'] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

export function isViewName(s: string): s is ViewName {
  return (VIEW_NAMES as readonly string[]).includes(s);
}

/** The title a view is printed under. */
export const VIEW_TITLES: Readonly<Record<ViewName, string>> = {
  iomem: '/proc/iomem',
  lsmem: 'lsmem',
  meminfo: '/proc/meminfo',
  devices: 'daxctl list',
  maps: 'process mappings (/proc/PID/smaps)',
  memmap: 'struct pages of each dax device',
};

/** Per node and zone: present and managed pages of the online blocks. */
export function renderZoneUsage(usage: readonly ZoneUsage[]): string {
  const rows = [['NODE', 'ZONE', 'BLOCKS', 'PRESENT', 'MANAGED'], ...usage.map((u) => [`${u.node}`, u.zone, `${u.blocks}`, `${u.presentPages}`, `${u.managedPages}`])];
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd())
    .map((l) => `${l}\n`)
    .join('');
}

/** A view as text, newline-terminated. */
export function renderView(name: ViewName, state: KernelState): string {
  switch (name) {
    case 'iomem':
      return renderIomem(state.iomem);
    case 'lsmem':
      return renderLsmem(state);
    case 'meminfo':
      return `${renderMeminfo(state)}\npages per node and zone (online blocks):\n${renderZoneUsage(zoneUsage(state))}`;
    case 'devices':
      return renderDevices(state);
    case 'maps':
      return renderProcessMaps(state);
    case 'memmap':
      return renderMemmap(state);
  }
}

/** A view as JSON-ready data (bigints as hex strings). */
export function viewJson(name: ViewName, state: KernelState): Record<string, unknown> {
  switch (name) {
    case 'iomem':
      return { text: renderIomem(state.iomem) };
    case 'lsmem': {
      const l = lsmem(state);
      return {
        text: renderLsmem(state),
        rows: l.rows.map((r) => ({
          start: hex(r.start),
          end: hex(r.end),
          state: r.state,
          firstBlock: r.firstBlock,
          lastBlock: r.lastBlock,
          zones: r.zones,
          node: r.node,
        })),
      };
    }
    case 'meminfo':
      return { text: renderMeminfo(state), memTotalKiB: memTotalKiB(state), zones: zoneUsage(state) };
    case 'devices':
      return { devices: devicesView(state) };
    case 'maps':
      return { text: renderProcessMaps(state) };
    case 'memmap':
      return { devices: memmapRows(state).map((r) => ({ device: r.device, driver: r.driver, align: hex(r.align), size: hex(r.size), structPages: Number(r.structPages), bytes: hex(r.bytes), how: r.how })) };
  }
}
