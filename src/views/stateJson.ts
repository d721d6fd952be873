/**
 * The `state` object of `memhp replay --json` (SPEC §4), exactly: the kernel
 * version, /proc/iomem as root reads it, the block size, the blocks sorted
 * by id, the devices sorted by name, MemTotal in KiB.
 */
import type { DaxDeviceState, MemoryBlockState, ZoneName } from '../../machines/index.js';
import { renderIomem } from '../kernel/resource.js';
import type { KernelVersion } from '../kernel/profile.js';
import type { DaxDriverName, KernelState } from '../kernel/state.js';
import { hex } from '../util/u64.js';
import { byName } from './devices.js';
import { memTotalKiB } from './meminfo.js';

export interface BlockJson {
  readonly id: number;
  readonly state: MemoryBlockState;
  readonly zone: ZoneName | null;
  readonly node: number;
  readonly vmemmapPages: number;
}

export interface DeviceJson {
  readonly name: string;
  readonly state: DaxDeviceState;
  readonly driver: DaxDriverName | null;
  readonly targetNode: number;
}

export interface StateJson {
  readonly kernel: KernelVersion;
  readonly iomem: string;
  readonly memoryBlockSize: string;
  readonly blocks: readonly BlockJson[];
  readonly devices: readonly DeviceJson[];
  readonly memTotalKiB: number;
}

export function stateJson(state: KernelState): StateJson {
  const blocks: BlockJson[] = [];
  // IntMap iterates in ascending id order.
  for (const [id, b] of state.blocks.entries()) {
    blocks.push({ id, state: b.state, zone: b.zone, node: b.nid, vmemmapPages: b.vmemmapPages });
  }
  const devices = [...state.devices]
    .sort(byName)
    .map((d) => ({ name: d.name, state: d.phase, driver: d.driver, targetNode: d.targetNode }));
  return {
    kernel: state.profile.kernel,
    iomem: renderIomem(state.iomem),
    memoryBlockSize: hex(state.blockSize),
    blocks,
    devices,
    memTotalKiB: memTotalKiB(state),
  };
}
