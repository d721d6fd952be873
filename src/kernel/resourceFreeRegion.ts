/**
 * Mirrors kernel/resource.c's free-region search for device-private memory
 * (Debian 6.1.192: get_free_mem_region with GFR_DESCENDING |
 * GFR_REQUEST_REGION, request_free_mem_region; 6.12.118 and v6.4+: the
 * candidate steps by the alignment; v5.1: mm/hmm.c hmm_devmem_add, the same
 * loop stepping by the size).
 *
 * Left out: the ascending search (alloc_free_mem_region, CXL), the devres
 * variant (devm_request_free_mem_region), revoke_iomem, and KASLR's
 * physmem_end (the model's PHYSMEM_END is (1 << MAX_PHYSMEM_BITS) - 1, what
 * a nokaslr boot has: src/kernel/config.ts physmemEnd).
 */
import { iomemEnd, physmemEnd, type BootConfig } from './config.js';
import type { Profile } from './profile.js';
import { IORES_DESC_DEVICE_PRIVATE_MEMORY, IORES_DESC_NONE, requestRegion, withResource, nodeAt, updateAt, type Resource, type ResourcePath } from './resource.js';
import { regionIntersects, REGION_DISJOINT } from './resourceWalk.js';

/** GFR_DEFAULT_ALIGN = 1 << PA_SECTION_SHIFT: 128 MiB on x86-64. */
export const GFR_DEFAULT_ALIGN = 1n << 27n;

/**
 * The top of the descending search: min(base->end, PHYSMEM_END). The
 * variants drop the clamp (B10) or start one past it (B1, `1UL <<
 * MAX_PHYSMEM_BITS` without the -1, fixed July 2017).
 * @kernel gfr_start kernel/resource.c (GFR_DESCENDING)
 */
export function gfrEnd(profile: Profile, config: BootConfig): bigint {
  const base = iomemEnd(config);
  if (profile.gfrNoPhysmemEndClamp) return base;
  const limit = physmemEnd(config) + (profile.gfrStartOffByOne ? 1n : 0n);
  return base < limit ? base : limit;
}

export type FreeRegion =
  | { readonly ok: true; readonly root: Resource; readonly start: bigint; readonly size: bigint; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errno: 'ERANGE' };

/**
 * @kernel get_free_mem_region kernel/resource.c
 * Descending from gfrEnd - size + 1, take the first candidate that
 * intersects no top-level iomem node (__region_intersects with flags 0 and
 * IORES_DESC_NONE matches every node) and request it as a BUSY top-level
 * region with `desc`; none: -ERANGE. 6.1 steps by `size`, v6.4+ by `align`.
 */
export function getFreeMemRegion(profile: Profile, config: BootConfig, root: Resource, size: bigint, align: bigint, name: string, desc: number): FreeRegion {
  size = ((size + align - 1n) / align) * align;
  const step = profile.gfrStep === 'size' ? size : align;
  const baseStart = root.start;
  for (let addr = gfrEnd(profile, config) - size + 1n; addr > step && addr >= baseStart; addr -= step) {
    if (regionIntersects(root, addr, size, 0, IORES_DESC_NONE) !== REGION_DISJOINT) continue;
    const req = requestRegion(root, addr, size, name, 0);
    // Disjoint from every top-level node, so __request_region_locked cannot fail here; the kernel would break and return -ERANGE.
    if (!req.ok) break;
    return { ok: true, root: setDesc(req.root, req.path, desc), start: addr, size, warnings: req.warnings };
  }
  return { ok: false, errno: 'ERANGE' };
}

function setDesc(root: Resource, path: ResourcePath, desc: number): Resource {
  return nodeAt(root, path).desc === desc ? root : updateAt(root, path, (r) => withResource(r, { desc }));
}

/**
 * @kernel request_free_mem_region kernel/resource.c
 * A device-private range of `size` in iomem: GFR_DESCENDING |
 * GFR_REQUEST_REGION, GFR_DEFAULT_ALIGN, IORES_DESC_DEVICE_PRIVATE_MEMORY.
 */
export function requestFreeMemRegion(profile: Profile, config: BootConfig, root: Resource, size: bigint, name: string): FreeRegion {
  return getFreeMemRegion(profile, config, root, size, GFR_DEFAULT_ALIGN, name, IORES_DESC_DEVICE_PRIVATE_MEMORY);
}
