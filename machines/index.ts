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

export * from './daxDevice.machine.js';
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
