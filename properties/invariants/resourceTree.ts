/**
 * Invariants of the iomem tree (kernel/resource.c).
 */
import { hex } from '../../src/util/u64.js';
import { isBusy, type Resource } from '../../src/kernel/resource.js';
import type { Invariant } from './types.js';

function label(r: Resource): string {
  return `${r.name} [${hex(r.start)}-${hex(r.end)}]`;
}

/** resource-tree-wellformed: start <= end, children inside parents, siblings sorted and disjoint. */
export const resourceTreeWellformed: Invariant = {
  name: 'resource-tree-wellformed',
  inputs: ['iomem'],
  summary: 'every node has start <= end, lies inside its parent, and its siblings are sorted by start and disjoint',
  kernel: '__request_resource and __insert_resource only link a node into a sorted, disjoint child list inside its parent',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.iomem === after.iomem) return [];
    const out: string[] = [];
    const rec = (node: Resource): void => {
      let prev: Resource | undefined;
      for (const c of node.children) {
        if (c.end < c.start) out.push(`${label(c)} ends before it starts`);
        if (c.start < node.start || c.end > node.end) out.push(`${label(c)} is not inside its parent ${label(node)}`);
        if (prev !== undefined && prev.end >= c.start) out.push(`siblings ${label(prev)} and ${label(c)} are unsorted or overlap`);
        prev = c;
        rec(c);
      }
    };
    rec(after.iomem);
    return out;
  },
};

/** busy-no-overlap: two BUSY nodes overlap only if one is an ancestor of the other. */
export const busyNoOverlap: Invariant = {
  name: 'busy-no-overlap',
  inputs: ['iomem'],
  summary: 'two BUSY resources overlap only if one is an ancestor of the other',
  kernel: '__request_region never places a request inside a BUSY node or across a sibling',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.iomem === after.iomem) return [];
    const busy: Array<{ r: Resource; ancestors: Set<Resource> }> = [];
    const rec = (node: Resource, ancestors: Resource[]): void => {
      for (const c of node.children) {
        if (isBusy(c)) busy.push({ r: c, ancestors: new Set(ancestors) });
        rec(c, [...ancestors, c]);
      }
    };
    rec(after.iomem, []);
    busy.sort((a, b) => (a.r.start < b.r.start ? -1 : a.r.start > b.r.start ? 1 : 0));
    const out: string[] = [];
    // Sweep by start: compare each node with the open nodes it overlaps.
    const open: typeof busy = [];
    for (const cur of busy) {
      for (let i = open.length - 1; i >= 0; i--) if ((open[i] as (typeof busy)[number]).r.end < cur.r.start) open.splice(i, 1);
      for (const o of open) {
        if (!cur.ancestors.has(o.r) && !o.ancestors.has(cur.r)) out.push(`BUSY ${label(o.r)} and BUSY ${label(cur.r)} overlap`);
      }
      open.push(cur);
    }
    return out;
  },
};
