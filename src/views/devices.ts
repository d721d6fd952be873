/**
 * The dax devices as `daxctl list` shows them (ndctl daxctl/lib + util/json):
 * one object per device, sorted by name. Addresses and sizes are hex strings
 * (SPEC §2: no address passes through a lossy JavaScript number), where
 * daxctl prints plain numbers.
 */
import type { DaxDeviceState } from '../../machines/index.js';
import { deviceSize, type DaxDriverName, type KernelState } from '../kernel/state.js';
import { hex } from '../util/u64.js';

export interface DeviceView {
  readonly chardev: string;
  readonly size: string;
  readonly target_node: number;
  readonly align: string;
  /** daxctl's mode: "system-ram" when kmem holds the device, "devdax" under device_dax, null with no driver. */
  readonly mode: 'devdax' | 'system-ram' | null;
  /** The device's lifecycle state (the dax device machine's state). */
  readonly state: DaxDeviceState;
  readonly driver: DaxDriverName | null;
  readonly ranges: ReadonlyArray<{ readonly start: string; readonly end: string }>;
  readonly memmap_on_memory: boolean;
}

function modeOf(driver: DaxDriverName | null): DeviceView['mode'] {
  if (driver === 'kmem') return 'system-ram';
  if (driver === 'device_dax') return 'devdax';
  return null;
}

/** Order by name in code units, independent of locale. */
export function byName(a: { readonly name: string }, b: { readonly name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Every dax device, sorted by name (code-unit order, independent of locale). */
export function devicesView(state: KernelState): DeviceView[] {
  return [...state.devices].sort(byName).map((d) => ({
    chardev: d.name,
    size: hex(deviceSize(d)),
    target_node: d.targetNode,
    align: hex(d.align),
    mode: modeOf(d.driver),
    state: d.phase,
    driver: d.driver,
    ranges: d.ranges.map((r) => ({ start: hex(r.start), end: hex(r.end) })),
    memmap_on_memory: d.memmapOnMemory,
  }));
}

/** The devices as daxctl prints them: a JSON array, two-space indent, newline-terminated. */
export function renderDevices(state: KernelState): string {
  return `${JSON.stringify(devicesView(state), null, 2)}\n`;
}
