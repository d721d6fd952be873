/**
 * memmap_on_memory (mm/memory_hotplug.c mhp_supports_memmap_on_memory,
 * memory_block_memmap_size, memory_block_memmap_on_memory_pages; the generic
 * arch_supports_memmap_on_memory PMD rule used by x86-64). KERNEL-FACTS §5.
 *
 * Numbers by hand, 4 KiB pages: vmemmap bytes = pages/block × sizeof(struct page);
 * memmap pages = bytes / 4096; supported iff that is pageblock-aligned, less than
 * the block, and the bytes are a multiple of PMD_SIZE (2 MiB).
 */
import { describe, expect, it } from 'vitest';
import type { BootConfig } from '../../src/kernel/config.js';
import { memoryBlockMemmapOnMemoryPages, memoryBlockMemmapSize, mhpSupportsMemmapOnMemory } from '../../src/kernel/memmapOnMemory.js';
import { makeProfile } from '../../src/kernel/profile.js';
import type { KernelState } from '../../src/kernel/state.js';
import { blockFile, boot, read, region, run, write, type Json } from '../helpers/machine.js';

const v68 = makeProfile('6.8', null);
const v61 = makeProfile('6.1', null);
const on: BootConfig = {
  memoryHotremove: true,
  autoOnline: 'offline',
  memmapOnMemory: true,
  memoryFailure: false,
  crashHotplug: false,
  archMemoryProbe: false,
  devicePrivate: false,
  migration: true,
  pteMarker: true,
  testHmm: 'n',
  physAddrBits: 46,
  thp: 'always',
  structPageSize: 64,
  pageblockOrder: 9,
  movableNode: false,
  physmemBits: 46,
  devDaxKmem: true,
};
const MiB = 256; // 4 KiB pages per MiB

describe('mhp_supports_memmap_on_memory: the KERNEL-FACTS §5.2 table (64-byte struct page, pageblock order 9)', () => {
  it.each([
    ['128M', 128 * MiB, 2 * 1024 * 1024, 512],
    ['256M', 256 * MiB, 4 * 1024 * 1024, 1024],
    ['1G', 1024 * MiB, 16 * 1024 * 1024, 4096],
    ['2G', 2048 * MiB, 32 * 1024 * 1024, 8192],
  ])('mhp_supports_memmap_on_memory: a %s block (%i pages) needs %i vmemmap bytes = %i pages, supported', (_b, pages, bytes, memmap) => {
    expect(memoryBlockMemmapSize(on, pages)).toBe(bytes);
    expect(mhpSupportsMemmapOnMemory(v68, on, pages, pages)).toEqual({ ok: true, pages: memmap });
  });
});

describe('mhp_supports_memmap_on_memory: unsupported configurations fall back silently', () => {
  it('mhp_supports_memmap_on_memory: a 72-byte struct page needs 2359296 bytes = 576 pages: not pageblock or PMD aligned', () => {
    const c: BootConfig = { ...on, structPageSize: 72 };
    expect(memoryBlockMemmapSize(c, 32768)).toBe(2359296);
    expect(memoryBlockMemmapOnMemoryPages(c, 32768)).toBe(576);
    expect(mhpSupportsMemmapOnMemory(v68, c, 32768, 32768).ok).toBe(false);
  });

  it('mhp_supports_memmap_on_memory: force rounds 576 up to 1024 pages, but 2359296 bytes still fail the PMD rule', () => {
    const c: BootConfig = { ...on, structPageSize: 72, memmapOnMemory: 'force' };
    expect(memoryBlockMemmapOnMemoryPages(c, 32768)).toBe(1024);
    expect(mhpSupportsMemmapOnMemory(v68, c, 32768, 32768).ok).toBe(false);
  });

  it('mhp_supports_memmap_on_memory: pageblock order 10 makes 512 pages misaligned, unless force (then 1024 pages)', () => {
    expect(mhpSupportsMemmapOnMemory(v68, { ...on, pageblockOrder: 10 }, 32768, 32768).ok).toBe(false);
    expect(mhpSupportsMemmapOnMemory(v68, { ...on, pageblockOrder: 10, memmapOnMemory: 'force' }, 32768, 32768)).toEqual({ ok: true, pages: 1024 });
  });

  it('mhp_supports_memmap_on_memory: memory_hotplug.memmap_on_memory off means unsupported', () => {
    expect(mhpSupportsMemmapOnMemory(v68, { ...on, memmapOnMemory: false }, 32768, 32768).ok).toBe(false);
  });

  it('mhp_supports_memmap_on_memory(size) before v6.8 refuses any request that is not exactly one block', () => {
    expect(mhpSupportsMemmapOnMemory(v61, on, 32768, 2 * 32768).ok).toBe(false);
    expect(mhpSupportsMemmapOnMemory(v61, on, 32768, 32768)).toEqual({ ok: true, pages: 512 });
    // v6.8 asks about one block whatever the request size: the add is split per block.
    expect(mhpSupportsMemmapOnMemory(v68, on, 32768, 4 * 32768)).toEqual({ ok: true, pages: 512 });
  });
});

