/**
 * mm/memory_hotplug.c: auto-online at add, offline_pages, add_memory_driver_managed /
 * register_memory_resource / add_memory_resource errors, try_remove_memory
 * (KERNEL-FACTS §4.2, §4.5, §4.6; docs/kernel-notes.md Q7, Q10).
 *
 * Boot RAM is 4 GiB (blocks 0-15 and 32-47), so MemTotal starts at
 * 4 * 1048576 kB = 4194304 kB and each online 128 MiB block adds 131072 kB.
 */
import { describe, expect, it } from 'vitest';
import { addMemoryDriverManaged, removeMemory } from '../../src/kernel/memoryHotplug.js';
import { Op } from '../../src/kernel/op.js';
import type { KernelState } from '../../src/kernel/state.js';
import { blockFile, boot, read, region, run, write, MEMORY, type Json } from '../helpers/machine.js';

const MEMINFO = '/proc/meminfo';
const memTotal = (kB: number) => `MemTotal:${' '.repeat(7)}${String(kB).padStart(8, ' ')} kB\n`;
const state = (id: number) => blockFile(id, 'state');
const blocks = (s: KernelState, first: number, last: number) =>
  [...s.blocks.range(first, last)].map(([id, b]) => `${id}:${b.state}:${b.zone ?? '-'}`);

/** A 512 MiB hmem region at 6G: kmem adds blocks 48-51 at boot (6.8 binds hmem devices to kmem by type). */
const withHmem = (config: Json = {}, device: Json = {}): Json =>
  boot({ daxRegions: [region('hmem', 0, '0x180000000', '512M', device)] }, config);

const noFlags = { nidIsMgid: false, memmapOnMemory: false };

describe('/proc/meminfo MemTotal (show_val_kb)', () => {
  it('show_val_kb prints "MemTotal:" padded to 16 columns and the kB value right-aligned in 8', () => {
    expect(run(boot(), read(MEMINFO)).results).toEqual(['MemTotal:        4194304 kB\n']);
  });
});

describe('add_memory_resource: auto-online with mhp_default_online_type', () => {
  it.each([
    ['offline', 'offline:-', 4194304],
    ['online', 'online:Normal', 4194304 + 4 * 131072],
    ['online_kernel', 'online:Normal', 4194304 + 4 * 131072],
    ['online_movable', 'online:Movable', 4194304 + 4 * 131072],
  ])('add_memory_resource with memhp_default_state=%s onlines every new block that way', (type, want, kB) => {
    const r = run(withHmem({ autoOnline: type }), read(MEMINFO));
    expect(blocks(r.final, 48, 51)).toEqual([48, 49, 50, 51].map((id) => `${id}:${want}`));
    expect(r.results).toEqual([memTotal(kB)]);
  });

  it('add_memory_resource uses the value written to auto_online_blocks before a later kmem bind', () => {
    const r = run(
      withHmem({ memoryHotremove: true }, { driver: null }),
      write(`${MEMORY}/auto_online_blocks`, 'online_movable'),
      write('/sys/bus/dax/drivers/kmem/bind', 'dax0.0'),
      read(blockFile(50, 'valid_zones')),
      read(MEMINFO),
    );
    expect(r.results).toEqual(['ok', 'ok', 'Movable\n', memTotal(4194304 + 4 * 131072)]);
  });
});

