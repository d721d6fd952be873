/**
 * /sys/devices/system/node/nodeN/meminfo (drivers/base/node.c
 * node_read_meminfo, "Node %d MemTotal:       %8lu kB" ...), the lines the
 * model knows: for a node whose memory is all hot-added, MemTotal (the
 * managed pages of its online blocks) and MemFree (those less what the page
 * allocator has handed out: pages the kmem persistence series holds; the
 * model allocates nothing else there). A node with boot RAM prints nothing:
 * what the booted kernel and user space took from it is not modelled, and
 * recorded values are compared on the lines the model prints.
 */
import { heldPagesOnNode } from '../kernel/dax/kmemPersist.js';
import { blockManagedPages } from '../kernel/memoryHotplug.js';
import type { KernelState } from '../kernel/state.js';

/** Managed pages and free pages of node nid, or null when the node has boot RAM. */
export function nodeMemory(s: KernelState, nid: number): { readonly totalPages: number; readonly freePages: number } | null {
  let total = 0;
  for (const b of s.blocks.values()) {
    if (b.nid !== nid) continue;
    if (b.boot) return null;
    if (b.state === 'online') total += blockManagedPages(b);
  }
  return { totalPages: total, freePages: total - heldPagesOnNode(s, nid) };
}

export function renderNodeMeminfo(s: KernelState, nid: number): string {
  const m = nodeMemory(s, nid);
  if (m === null) return '';
  const line = (field: string, kib: number) => `Node ${nid} ${`${field}:`.padEnd(16, ' ')}${String(kib).padStart(8, ' ')} kB\n`;
  return line('MemTotal', m.totalPages * 4) + line('MemFree', m.freePages * 4);
}
