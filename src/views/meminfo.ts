/**
 * /proc/meminfo as far as the model knows it (fs/proc/meminfo.c
 * meminfo_proc_show, show_val_kb: "%-16s%8lu kB" style), plus a per-node,
 * per-zone present/managed view for `--show meminfo`.
 */
import { blockManagedPages, blockPresentPages } from '../kernel/memoryHotplug.js';
import type { KernelState } from '../kernel/state.js';

/** MemTotal = totalram_pages() in KiB: managed pages of online memory; self-hosted memmap pages are not managed. */
export function memTotalKiB(state: KernelState): number {
  return state.managedPages * 4;
}

/** The MemTotal line exactly as show_val_kb prints it ("MemTotal:" padded, value right-aligned in 8 columns). */
export function renderMeminfo(state: KernelState): string {
  return `MemTotal:       ${String(memTotalKiB(state)).padStart(8, ' ')} kB\n`;
}

export interface ZoneUsage {
  readonly node: number;
  readonly zone: string;
  readonly presentPages: number;
  readonly managedPages: number;
  readonly blocks: number;
}

/** Present and managed pages per node and zone, summed over online blocks. */
export function zoneUsage(state: KernelState): ZoneUsage[] {
  const acc = new Map<string, { node: number; zone: string; presentPages: number; managedPages: number; blocks: number }>();
  for (const b of state.blocks.values()) {
    if (b.state !== 'online') continue;
    const zone = b.zone ?? 'mixed';
    const key = `${b.nid}:${zone}`;
    const cur = acc.get(key) ?? { node: b.nid, zone, presentPages: 0, managedPages: 0, blocks: 0 };
    cur.presentPages += blockPresentPages(b);
    cur.managedPages += blockManagedPages(b);
    cur.blocks += 1;
    acc.set(key, cur);
  }
  return [...acc.values()].sort((a, b) => a.node - b.node || a.zone.localeCompare(b.zone));
}
