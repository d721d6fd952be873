/**
 * One memory block device (drivers/base/memory.c): `offline` ⇄ `online`,
 * through the transient `going-offline` that memory_block_change_state sets
 * before memory_block_offline runs and clears when it returns. The zone is
 * recorded at online (mem->zone = zone in memory_block_online) and cleared
 * at offline (memory_block_offline).
 *
 * Whether offlining is possible at all (CONFIG_MEMORY_HOTREMOVE, unmovable
 * pages, holes) is decided by the kernel path before the transition is
 * taken; the machine says which transitions exist.
 */
import { assign, setup } from 'xstate';

export type ZoneName = 'DMA' | 'DMA32' | 'Normal' | 'Movable';

export interface MemoryBlockContext {
  /** mem->zone: null when offline, or when the block spans several zones (boot memory). */
  readonly zone: ZoneName | null;
}

export type MemoryBlockEvent =
  | { type: 'online'; zone: ZoneName | null }
  | { type: 'offline.begin' }
  | { type: 'offline.done' }
  | { type: 'offline.failed' };

export const MEMORY_BLOCK_EVENT_TYPES = ['online', 'offline.begin', 'offline.done', 'offline.failed'] as const;

export type MemoryBlockState = 'offline' | 'online' | 'going-offline';

/**
 * Context updates, shared by the machine's named actions and by the table
 * stepper derived from the machine (machines/table.ts), so both apply the
 * same code.
 */
export const memoryBlockActionImpls = {
  recordZone: (_ctx: MemoryBlockContext, event: MemoryBlockEvent): MemoryBlockContext => ({
    zone: event.type === 'online' ? event.zone : null,
  }),
  clearZone: (_ctx: MemoryBlockContext, _event: MemoryBlockEvent): MemoryBlockContext => ({ zone: null }),
} as const;

export const memoryBlockMachine = setup({
  types: {
    context: {} as MemoryBlockContext,
    input: {} as MemoryBlockContext,
    events: {} as MemoryBlockEvent,
  },
  actions: {
    recordZone: assign(({ context, event }) => memoryBlockActionImpls.recordZone(context, event)),
    clearZone: assign(({ context, event }) => memoryBlockActionImpls.clearZone(context, event)),
  },
}).createMachine({
  id: 'memoryBlock',
  context: ({ input }) => ({ zone: input.zone }),
  initial: 'offline',
  states: {
    offline: {
      on: { online: { target: 'online', actions: 'recordZone' } },
    },
    online: {
      on: { 'offline.begin': { target: 'going-offline' } },
    },
    'going-offline': {
      on: {
        'offline.done': { target: 'offline', actions: 'clearZone' },
        'offline.failed': { target: 'online' },
      },
    },
  },
});