describe('create_altmaps_and_memory_blocks via kmem (6.8, CXL devices default memmap_on_memory=1)', () => {
  /** A 512 MiB CXL region at 6G: kmem adds blocks 48-51 at boot. */
  const cxl = (config: Json = {}, device: Json = {}): Json =>
    boot({ daxRegions: [region('cxl', 0, '0x180000000', '512M', device)] }, { memoryHotremove: true, memmapOnMemory: true, ...config });
  const vmemmap = (s: KernelState) => [...s.blocks.range(48, 51)].map(([, b]) => [b.vmemmapPages, b.memmapHost]);
  const onlineAll = [48, 49, 50, 51].map((id) => write(blockFile(id, 'state'), 'online_movable'));
  const memTotal = (kB: number) => `MemTotal:        ${kB} kB\n`;

  it('each block hosts its own 512-page memmap; online adds 32256 managed pages (126 MiB) per block', () => {
    const r = run(
      cxl(),
      read('/sys/bus/dax/devices/dax0.0/memmap_on_memory'),
      read('/proc/meminfo'),
      ...onlineAll,
      read('/proc/meminfo'),
    );
    expect(vmemmap(r.final)).toEqual([[512, 0], [512, 0], [512, 0], [512, 0]]);
    expect(r.results).toEqual(['1\n', memTotal(4194304), 'ok', 'ok', 'ok', 'ok', memTotal(4194304 + 4 * 129024)]);
    // vmemmap pages are present but not managed: present +32768, managed +32256 per block.
    expect(r.final.presentPages).toBe(1048576 + 4 * 32768);
    expect(r.final.managedPages).toBe(1048576 + 4 * 32256);
  });

  it('offlining a self-hosted block gives back exactly its 126 MiB', () => {
    const r = run(cxl(), ...onlineAll, write(blockFile(50, 'state'), 'offline'), read('/proc/meminfo'));
    expect(r.results.at(-1)).toBe(memTotal(4194304 + 3 * 129024));
  });

  it('MHP_MEMMAP_ON_MEMORY is only a hint: with the boot parameter off the memmap comes from other RAM', () => {
    const r = run(cxl({ memmapOnMemory: false }), ...onlineAll, read('/proc/meminfo'));
    expect(vmemmap(r.final)).toEqual([[0, null], [0, null], [0, null], [0, null]]);
    expect(r.results.at(-1)).toBe(memTotal(4194304 + 4 * 131072));
  });

  it('MHP_MEMMAP_ON_MEMORY is only a hint: a 72-byte struct page config silently gets no altmap', () => {
    const r = run(cxl({ structPageSize: 72 }));
    expect(vmemmap(r.final)).toEqual([[0, null], [0, null], [0, null], [0, null]]);
  });

  it('memmap_on_memory=force with pageblock order 10: 1024 vmemmap pages per block, 31744 managed', () => {
    const r = run(cxl({ memmapOnMemory: 'force', pageblockOrder: 10 }), ...onlineAll, read('/proc/meminfo'));
    expect(vmemmap(r.final)).toEqual([[1024, 0], [1024, 0], [1024, 0], [1024, 0]]);
    expect(r.results.at(-1)).toBe(memTotal(4194304 + 4 * 31744 * 4));
  });

  it('dev_dax_kmem_probe passes MHP_MEMMAP_ON_MEMORY only when the device asks (hmem defaults to 0)', () => {
    const hmem = boot({ daxRegions: [region('hmem', 0, '0x180000000', '512M')] }, { memmapOnMemory: true });
    const r = run(hmem, read('/sys/bus/dax/devices/dax0.0/memmap_on_memory'));
    expect(r.results).toEqual(['0\n']);
    expect(vmemmap(r.final)).toEqual([[0, null], [0, null], [0, null], [0, null]]);
  });

  it('kmem before v6.8 never requests memmap_on_memory, even for a single-block CXL device', () => {
    const r = run(boot({ kernel: '6.1', daxRegions: [region('cxl', 0, '0x180000000', '128M', { driver: 'kmem' })] }, { memmapOnMemory: true }));
    expect([...r.final.blocks.range(48, 48)].map(([, b]) => b.vmemmapPages)).toEqual([0]);
  });
});
