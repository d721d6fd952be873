/**
 * What each dax device's struct pages cost (the 2020 RFC's question): while
 * device_dax is bound, dev_dax_probe's devm_memremap_pages builds a memmap
 * for every page of the device (mm/memremap.c). With align > 4K the pages
 * are compound (pgmap->vmemmap_shift, v5.17+), and where
 * vmemmap_can_optimize() holds (include/linux/mm.h v6.1: no altmap, and a
 * compound page's struct pages span more than two vmemmap pages) only two
 * vmemmap pages per compound page are real (mm/sparse-vmemmap.c
 * vmemmap_populate_compound_pages), the rest map the second again. A pmem
 * namespace in devdax mode keeps its memmap in the namespace itself (the
 * altmap, --map=dev), which rules deduplication out.
 */
import type { KernelState } from '../kernel/state.js';
import { deviceSize, findRegion } from '../kernel/state.js';
import { humanSize } from './lsmem.js';

export interface MemmapRow {
  readonly device: string;
  readonly driver: string;
  readonly align: bigint;
  readonly size: bigint;
  /** Struct pages the device's pgmap describes (0 when device_dax is not bound). */
  readonly structPages: bigint;
  /** Bytes of memmap those struct pages take. */
  readonly bytes: bigint;
  /** Where the memmap lives and how: "RAM", "RAM, compound, vmemmap deduplicated", "device (altmap)", "none". */
  readonly how: string;
}

const PAGE = 4096n;

export function memmapRows(s: KernelState): MemmapRow[] {
  const sps = BigInt(s.config.structPageSize);
  return [...s.devices]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((d) => {
      const size = deviceSize(d);
      const base = { device: d.name, driver: d.driver ?? '-', align: d.align, size };
      if (d.mapped === null) return { ...base, structPages: 0n, bytes: 0n, how: 'none (no pgmap)' };
      const pages = d.mapped.reduce((n, r) => n + (r.end - r.start + 1n) / PAGE, 0n);
      const region = findRegion(s, d.regionId);
      if (s.profile.devdaxMapNone && region?.map === 'none') return { ...base, structPages: 0n, bytes: 0n, how: `none: map=none (RFC), ${humanSize(pages * sps)} of struct pages saved` };
      const altmap = region?.map === 'dev';
      const perCompound = d.align / PAGE;
      // vmemmap_can_optimize: !altmap && (nr_pages * sizeof(struct page)) >> PAGE_SHIFT > 2; sizeof a power of two.
      const dedup = !altmap && perCompound > 1n && ((perCompound * sps) >> 12n) > 2n && (sps & (sps - 1n)) === 0n;
      if (dedup) return { ...base, structPages: pages, bytes: (pages / perCompound) * 2n * PAGE, how: 'RAM, compound pages, vmemmap deduplicated' };
      return { ...base, structPages: pages, bytes: pages * sps, how: altmap ? 'device (altmap)' : perCompound > 1n ? 'RAM, compound pages' : 'RAM' };
    });
}

export function renderMemmap(s: KernelState): string {
  const rows = [['DEVICE', 'DRIVER', 'ALIGN', 'SIZE', 'STRUCT PAGES', 'MEMMAP', 'WHERE'], ...memmapRows(s).map((r) => [r.device, r.driver, humanSize(r.align), humanSize(r.size), `${r.structPages}`, humanSize(r.bytes), r.how])];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => `${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`).join('');
}
