/**
 * Swap areas (src/kernel/mm/swapfile.ts): swapon and swapoff of each block
 * device the boot lists, and of one path that does not exist. On a machine
 * with more prepared areas than MAX_SWAPFILES the search reaches alloc_swap_info's
 * EPERM, and each errno of sys_swapon and sys_swapoff. Opt-in: the swap state
 * multiplies every other state by the subsets of active areas.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { SwapEvent } from '../../src/log/programEvents.js';
import type { OperationGenerator } from './types.js';

/** A path the boot never lists: file_open_name's ENOENT. */
export const MISSING_SWAP_PATH = '/dev/nosuch';

export const swapOps: OperationGenerator = {
  name: 'swap',
  summary: 'swapon and swapoff of each boot block device (boot.blockDevices) and of one missing path',
  onRealKernel: true,
  reachesFaults: false,
  byDefault: false,
  inputs: (s: KernelState) => [s.swap],
  ops(s) {
    const out: SwapEvent[] = [];
    for (const path of [...s.swap.blockDevices, MISSING_SWAP_PATH]) out.push({ type: 'swapon', path }, { type: 'swapoff', path });
    return out;
  },
};
