/**
 * Mirrors the walking and printing half of kernel/resource.c (v6.8; the
 * pre-2019 first_lvl walk and -1 return as switches): find_next_iomem_res,
 * walk_system_ram_range, region_intersects (before v6.12) and r_show.
 */
import { hexPad } from '../util/u64.js';
import { forEachResource, hasFlags, IORES_DESC_NONE, IORESOURCE_BUSY, IORESOURCE_SYSTEM_RAM, MAX_IORES_LEVEL, type Resource } from './resource.js';

export interface WalkOptions {
  /** v5.1 "mm/resource: Let walk_system_ram_range() search child resources"; false = first_lvl (top level only). */
  readonly searchChildren: boolean;
}

/** find_next_iomem_res's descent, one level per call. */
function findIn(node: Resource, top: boolean, start: bigint, end: bigint, flags: number, searchChildren: boolean, out: Array<{ start: bigint; end: bigint }>): void {
  for (const c of node.children) {
    if (c.start > end) return;
    if (c.end < start) continue;
    if (hasFlags(c, flags)) out.push({ start: c.start > start ? c.start : start, end: c.end < end ? c.end : end });
    if (searchChildren || !top) findIn(c, false, start, end, flags, searchChildren, out);
  }
}

/**
 * @kernel find_next_iomem_res kernel/resource.c
 * All nodes overlapping [start,end] that carry every bit of `flags`, in
 * pre-order, clipped to the range. With searchChildren false only the top
 * level is seen (the pre-5.1 first_lvl walk).
 */
export function findIomemRes(root: Resource, start: bigint, end: bigint, flags: number, opts: WalkOptions): Array<{ start: bigint; end: bigint }> {
  const out: Array<{ start: bigint; end: bigint }> = [];
  findIn(root, true, start, end, flags, opts.searchChildren, out);
  // A match's own matching descendants would be reported twice by the kernel only if both carry the flags;
  // System RAM nodes never nest inside System RAM, so nothing to dedupe here.
  return out;
}

export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 1n << PAGE_SHIFT;

export type WalkResult = { readonly ok: true; readonly pages: bigint } | { readonly ok: false; readonly ret: number };

/**
 * @kernel walk_system_ram_range kernel/resource.c
 * Count the whole pages of BUSY System RAM in [pfn, pfn+nr). The kernel
 * returns -EINVAL when no callback ran (since the 2019 series; -1 before,
 * variant walk-returns-minus-one).
 */
export function walkSystemRamRange(root: Resource, pfn: bigint, nr: bigint, opts: WalkOptions & { readonly minusOne: boolean }): WalkResult {
  const start = pfn << PAGE_SHIFT;
  const end = ((pfn + nr) << PAGE_SHIFT) - 1n;
  let pages = 0n;
  let ran = false;
  for (const r of findIomemRes(root, start, end, (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY) >>> 0, opts)) {
    const first = (r.start + PAGE_SIZE - 1n) >> PAGE_SHIFT;
    const last = (r.end + 1n) >> PAGE_SHIFT;
    if (last > first) {
      pages += last - first;
      ran = true;
    } else if (!ran) break; // ret is still -EINVAL: `if (ret) break;`
  }
  if (!ran) return { ok: false, ret: opts.minusOne ? -1 : -22 };
  return { ok: true, pages };
}

export const REGION_INTERSECTS = 0;
export const REGION_DISJOINT = 1;
export const REGION_MIXED = 2;

/**
 * @kernel region_intersects kernel/resource.c (before v6.12: top level only)
 */
export function regionIntersects(root: Resource, start: bigint, size: bigint, flags: number, desc: number): number {
  const end = start + size - 1n;
  let type = 0;
  let other = 0;
  for (const c of root.children) {
    if (c.start > end) break;
    if (c.end < start) continue;
    if (hasFlags(c, flags) && (desc === IORES_DESC_NONE || desc === c.desc)) type++;
    else other++;
  }
  if (type === 0) return REGION_DISJOINT;
  return other === 0 ? REGION_INTERSECTS : REGION_MIXED;
}

/**
 * @kernel r_show kernel/resource.c
 * `/proc/iomem` as root sees it: pre-order, 2 spaces per level capped at
 * MAX_IORES_LEVEL, hex padded to at least 8 digits. `unprivileged` prints
 * zeros, as for readers without CAP_SYS_ADMIN.
 */
export function renderIomem(root: Resource, unprivileged = false): string {
  const width = root.end < 0x10000n ? 4 : 8;
  const lines: string[] = [];
  forEachResource(root, (r, depth) => {
    const indent = '  '.repeat(Math.min(depth, MAX_IORES_LEVEL));
    const s = unprivileged ? 0n : r.start;
    const e = unprivileged ? 0n : r.end;
    lines.push(`${indent}${hexPad(s, width)}-${hexPad(e, width)} : ${r.name}\n`);
  });
  return lines.join('');
}

