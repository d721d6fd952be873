/**
 * Invariants about failing operations.
 */
import type { KernelState } from '../../src/kernel/state.js';
import { failureKey } from '../../src/log/events.js';
import { documentedErrnos } from './errnos.js';
import { NO_MESSAGES, type Invariant } from './types.js';

/** Structural equality for the model's plain data (bigint, arrays, objects, Maps); identity first. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The parts of the state a failed operation must leave as they were (faults consumed and internal counters aside). */
const COMPARED = ['iomem', 'zoneSpans', 'devices', 'regions', 'driverIds', 'groups', 'autoOnline', 'anyHotremoveFailed', 'presentPages', 'managedPages'] as const satisfies ReadonlyArray<keyof KernelState>;

/**
 * Differences the kernel itself leaves behind on a failing path, named by the
 * branch that causes them: `normalize` maps both states' field to what must
 * still agree.
 */
const KERNEL_LEAKS: ReadonlyArray<{ readonly branch: string; readonly field: keyof KernelState; readonly why: string; readonly normalize: (v: KernelState) => unknown }> = [
  {
    branch: 'inject(online_pages)',
    field: 'zoneSpans',
    why: 'online_pages failure: remove_pfn_range_from_zone shrinks the span it grew only to the nearest online subsection',
    normalize: () => null,
  },
  {
    branch: 'mmap_region:unmapped-before-mmap',
    field: 'devices',
    why: 'mmap_region unmaps a MAP_FIXED range before the driver\'s ->mmap can refuse: the unmapped vmas\' last fput drops cdev references (cdev_put)',
    normalize: (s) => s.devices.map((d) => ({ ...d, cdevRefs: 0 })),
  },
  {
    branch: 'dmirror_devmem_alloc_page:new-chunk',
    field: 'iomem',
    why: 'a dmirror migration allocates device chunks (request_free_mem_region) before it can fail (copy_to_user EFAULT, ENOENT for pages that stayed): the chunk stays, as on the kernel',
    normalize: (s) => s.iomem.children.filter((c) => c.name !== 'hmm_dmirror'),
  },
  {
    branch: 'dev_dax_probe:pgmap-set',
    field: 'devices',
    why: 'dev_dax_probe sets dev_dax->pgmap before requesting ranges; a failed probe leaves it stale',
    normalize: (s) => s.devices.map((d) => ({ ...d, pgmap: false })),
  },
];

export const failedOpUnchanged: Invariant = {
  name: 'failed-op-unchanged',
  summary: 'an operation that fails leaves the state as it was, except what the kernel itself leaks (named)',
  kernel: 'the unwind paths: dev_dax_kmem_probe err_request_mem/err_reg_mgid, add_memory_driver_managed release_memory_resource, devm release in dev_dax_probe, memory_block_change_state rollback',
  check: ({ step, before, after }) => {
    // A crash leaves whatever it left: no-oops judges it.
    if (step.outcome.ok || before === null || 'oops' in step.outcome) return NO_MESSAGES;
    const out: string[] = [];
    const changed = before.blocks.changedKeys(after.blocks);
    if (changed.length > 0) out.push(`blocks ${changed.slice(0, 5).map((i) => `memory${i}`).join(', ')} changed`);
    for (const f of COMPARED) {
      if (deepEqual(before[f], after[f])) continue;
      if (KERNEL_LEAKS.some((l) => l.field === f && step.branches.includes(l.branch) && deepEqual(l.normalize(before), l.normalize(after)))) continue;
      out.push(`${f} changed${step.leaks.length > 0 ? ` (the path left behind: ${step.leaks.join(', ')})` : ''}`);
    }
    return out.map((m) => `failed with ${step.outcome.ok ? '' : failureKey(step.outcome)} but ${m}`);
  },
};

export const errnoDocumented: Invariant = {
  name: 'errno-documented',
  onEvents: ['write', 'read'],
  summary: 'every failure carries an errno that the modelled kernel path can return',
  kernel: 'see properties/invariants/errnos.ts: the errnos of each store method and the kernfs open checks',
  onOutcome: true,
  check: ({ step }) => {
    const o = step.outcome;
    // Program events fail with the system call's own errnos, not a sysfs path's.
    if (o.ok || (step.event.type !== 'write' && step.event.type !== 'read')) return NO_MESSAGES;
    // A crash is no errno: no-oops judges it.
    if ('oops' in o) return NO_MESSAGES;
    const allowed = documentedErrnos(step.event.path);
    const got = failureKey(o);
    return (allowed as readonly string[]).includes(got) ? NO_MESSAGES : [`${step.event.path} failed with ${got}, which it cannot return (documented: ${allowed.join(' ')})`];
  },
};
