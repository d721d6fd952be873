/**
 * The machines and the step functions the model uses, derived from them.
 */
import { deriveTable } from './table.js';
import {
  daxDeviceMachine,
  type DaxDeviceEvent,
  type DaxDeviceState,
} from './daxDevice.machine.js';
import {
  memoryBlockActionImpls,
  memoryBlockMachine,
  type MemoryBlockContext,
  type MemoryBlockEvent,
  type MemoryBlockState,
} from './memoryBlock.machine.js';

import { kmemBlockMachine, type KmemBlockEvent, type KmemBlockState } from './kmemBlock.machine.js';
import {
  devicePageActionImpls,
  devicePageContextKey,
  devicePageMachine,
  type DevicePageContext,
  type DevicePageEvent,
  type DevicePageState,
} from './devicePage.machine.js';

export * from './daxDevice.machine.js';
export * from './devicePage.machine.js';
export * from './kmemBlock.machine.js';
export * from './memoryBlock.machine.js';
export * from './table.js';

export const daxDeviceTable = deriveTable<DaxDeviceState, DaxDeviceEvent>({
  machine: daxDeviceMachine,
  sampleEvents: [
    { type: 'devdax.probed' },
    { type: 'devdax.removed' },
    { type: 'kmem.added' },
    { type: 'block.onlined' },
    { type: 'kmem.removed' },
  ],
  contexts: [
    { key: 'oneway', context: { hotRemove: false } },
    { key: 'hotremove', context: { hotRemove: true } },
  ],
});

export const memoryBlockTable = deriveTable<MemoryBlockState, MemoryBlockEvent>({
  machine: memoryBlockMachine,
  sampleEvents: [{ type: 'online', zone: 'Normal' }, { type: 'offline.begin' }, { type: 'offline.done' }, { type: 'offline.failed' }],
  contexts: [{ key: 'all', context: { zone: null } }],
});

/** Step a dax device; undefined when its machine has no such transition from `state`. */
export function stepDaxDevice(state: DaxDeviceState, event: DaxDeviceEvent['type'], hotRemove: boolean): DaxDeviceState | undefined {
  return daxDeviceTable.lookup(hotRemove ? 'hotremove' : 'oneway', state, event)?.target;
}

export interface BlockMachineState extends MemoryBlockContext {
  readonly state: MemoryBlockState;
}

/** Step a memory block's machine state and context; undefined when the transition does not exist. */
export function stepMemoryBlock(current: BlockMachineState, event: MemoryBlockEvent): BlockMachineState | undefined {
  const entry = memoryBlockTable.lookup('all', current.state, event.type);
  if (entry === undefined) return undefined;
  let ctx: MemoryBlockContext = { zone: current.zone };
  for (const a of entry.actions) {
    const impl = memoryBlockActionImpls[a as keyof typeof memoryBlockActionImpls];
    if (impl === undefined) throw new Error(`model bug: no implementation for action ${a}`);
    ctx = impl(ctx, event);
  }
  return { state: entry.target, zone: ctx.zone };
}

export const kmemBlockTable = deriveTable<KmemBlockState, KmemBlockEvent>({
  machine: kmemBlockMachine,
  sampleEvents: [{ type: 'write.allocated' }, { type: 'write.nopage' }, { type: 'write.inplace' }, { type: 'read' }, { type: 'discard' }],
  contexts: [{ key: 'blk', context: {} }],
});

/** Step a kmem_blk logical block; undefined when its machine has no such transition from `state`. */
export function stepKmemBlock(state: KmemBlockState, event: KmemBlockEvent['type']): KmemBlockState | undefined {
  return kmemBlockTable.lookup('blk', state, event)?.target;
}

/**
 * The device page's contexts: the mapcount as the guards see it (none, the
 * last one, more) with and without chunk->remove, each with the states a
 * page can be in with it (a free page has no mapping and leaves at
 * chunk.removing; a mapped one has at least one; a gone one was removed).
 */
export const devicePageTable = deriveTable<DevicePageState, DevicePageEvent>({
  machine: devicePageMachine,
  sampleEvents: [
    { type: 'devpage.allocated' },
    { type: 'devpage.mapped' },
    { type: 'devpage.unmapped' },
    { type: 'devpage.isolated' },
    { type: 'devpage.freed' },
    { type: 'chunk.removing' },
  ],
  contexts: [
    { key: 'unmapped', context: { mapcount: 0, removing: false }, states: ['free', 'allocated'] },
    { key: 'unmapped-removing', context: { mapcount: 0, removing: true }, states: ['allocated', 'gone'] },
    { key: 'sole', context: { mapcount: 1, removing: false }, states: ['mapped'] },
    { key: 'sole-removing', context: { mapcount: 1, removing: true }, states: ['mapped'] },
    { key: 'shared', context: { mapcount: 2, removing: false }, states: ['mapped'] },
    { key: 'shared-removing', context: { mapcount: 2, removing: true }, states: ['mapped'] },
  ],
});

export interface DevicePageMachineState extends DevicePageContext {
  readonly state: DevicePageState;
}

/**
 * Step a device page's machine state and context through the derived table;
 * undefined when the machine has no such transition (or the state and
 * context cannot go together, e.g. `mapped` with no mapping).
 */
export function stepDevicePage(current: DevicePageMachineState, event: DevicePageEvent['type']): DevicePageMachineState | undefined {
  const entry = devicePageTable.lookup(devicePageContextKey(current), current.state, event);
  if (entry === undefined) return undefined;
  let ctx: DevicePageContext = { mapcount: current.mapcount, removing: current.removing };
  for (const a of entry.actions) {
    const impl = devicePageActionImpls[a as keyof typeof devicePageActionImpls];
    if (impl === undefined) throw new Error(`model bug: no implementation for action ${a}`);
    ctx = impl(ctx);
  }
  return { state: entry.target, mapcount: ctx.mapcount, removing: ctx.removing };
}
