/**
 * The life of one dax device (drivers/dax/bus.c, device.c, kmem.c).
 *
 * Phases are ordered: `intact` (the device's data is untouched; device_dax
 * may be bound or not, `devdax` ⇄ `unbound` as sysfs bind/unbind and
 * dev_dax_probe/dev_dax_remove dictate) → `kmem` (kmem's
 * add_memory_driver_managed added its memory) → `online` (some of that memory
 * reached the page allocator; the persistent contents are gone).
 *
 * The only transitions back to an earlier phase are guarded by `hotRemove`
 * (CONFIG_MEMORY_HOTREMOVE): dev_dax_kmem_remove's remove_memory can succeed
 * only then. Without it the kernel pins the memory until reboot, so the
 * device's phase never goes back — the one-way trip of the 2019 kmem series.
 * Whether a driver is bound is tracked beside the machine (a kmem device
 * whose driver was unbound stays `kmem`/`online`: its memory is still there).
 */
import { setup } from 'xstate';

export interface DaxDeviceContext {
  /** CONFIG_MEMORY_HOTREMOVE of the booted kernel. */
  readonly hotRemove: boolean;
}

export type DaxDeviceEvent =
  /** dev_dax_probe succeeded (bind/new_id/boot). */
  | { type: 'devdax.probed' }
  /** dev_dax_remove ran (unbind). */
  | { type: 'devdax.removed' }
  /** dev_dax_kmem_probe added at least one range. */
  | { type: 'kmem.added' }
  /** memory_block_online succeeded for one of the device's blocks. */
  | { type: 'block.onlined' }
  /** dev_dax_kmem_remove removed every range (remove_memory succeeded for all). */
  | { type: 'kmem.removed' };

export const DAX_DEVICE_EVENT_TYPES = ['devdax.probed', 'devdax.removed', 'kmem.added', 'block.onlined', 'kmem.removed'] as const;

/** The sysfs-facing word for each leaf state (SPEC §4 `devices[].state`). */
export type DaxDeviceState = 'devdax' | 'unbound' | 'kmem' | 'online';

/** Lifecycle phase rank: a transition never lowers it unless guarded by hotRemove. */
export const DAX_DEVICE_PHASE: Readonly<Record<DaxDeviceState, number>> = { devdax: 0, unbound: 0, kmem: 1, online: 2 };

export const daxDeviceMachine = setup({
  types: {
    context: {} as DaxDeviceContext,
    input: {} as DaxDeviceContext,
    events: {} as DaxDeviceEvent,
  },
  guards: {
    hotRemove: ({ context }) => context.hotRemove,
  },
}).createMachine({
  id: 'daxDevice',
  context: ({ input }) => ({ hotRemove: input.hotRemove }),
  initial: 'intact',
  states: {
    intact: {
      initial: 'unbound',
      states: {
        unbound: {
          on: {
            'devdax.probed': { target: 'devdax' },
            'kmem.added': { target: '#daxDevice.kmem' },
          },
        },
        devdax: {
          on: {
            'devdax.removed': { target: 'unbound' },
          },
        },
      },
    },
    kmem: {
      on: {
        // dev_dax_kmem_probe again after a partial hot-remove: a removed range is free again and the pinned
        // ones are skipped once something is mapped. More memory added; the phase stays. Without hot-remove
        // the first surviving range is always pinned, so the probe fails.
        'kmem.added': { target: 'kmem', guard: 'hotRemove' },
        'block.onlined': { target: 'online' },
        'kmem.removed': { target: '#daxDevice.intact.unbound', guard: 'hotRemove' },
      },
    },
    online: {
      on: {
        'kmem.added': { target: 'online', guard: 'hotRemove' },
        'kmem.removed': { target: '#daxDevice.intact.unbound', guard: 'hotRemove' },
      },
    },
  },
});
