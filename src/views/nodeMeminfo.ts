/**
 * /sys/devices/system/node/nodeN/meminfo (drivers/base/node.c
 * node_read_meminfo, "Node %d MemTotal:       %8lu kB" ...), the lines the
 * model knows: for a node whose memory is all hot-added, MemTotal (the
 * managed pages of its online blocks) and MemFree (those less what the page
 * allocator has handed out: pages the kmem persistence series holds and
 * anonymous memory of processes, src/kernel/mm/pageAlloc.ts). A node with
 * boot RAM prints nothing: what the booted kernel and the guest's own user
 * space took from it is not modelled, and recorded values are compared on
 * the lines the model prints. Processes allocate on the boot node (CPU 0's),
 * so their pages show in nodeAllocatedPages there, not in a printed line.
 */
import { heldPagesOnNode } from '../kernel/dax/kmemPersist.js';
import { blockManagedPages } from '../kernel/memoryHotplug.js';
import type { KernelState } from '../kernel/state.js';
import { localNode } from '../kernel/mm/pageAlloc.js';

/** Managed pages and free pages of node nid, or null when the node has boot RAM. */
export function nodeMemory(s: KernelState, nid: number): { readonly totalPages: number; readonly freePages: number } | null {
  let total = 0;
  for (const b of s.blocks.values()) {
    if (b.nid !== nid) continue;
    if (b.boot) return null;
    if (b.state === 'online') total += blockManagedPages(b);
  }
  return { totalPages: total, freePages: total - nodeAllocatedPages(s, nid) };
}

/** Pages the model's page allocator has handed out on node nid: kmem persistence's and processes' anonymous memory (with the huge zero page). */
export function nodeAllocatedPages(s: KernelState, nid: number): number {
  return heldPagesOnNode(s, nid) + (localNode(s) === nid ? s.mm.anon.pages : 0);
}

export function renderNodeMeminfo(s: KernelState, nid: number): string {
  const m = nodeMemory(s, nid);
  if (m === null) return '';
  const line = (field: string, kib: number) => `Node ${nid} ${`${field}:`.padEnd(16, ' ')}${String(kib).padStart(8, ' ')} kB\n`;
  return line('MemTotal', m.totalPages * 4) + line('MemFree', m.freePages * 4);
}
