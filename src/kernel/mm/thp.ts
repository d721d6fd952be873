/**
 * /sys/kernel/mm/transparent_hugepage/enabled (mm/huge_memory.c v6.1
 * enabled_show / enabled_store): the THP mode anonymous faults consult
 * (src/kernel/mm/anon.ts thpApplies). Changing it changes later faults
 * only; mapped THPs stay (khugepaged and splitting on a mode change are not
 * part of 6.1 either).
 */
import type { ThpMode } from '../config.js';
import { err, OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { withState, type KernelState } from '../state.js';

const MODES: readonly ThpMode[] = ['always', 'madvise', 'never'];

/** @kernel enabled_show mm/huge_memory.c — every mode, the current one in brackets. */
export function thpEnabledShow(s: KernelState): string {
  return `${MODES.map((m) => (m === s.thp ? `[${m}]` : m)).join(' ')}\n`;
}

/** @kernel enabled_store mm/huge_memory.c — sysfs_streq against the three names (a trailing newline is fine); anything else -EINVAL. */
export function thpEnabledStore(op: Op, buf: string): Ret {
  const value = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
  const mode = MODES.find((m) => m === value);
  if (mode === undefined) {
    op.branch('enabled_store', 'EINVAL');
    return err('EINVAL');
  }
  if (mode !== op.state.thp) op.state = withState(op.state, { thp: mode });
  return OK;
}