describe('offline_pages / memory_block_offline', () => {
  it('offline_pages is a -EINVAL stub without CONFIG_MEMORY_HOTREMOVE (hot-added and boot blocks stay online)', () => {
    const r = run(withHmem({ autoOnline: 'online_movable' }), write(state(48), 'offline'), write(state(33), 'offline'), read(state(48)), read(state(33)));
    expect(r.results).toEqual(['EINVAL', 'EINVAL', 'online\n', 'online\n']);
  });

  it('offline_pages fails with -EBUSY on a boot block holding unmovable pages', () => {
    const r = run(boot({ unmovable: [33] }, { memoryHotremove: true }), write(state(33), 'offline'), read(state(33)), read(MEMINFO));
    expect(r.results).toEqual(['EBUSY', 'online\n', memTotal(4194304)]);
  });

  it('memory_block_offline refuses block 0, which spans DMA and DMA32 (mem->zone is NULL), with -EINVAL', () => {
    const r = run(boot({}, { memoryHotremove: true }), write(state(0), 'offline'), write(blockFile(0, 'online'), '0'), read(state(0)));
    expect(r.results).toEqual(['EINVAL', 'EINVAL', 'online\n']);
  });

  it('offline_pages refuses a block with memory holes (walk_system_ram_range finds fewer pages) with -EINVAL', () => {
    const holes = boot(
      {
        ram: [
          { start: '0x0', size: '2G', node: 0 },
          { start: '0x100000000', size: '64M', node: 0 },
        ],
      },
      { memoryHotremove: true },
    );
    const r = run(holes, write(state(32), 'offline'), read(state(32)), read(MEMINFO));
    expect(r.results).toEqual(['EINVAL', 'online\n', memTotal(2097152 + 65536)]);
  });

  it('offline_pages with CONFIG_MEMORY_HOTREMOVE takes a boot block out of MemTotal, and online puts it back', () => {
    const r = run(
      boot({}, { memoryHotremove: true }),
      write(state(33), 'offline'),
      read(state(33)),
      read(MEMINFO),
      write(blockFile(33, 'online'), '1'),
      read(MEMINFO),
    );
    expect(r.results).toEqual(['ok', 'offline\n', memTotal(4194304 - 131072), 'ok', memTotal(4194304)]);
  });

  it('offline_pages of hot-added blocks undoes their MemTotal share', () => {
    const r = run(withHmem({ autoOnline: 'online_movable', memoryHotremove: true }), write(state(49), 'offline'), write(state(51), 'offline'), read(MEMINFO));
    expect(r.results).toEqual(['ok', 'ok', memTotal(4194304 + 2 * 131072)]);
  });
});

describe('register_memory_resource / add_memory_driver_managed errors', () => {
  it('mhp_range_allowed: a dax region above 64 TiB with MAX_PHYSMEM_BITS 46 makes the kmem bind fail with -E2BIG', () => {
    const high = (bits: number): Json => boot({ daxRegions: [region('hmem', 0, '0x400000000000', '1G', { driver: null })] }, { physmemBits: bits });
    const r = run(high(46), write('/sys/bus/dax/drivers/kmem/bind', 'dax0.0'), read('/proc/iomem'));
    expect(r.results.slice(0, 1)).toEqual(['E2BIG']);
    expect(r.steps[0]?.outcome.log).toContain('Hotplug memory [0x400000000000-0x400040000000] exceeds maximum addressable range [0x0-0x3fffffffffff]');
    expect(r.results[1]).toContain('400000000000-40003fffffff : Soft Reserved\n');
    expect(r.results[1]).not.toContain('dax0.0');
    expect([...r.final.blocks.range(0x80000, 0x80007)]).toEqual([]);
    // 5-level paging (52 bits) lets the same add through.
    expect(run(high(52), write('/sys/bus/dax/drivers/kmem/bind', 'dax0.0')).results).toEqual(['ok']);
  });

  it('register_memory_resource fails with -EEXIST when __request_region cannot place the range (boot System RAM)', () => {
    const s = run(boot()).final;
    const op = new Op(s);
    const rc = addMemoryDriverManaged(op, 0, 0x100000000n, 0x8000000n, 'System RAM (kmem)', noFlags);
    expect(rc).toEqual({ ok: false, errno: 'EEXIST' });
    expect(op.state.iomem).toEqual(s.iomem);
    expect([...op.state.blocks.keys()]).toEqual([...s.blocks.keys()]);
  });

  it('register_memory_resource: -EEXIST plus the "Unaddressable device" warning on a top-level device-private range', () => {
    const s = run(boot({ iomem: [{ start: '0x3ffff8000000', size: '128M', name: 'hmm', busy: true, desc: 6 }] })).final;
    const op = new Op(s);
    expect(addMemoryDriverManaged(op, 0, 0x3ffff8000000n, 0x8000000n, 'System RAM (kmem)', noFlags)).toEqual({ ok: false, errno: 'EEXIST' });
    expect(op.log).toContain('resource: Unaddressable device hmm [mem 0x3ffff8000000-0x3fffffffffff] conflicts with [mem 0x3ffff8000000-0x3fffffffffff]');
  });

  it('check_hotplug_memory_range: an unaligned range is -EINVAL and the resource is released again', () => {
    const s = run(boot()).final;
    const op = new Op(s);
    expect(addMemoryDriverManaged(op, 0, 0x204000000n, 0x8000000n, 'System RAM (kmem)', noFlags)).toEqual({ ok: false, errno: 'EINVAL' });
    expect(op.log).toContain('Block size [0x8000000] unaligned hotplug range: start 0x204000000, size 0x8000000');
    expect(op.state.iomem).toEqual(s.iomem);
  });

  it('add_memory_driver_managed requires a name of the form "System RAM (...)"', () => {
    const s = run(boot()).final;
    for (const name of ['System RAM', 'kmem', 'System RAM (kmem']) {
      expect(addMemoryDriverManaged(new Op(s), 0, 0x200000000n, 0x8000000n, name, noFlags)).toEqual({ ok: false, errno: 'EINVAL' });
    }
  });

  it('add_memory_driver_managed at the top level creates offline blocks and a BUSY System RAM (kmem) node', () => {
    const s = run(boot()).final;
    const op = new Op(s);
    expect(addMemoryDriverManaged(op, 0, 0x200000000n, 0x10000000n, 'System RAM (kmem)', noFlags)).toEqual({ ok: true, value: true });
    expect(blocks(op.state, 64, 65)).toEqual(['64:offline:-', '65:offline:-']);
    expect(op.state.iomem.children.at(-1)).toEqual({
      start: 0x200000000n,
      end: 0x20fffffffn,
      name: 'System RAM (kmem)',
      flags: 0x83000200,
      desc: 0,
      children: [],
    });
  });
});

