/**
 * The memmap_on_memory support test and sizes (mm/memory_hotplug.c:
 * mhp_supports_memmap_on_memory, memory_block_memmap_size,
 * memory_block_memmap_on_memory_pages; arch_supports_memmap_on_memory's
 * generic PMD rule used by x86-64).
 */
import type { BootConfig } from './config.js';
import type { Profile } from './profile.js';

const PAGE_SIZE = 4096;
const PMD_SIZE = 2 * 1024 * 1024;

/** @kernel memory_block_memmap_size mm/memory_hotplug.c — bytes of struct page for one block. */
export function memoryBlockMemmapSize(config: BootConfig, blockPages: number): number {
  return blockPages * config.structPageSize;
}

/** @kernel memory_block_memmap_on_memory_pages mm/memory_hotplug.c — rounded up to a pageblock in force mode. */
export function memoryBlockMemmapOnMemoryPages(config: BootConfig, blockPages: number): number {
  const pages = Math.ceil(memoryBlockMemmapSize(config, blockPages) / PAGE_SIZE);
  if (config.memmapOnMemory === 'force') {
    const pb = 2 ** config.pageblockOrder;
    return Math.ceil(pages / pb) * pb;
  }
  return pages;
}

export type MemmapSupport = { readonly ok: true; readonly pages: number } | { readonly ok: false; readonly why: string };

/**
 * @kernel mhp_supports_memmap_on_memory mm/memory_hotplug.c
 * v6.8 asks about one block regardless of the request size (the caller splits
 * the add per block); v5.12–v6.7 took the request size and required it to be
 * exactly one block.
 */
export function mhpSupportsMemmapOnMemory(profile: Profile, config: BootConfig, blockPages: number, requestPages: number): MemmapSupport {
  if (config.memmapOnMemory === false) return { ok: false, why: 'memory_hotplug.memmap_on_memory is off' };
  if (profile.memmapOnMemory === 'single-block' && requestPages !== blockPages) {
    return { ok: false, why: 'the request spans more than one memory block' };
  }
  const vmemmapSize = memoryBlockMemmapSize(config, blockPages);
  const pages = memoryBlockMemmapOnMemoryPages(config, blockPages);
  const pageblockPages = 2 ** config.pageblockOrder;
  if (vmemmapSize % PAGE_SIZE !== 0) return { ok: false, why: 'vmemmap size is not a multiple of PAGE_SIZE' };
  if (pages % pageblockPages !== 0) return { ok: false, why: 'vmemmap pages are not pageblock aligned' };
  if (pages >= blockPages) return { ok: false, why: 'no effective hotplugged memory' };
  if (vmemmapSize % PMD_SIZE !== 0) return { ok: false, why: 'vmemmap size is not a multiple of PMD_SIZE' };
  return { ok: true, pages };
}
