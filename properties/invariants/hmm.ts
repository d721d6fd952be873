/**
 * Device-private memory in iomem (lib/test_hmm.c's chunks, src/kernel/hmm/):
 * KERNEL-FACTS-HMM §5.1 item 9.
 */
import { iomemEnd, physmemEnd } from '../../src/kernel/config.js';
import { IORES_DESC_DEVICE_PRIVATE_MEMORY, isBusy, type Resource } from '../../src/kernel/resource.js';
import { GFR_DEFAULT_ALIGN } from '../../src/kernel/resourceFreeRegion.js';
import type { KernelState } from '../../src/kernel/state.js';
import { hex } from '../../src/util/u64.js';
import type { Invariant } from './types.js';

function show(r: { readonly start: bigint; readonly end: bigint }): string {
  return `[${hex(r.start)}-${hex(r.end)}]`;
}

/** The top-level device-private nodes of a state. */
function devicePrivateNodes(s: KernelState): Resource[] {
  return s.iomem.children.filter((c) => c.desc === IORES_DESC_DEVICE_PRIVATE_MEMORY);
}

/**
 * hmm-device-private-iomem. request_free_mem_region (get_free_mem_region
 * with GFR_DESCENDING | GFR_REQUEST_REGION) makes each chunk a BUSY
 * top-level node of IORES_DESC_DEVICE_PRIVATE_MEMORY, 128 MiB-aligned in
 * start and size (GFR_DEFAULT_ALIGN, from min(iomem end, PHYSMEM_END) - size
 * + 1 with both ends all-ones below a power of two), disjoint from every
 * other top-level node (__region_intersects: REGION_DISJOINT), so from
 * System RAM and every memory block, and ending at or below min(iomem end,
 * PHYSMEM_END); add_pages refuses anything above PHYSMEM_END (-ERANGE).
 * hmm_dmirror_init gives each device (two) one chunk, HMM_DMIRROR_RELEASE
 * and rmmod's dmirror_device_remove_chunks release them all
 * (release_mem_region: a loaded device may hold none), so
 * the device-private nodes are those the boot listed plus one per chunk of
 * the loaded module.
 */
export const hmmDevicePrivateIomem: Invariant = {
  name: 'hmm-device-private-iomem',
  inputs: ['iomem', 'hmm', 'blocks'],
  summary: 'test_hmm chunks are BUSY top-level device-private iomem nodes, section-aligned, below min(iomem end, PHYSMEM_END), clear of System RAM and memory blocks; one per chunk while loaded, none after rmmod',
  kernel: 'kernel/resource.c get_free_mem_region (gfr_start, __region_intersects, __request_region_locked); arch/x86/mm/init_64.c add_pages (-ERANGE); lib/test_hmm.c dmirror_allocate_chunk, dmirror_device_remove_chunks',
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.iomem === after.iomem && before.hmm === after.hmm) return [];
    const out: string[] = [];
    const hmm = after.hmm;
    const chunks = hmm.devices.flatMap((d) => d.chunks);
    if (!hmm.loaded && chunks.length > 0) out.push(`test_hmm is not loaded but holds ${chunks.length} chunks`);
    const limit = iomemEnd(after.config) < physmemEnd(after.config) ? iomemEnd(after.config) : physmemEnd(after.config);
    const top = after.iomem.children;
    for (const c of chunks) {
      const node = top.find((n) => n.start === c.start && n.end === c.end);
      if (node === undefined) {
        out.push(`test_hmm chunk ${show(c)} is no top-level iomem node`);
        continue;
      }
      if (!isBusy(node) || node.desc !== IORES_DESC_DEVICE_PRIVATE_MEMORY || node.name !== 'hmm_dmirror')
        out.push(`test_hmm chunk ${show(c)} is "${node.name}" desc ${node.desc}${isBusy(node) ? '' : ' not BUSY'}, not a BUSY hmm_dmirror node of IORES_DESC_DEVICE_PRIVATE_MEMORY`);
      if (node.children.length > 0) out.push(`test_hmm chunk ${show(c)} has children in iomem (${node.children[0]?.name})`);
      const size = c.end - c.start + 1n;
      if (c.start % GFR_DEFAULT_ALIGN !== 0n || size % GFR_DEFAULT_ALIGN !== 0n) out.push(`test_hmm chunk ${show(c)} is not section-aligned (128 MiB)`);
      if (c.end > limit) out.push(`test_hmm chunk ${show(c)} ends above min(iomem end, PHYSMEM_END) = ${hex(limit)}`);
      const B = after.blockSize;
      for (let id = c.start / B; id * B <= c.end; id++) {
        if (after.blocks.get(Number(id)) !== undefined) {
          out.push(`test_hmm chunk ${show(c)} overlaps memory block ${id}`);
          break;
        }
      }
    }
    const listed = after.boot.iomem.filter((e) => e.desc === IORES_DESC_DEVICE_PRIVATE_MEMORY).length;
    const nodes = devicePrivateNodes(after).length;
    if (nodes !== listed + chunks.length)
      out.push(`${nodes} device-private iomem nodes, expected ${listed} from the boot plus ${chunks.length} test_hmm chunks${hmm.loaded ? '' : ' (test_hmm not loaded)'}`);
    return out;
  },
  culprit: ({ step }) => (step.event.type === 'rmmod' ? 'hmm_dmirror_exit' : step.event.type === 'ioctl' ? 'dmirror_device_remove_chunks' : 'dmirror_allocate_chunk'),
};
