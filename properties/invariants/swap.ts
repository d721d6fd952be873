/**
 * Swap areas (src/kernel/mm/swapfile.ts): swap_info[] never grows past
 * MAX_SWAPFILES of the profile and configuration, and every type in use at
 * rest is one active area on its own swap device.
 */
import { maxSwapfiles } from '../../src/kernel/mm/swapfile.js';
import type { Invariant } from './types.js';

/**
 * swap-types. alloc_swap_info hands out the first type without SWP_USED and
 * refuses (-EPERM) when none is below MAX_SWAPFILES, so nr_swapfiles never
 * exceeds it; sys_swapon either finishes with p->swap_file set or goes to
 * bad_swap, which clears the flags, so no slot stays SWP_USED without a file;
 * claim_swapfile's exclusive blkdev_get_by_dev keeps one device to one type;
 * read_swap_header admits only a device with the swap signature.
 */
export const swapTypes: Invariant = {
  name: 'swap-types',
  inputs: ['swap'],
  summary: 'swap_info[] holds at most MAX_SWAPFILES types; each type in use is one active swap area on its own device with a swap signature',
  kernel: 'mm/swapfile.c: alloc_swap_info (-EPERM at MAX_SWAPFILES), sys_swapon bad_swap (flags = 0), claim_swapfile (FMODE_EXCL), read_swap_header; include/linux/swap.h MAX_SWAPFILES',
  check: ({ before, after, full }) => {
    const swap = after.swap;
    if (!full && before !== null && before.swap === swap) return [];
    const out: string[] = [];
    const max = maxSwapfiles(after.profile, after.config);
    if (swap.info.length > max) out.push(`${swap.info.length} swap types allocated (nr_swapfiles), MAX_SWAPFILES is ${max}`);
    const seen = new Map<string, number>();
    swap.info.forEach((si, type) => {
      if (!si.used) {
        if (si.path !== null) out.push(`swap type ${type} is free but still names ${si.path}`);
        return;
      }
      if (si.path === null) {
        out.push(`swap type ${type} is SWP_USED with no swap file (a swapon that neither finished nor went to bad_swap)`);
        return;
      }
      const other = seen.get(si.path);
      if (other !== undefined) out.push(`${si.path} is active as swap types ${other} and ${type}`);
      seen.set(si.path, type);
      if (!swap.swapAreas.has(si.path)) out.push(`swap type ${type} is active on ${si.path}, which holds no swap signature`);
    });
    return out;
  },
  culprit: () => 'sys_swapon',
};
