/**
 * The node a hot-added physical address lands on: arch/x86/mm/numa.c (v6.1)
 * memory_add_physaddr_to_nid. It looks only in numa_meminfo, the SRAT/e820
 * ranges that were in memblock at boot (the model's boot blocks);
 * numa_cleanup_meminfo moved every other range (soft-reserved hmem, CXL
 * windows) to numa_reserved_meminfo, which only phys_to_target_node reads.
 * Anything else gets numa_meminfo.blk[0].nid, the node of the lowest boot RAM.
 */
import type { KernelState } from './state.js';

/** @kernel memory_add_physaddr_to_nid arch/x86/mm/numa.c */
export function memoryAddPhysaddrToNid(s: KernelState, phys: bigint): number {
  const block = s.blocks.get(Number(phys / s.blockSize));
  if (block?.boot === true) return block.nid;
  for (const b of s.blocks.values()) if (b.boot) return b.nid;
  return 0;
}