describe('try_remove_memory (remove_memory)', () => {
  const hot = withHmem({ memoryHotremove: true });

  it('try_remove_memory is -EBUSY while a block in the range is online, and changes nothing', () => {
    const s = run(hot, write(state(49), 'online_movable')).final;
    const op = new Op(s);
    expect(removeMemory(op, 0x180000000n, 0x20000000n)).toEqual({ ok: false, errno: 'EBUSY' });
    expect(op.log.some((l) => l.startsWith('removing memory fails, because memory '))).toBe(true);
    expect(op.state.iomem).toEqual(s.iomem);
    expect(blocks(op.state, 48, 51)).toEqual(['48:offline:-', '49:online:Movable', '50:offline:-', '51:offline:-']);
  });

  it('try_remove_memory removes the blocks and the System RAM (kmem) node, leaving kmem\'s dax0.0 parent', () => {
    const s = run(hot).final;
    const op = new Op(s);
    expect(removeMemory(op, 0x180000000n, 0x20000000n)).toEqual({ ok: true, value: true });
    expect(blocks(op.state, 48, 51)).toEqual([]);
    const sr = op.state.iomem.children.find((c) => c.name === 'Soft Reserved');
    expect(sr?.children).toEqual([{ start: 0x180000000n, end: 0x19fffffffn, name: 'dax0.0', flags: 0x01000200, desc: 8, children: [] }]);
  });

  it('try_remove_memory passes a range that has no memory blocks at all', () => {
    const s = run(hot).final;
    const op = new Op(s);
    expect(removeMemory(op, 0x400000000n, 0x8000000n)).toEqual({ ok: true, value: true });
    expect(op.state.iomem).toEqual(s.iomem);
  });

  it('remove_memory without CONFIG_MEMORY_HOTREMOVE is the -EBUSY stub', () => {
    const s = run(withHmem()).final;
    expect(removeMemory(new Op(s), 0x180000000n, 0x20000000n)).toEqual({ ok: false, errno: 'EBUSY' });
  });

  it('kmem unbind with an online block: remove_memory fails, the unbind still succeeds, memory stays (until reboot)', () => {
    const r = run(hot, write(state(48), 'online_movable'), write('/sys/bus/dax/drivers/kmem/unbind', 'dax0.0'), read('/proc/iomem'));
    expect(r.results.slice(0, 2)).toEqual(['ok', 'ok']);
    expect(r.results[2]).toContain('  180000000-19fffffff : dax0.0\n    180000000-19fffffff : System RAM (kmem)\n');
    expect(blocks(r.final, 48, 51)).toEqual(['48:online:Movable', '49:offline:-', '50:offline:-', '51:offline:-']);
  });

  it('kmem unbind with every block offline removes the memory and both iomem nodes', () => {
    const r = run(hot, write('/sys/bus/dax/drivers/kmem/unbind', 'dax0.0'), read('/proc/iomem'));
    expect(r.results[1]).toContain('180000000-19fffffff : Soft Reserved\n');
    expect(r.results[1]).not.toContain('dax0.0');
    expect(blocks(r.final, 48, 51)).toEqual([]);
  });
});
