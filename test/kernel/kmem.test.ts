/**
 * The kmem driver (drivers/dax/kmem.c): dev_dax_kmem_probe, dax_kmem_range,
 * dev_dax_kmem_remove, on 6.1 and 6.8 (per-range, memory groups) and on 5.1
 * (whole region, add_memory, no-op remove). Expected trees, block ids and
 * errnos are worked out by hand from KERNEL-FACTS §3 and the kernel code it
 * quotes; 128 MiB blocks throughout (block id = address >> 27).
 */
import { failureKey } from '../../src/log/events.js';
import { describe, expect, it } from 'vitest';
import type { KernelState } from '../../src/kernel/state.js';
import type { Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

const DRV = '/sys/bus/dax/drivers';
const MEM = '/sys/devices/system/memory';
const w = (path: string, value: string): string => JSON.stringify({ type: 'write', path, value });
const rd = (path: string): string => JSON.stringify({ type: 'read', path });
const inject = (site: string, errno: string, nth = 1): string => JSON.stringify({ type: 'inject', site, errno, nth });
const IOMEM = rd('/proc/iomem');
const state = (id: number): string => rd(`${MEM}/memory${id}/state`);

const RAM = '"memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0},{"start":"0x100000000","size":"2G","node":0}]';

/** The seed's QEMU pmem machine; the region is `size` at 2G with a 2 MiB namespace, dax0.0 the rest, bound to device_dax. */
const pmem = (kernel: string, config = '{}', size = '512M', devSize = '510M'): string =>
  `{"type":"boot","kernel":"${kernel}","config":${config},${RAM},"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"${size}","targetNode":0,"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"${devSize}","driver":"device_dax"}]}]}`;

/** A 1 GiB Soft Reserved region at 8G (blocks 64..71) on node 1; dax1.0 has `dev` (ranges) and no driver at boot. */
const hmem = (kernel: string, dev: string, config = '{}'): string =>
  `{"type":"boot","kernel":"${kernel}","config":${config},${RAM},"daxRegions":[{"id":1,"kind":"hmem","start":"0x200000000","size":"1G","targetNode":1,"devices":[{"name":"dax1.0",${dev},"driver":null}]}]}`;

interface Run {
  readonly outcomes: readonly Outcome[];
  readonly states: readonly KernelState[];
}

function run(...lines: string[]): Run {
  const r = replay(parseLogText(lines.join('\n'), 'kmem.test.jsonl').map((l) => l.event));
  return { outcomes: r.steps.map((s) => s.outcome), states: r.steps.map((s) => s.after) };
}

/** Per event after boot: a read's value, 'ok' for a successful write, else the errno. */
function results(r: Run): string[] {
  return r.outcomes.slice(1).map((o) => (o.ok ? (o.value ?? 'ok') : failureKey(o)));
}
const logOf = (r: Run, i: number): string => (r.outcomes[i]?.log ?? []).join('\n');
const phases = (r: Run): Array<string | undefined> => r.states.map((s) => s.devices[0]?.phase);
const last = (r: Run): KernelState => {
  const s = r.states[r.states.length - 1];
  if (s === undefined) throw new Error('empty run');
  return s;
};

const RAM_TREE = '00000000-7fffffff : System RAM\n100000000-17fffffff : System RAM\n';
const SOFT = '200000000-23fffffff : Soft Reserved\n';
const BOOT_HMEM_TREE = RAM_TREE + SOFT;
const PMEM_HEAD = '00000000-7fffffff : System RAM\n80000000-9fffffff : Persistent Memory (legacy)\n  80000000-801fffff : namespace0.0\n';
const PMEM_TAIL = '100000000-17fffffff : System RAM\n';
const PMEM_PINNED = `${PMEM_HEAD}  88000000-9fffffff : dax0.0\n    88000000-9fffffff : System RAM (kmem)\n${PMEM_TAIL}`;

describe.each(['6.1', '6.8'])('kmem on %s: dev_dax_kmem_probe', (k) => {
  it('dev_dax_kmem_probe: daxX.Y over the block-aligned part (dax_kmem_range) with a "System RAM (kmem)" child of the same range; the edges stay uncovered', () => {
    // 0x200200000 + 1020M ends at 0x23fdfffff: ALIGN up -> 0x208000000, ALIGN_DOWN(end + 1) - 1 -> 0x237ffffff = blocks 65..70.
    const r = run(hmem(k, '"start":"0x200200000","size":"1020M"'), w(`${DRV}/kmem/new_id`, 'dax1.0'), IOMEM, state(64), state(65), state(70), state(71), rd(`${MEM}/memory65/phys_index`));
    expect(results(r)).toEqual([
      'ok',
      `${BOOT_HMEM_TREE}  208000000-237ffffff : dax1.0\n    208000000-237ffffff : System RAM (kmem)\n`,
      'ENOENT',
      'offline\n',
      'offline\n',
      'ENOENT',
      '00000041\n',
    ]);
    // memory_group_register_static(nid 1, PFN_UP(768M)).
    expect([...last(r).groups.values()]).toEqual([{ nid: 1, maxPages: 196608 }]);
    expect(phases(r).slice(0, 2)).toEqual(['unbound', 'kmem']);
  });

  it('dev_dax_kmem_probe: a device with no whole block after alignment is -EINVAL ("rejecting DAX region without any memory after alignment"), nothing is left', () => {
    // 0x204000000 + 128M straddles a boundary: ALIGN up 0x208000000 >= ALIGN_DOWN end 0x207ffffff.
    const r = run(hmem(k, '"start":"0x204000000","size":"128M"'), w(`${DRV}/kmem/new_id`, 'dax1.0'), w(`${DRV}/kmem/bind`, 'dax1.0'), IOMEM);
    expect(results(r)).toEqual(['ok', 'EINVAL', BOOT_HMEM_TREE]);
    expect(logOf(r, 1)).toContain('mapping0: 0x204000000-0x20bffffff too small after alignment');
    expect(logOf(r, 2)).toContain('rejecting DAX region without any memory after alignment');
    expect(last(r).groups.size).toBe(0);
    expect(phases(r)).toEqual(['unbound', 'unbound', 'unbound', 'unbound']);
  });

  it('dev_dax_kmem_probe skips a too-small range 0 and adds range 1; dev_dax_kmem_remove then never counts range 0, so the memory group is never unregistered', () => {
    const r = run(
      hmem(k, '"ranges":[{"start":"0x200000000","size":"64M"},{"start":"0x210000000","size":"256M"}]', '{"memoryHotremove":true}'),
      w(`${DRV}/kmem/new_id`, 'dax1.0'),
      IOMEM,
      state(64),
      state(66),
      state(67),
      w(`${DRV}/kmem/unbind`, 'dax1.0'),
      IOMEM,
      state(66),
    );
    expect(results(r)).toEqual(['ok', `${BOOT_HMEM_TREE}  210000000-21fffffff : dax1.0\n    210000000-21fffffff : System RAM (kmem)\n`, 'ENOENT', 'offline\n', 'offline\n', 'ok', BOOT_HMEM_TREE, 'ENOENT']);
    expect(logOf(r, 1)).toContain('mapping0: 0x200000000-0x203ffffff too small after alignment');
    // remove: success (1) < nr_range (2) -> data and group kept (KERNEL-FACTS §3.4, first known defect).
    expect([...last(r).groups.values()]).toEqual([{ nid: 1, maxPages: 65536 }]);
    expect(phases(r)[6]).toBe('unbound');
  });

  it('dev_dax_kmem_probe: the first range that survives alignment decides; range 0 skipped, add_memory failing on range 1 fails the probe', () => {
    const r = run(hmem(k, '"ranges":[{"start":"0x200000000","size":"64M"},{"start":"0x210000000","size":"256M"},{"start":"0x230000000","size":"128M"}]'), inject('add_memory', 'EEXIST'), w(`${DRV}/kmem/new_id`, 'dax1.0'), inject('add_memory', 'EEXIST'), w(`${DRV}/kmem/bind`, 'dax1.0'), IOMEM);
    // mapped == 0 when range 1 fails, so range 2 (which would work) is never tried.
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'EEXIST', BOOT_HMEM_TREE]);
    expect(logOf(r, 2)).toContain('mapping1: 0x210000000-0x21fffffff memory add failed');
    expect(logOf(r, 2)).not.toContain('mapping2');
    expect(last(r).groups.size).toBe(0);
  });

  const TWO = '"ranges":[{"start":"0x200000000","size":"256M"},{"start":"0x220000000","size":"256M"}]';

  it('dev_dax_kmem_probe: add_memory_driver_managed failing on the first range fails the probe with its errno and leaves nothing (node, group, blocks)', () => {
    const r = run(hmem(k, TWO), inject('add_memory', 'ENOMEM'), w(`${DRV}/kmem/new_id`, 'dax1.0'), inject('add_memory', 'ENOMEM'), w(`${DRV}/kmem/bind`, 'dax1.0'), IOMEM, state(64));
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'ENOMEM', BOOT_HMEM_TREE, 'ENOENT']);
    expect(logOf(r, 2)).toContain('mapping0: 0x200000000-0x20fffffff memory add failed');
    expect(last(r).groups.size).toBe(0);
    expect(last(r).devices[0]?.driver).toBeNull();
    expect(phases(r)).toEqual(['unbound', 'unbound', 'unbound', 'unbound', 'unbound', 'unbound', 'unbound']);
  });

  it('dev_dax_kmem_probe: after one range is mapped a failing add is only a warning; the probe succeeds without that range', () => {
    const r = run(hmem(k, TWO), inject('add_memory', 'ENOMEM', 2), w(`${DRV}/kmem/new_id`, 'dax1.0'), IOMEM, state(65), state(68), w(`${DRV}/kmem/bind`, 'dax1.0'));
    expect(results(r)).toEqual(['ok', 'ok', `${BOOT_HMEM_TREE}  200000000-20fffffff : dax1.0\n    200000000-20fffffff : System RAM (kmem)\n`, 'offline\n', 'ENOENT', 'EBUSY']);
    expect(logOf(r, 2)).toContain('mapping1: 0x220000000-0x22fffffff memory add failed');
    expect(last(r).devices[0]?.kmem?.res).toEqual([{ start: 0x200000000n, end: 0x20fffffffn }, null]);
    expect(phases(r)[2]).toBe('kmem');
  });

  it('dev_dax_kmem_probe: request_mem_region failing on the first range is -EBUSY whatever the cause; on the second range it is skipped', () => {
    const r = run(hmem(k, TWO), inject('request_mem_region', 'ENOMEM'), w(`${DRV}/kmem/new_id`, 'dax1.0'), inject('request_mem_region', 'ENOMEM'), w(`${DRV}/kmem/bind`, 'dax1.0'), IOMEM);
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'EBUSY', BOOT_HMEM_TREE]);
    expect(logOf(r, 2)).toContain('mapping0: 0x200000000-0x20fffffff could not reserve region');
    expect(last(r).groups.size).toBe(0);
    const s = run(hmem(k, TWO), inject('request_mem_region', 'ENOMEM', 2), w(`${DRV}/kmem/new_id`, 'dax1.0'), IOMEM);
    expect(results(s)).toEqual(['ok', 'ok', `${BOOT_HMEM_TREE}  200000000-20fffffff : dax1.0\n    200000000-20fffffff : System RAM (kmem)\n`]);
    expect(s.states[2]?.devices[0]?.driver).toBe('kmem');
  });
});

describe.each(['6.1', '6.8'])('kmem on %s: dev_dax_kmem_remove', (k) => {
  const HANDOVER = [w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0')];

  it('dev_dax_kmem_remove without CONFIG_MEMORY_HOTREMOVE: unbind succeeds but the memory stays; kmem and device_dax re-binds hit the pinned range (-EBUSY)', () => {
    const r = run(pmem(k), ...HANDOVER, w(`${MEM}/memory17/state`, 'online_movable'), w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, state(17), w(`${DRV}/kmem/bind`, 'dax0.0'), w(`${DRV}/device_dax/bind`, 'dax0.0'), IOMEM);
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'ok', PMEM_PINNED, 'online\n', 'EBUSY', 'EBUSY', PMEM_PINNED]);
    expect(phases(r)).toEqual(['devdax', 'unbound', 'kmem', 'online', 'online', 'online', 'online', 'online', 'online', 'online']);
    expect(r.states[4]?.devices[0]?.driver).toBeNull();
    expect(r.states[4]?.groups.size).toBe(1);
  });

  it('dev_dax_kmem_remove without CONFIG_MEMORY_HOTREMOVE pins offline memory too (the stub removes nothing): the device stays kmem', () => {
    const r = run(pmem(k), ...HANDOVER, w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, state(17), w(`${DRV}/kmem/bind`, 'dax0.0'));
    expect(results(r)).toEqual(['ok', 'ok', 'ok', PMEM_PINNED, 'offline\n', 'EBUSY']);
    expect(phases(r)).toEqual(['devdax', 'unbound', 'kmem', 'kmem', 'kmem', 'kmem', 'kmem']);
  });

  it('dev_dax_kmem_remove with hot-remove and every block offline: remove_memory drops blocks and "System RAM (kmem)", remove_resource drops daxX.Y, the group goes; device_dax binds again', () => {
    const r = run(pmem(k, '{"memoryHotremove":true}'), ...HANDOVER, IOMEM, w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, state(17), w(`${DRV}/device_dax/bind`, 'dax0.0'), IOMEM);
    expect(results(r)).toEqual([
      'ok',
      'ok',
      PMEM_PINNED,
      'ok',
      PMEM_HEAD + PMEM_TAIL,
      'ENOENT',
      'ok',
      `${PMEM_HEAD}  80200000-9fffffff : dax0.0\n${PMEM_TAIL}`,
    ]);
    expect(r.outcomes[4]?.log).toBeUndefined();
    expect(r.states[4]?.groups.size).toBe(0);
    expect(phases(r)).toEqual(['devdax', 'unbound', 'kmem', 'kmem', 'unbound', 'unbound', 'unbound', 'devdax', 'devdax']);
  });

  it('dev_dax_kmem_remove with hot-remove but a block online: remove_memory -EBUSY ("is onlined"), "cannot be hotremoved until the next reboot", pinned for good', () => {
    const r = run(
      pmem(k, '{"memoryHotremove":true}'),
      ...HANDOVER,
      w(`${MEM}/memory18/state`, 'online'),
      w(`${DRV}/kmem/unbind`, 'dax0.0'),
      IOMEM,
      w(`${MEM}/memory18/state`, 'offline'),
      w(`${DRV}/kmem/bind`, 'dax0.0'),
      IOMEM,
    );
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'ok', PMEM_PINNED, 'ok', 'EBUSY', PMEM_PINNED]);
    expect(logOf(r, 4)).toContain('removing memory fails, because memory');
    expect(logOf(r, 4)).toContain('dax0.0: mapping0: 0x88000000-0x9fffffff cannot be hotremoved until the next reboot');
    // One shot: offlining afterwards does not re-run the remove; the blocks and nodes stay until reboot.
    expect(last(r).blocks.has(17)).toBe(true);
    expect(phases(r)).toEqual(['devdax', 'unbound', 'kmem', 'online', 'online', 'online', 'online', 'online', 'online']);
  });

  it('dev_dax_kmem_remove after the online block was offlined again: everything is removed and the device goes online -> unbound', () => {
    const r = run(pmem(k, '{"memoryHotremove":true}'), ...HANDOVER, w(`${MEM}/memory19/state`, 'online_movable'), w(`${MEM}/memory19/state`, 'offline'), w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM);
    expect(results(r)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', PMEM_HEAD + PMEM_TAIL]);
    expect(phases(r)).toEqual(['devdax', 'unbound', 'kmem', 'online', 'online', 'unbound', 'unbound']);
  });
});

describe('kmem on 5.1: the 2019 driver', () => {
  const HANDOVER = [w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0')];

  it('dev_dax_kmem_probe (v5.1): whole-region arithmetic, then plain add_memory names the child "System RAM"; no memory group', () => {
    // Data area 0x80200000 + 498M. kmem_start = ALIGN(0x80200000, 128M) = 0x88000000;
    // kmem_size = 498M - 126M = 372M, & ~(128M - 1) = 256M -> 0x88000000-0x97ffffff = blocks 17, 18.
    const r = run(pmem('5.1', '{}', '500M', '498M'), ...HANDOVER, IOMEM, state(17), state(18), state(19));
    expect(results(r)).toEqual(['ok', 'ok', `${PMEM_HEAD.replace('9fffffff : Persistent', '9f3fffff : Persistent')}  88000000-97ffffff : dax0.0\n    88000000-97ffffff : System RAM\n${PMEM_TAIL}`, 'offline\n', 'offline\n', 'ENOENT']);
    expect(last(r).groups.size).toBe(0);
    expect(phases(r)[2]).toBe('kmem');
  });

  it('dev_dax_kmem_remove (v5.1) does nothing even with hot-remove and offline blocks: only the driver is gone; re-binds are ENODEV (pre-5.14 flattening of -EBUSY)', () => {
    const tree = `${PMEM_HEAD}  88000000-9fffffff : dax0.0\n    88000000-9fffffff : System RAM\n${PMEM_TAIL}`;
    const r = run(pmem('5.1', '{"memoryHotremove":true}'), ...HANDOVER, w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, state(17), w(`${DRV}/kmem/bind`, 'dax0.0'), w(`${DRV}/device_dax/bind`, 'dax0.0'));
    expect(results(r)).toEqual(['ok', 'ok', 'ok', tree, 'offline\n', 'ENODEV', 'ENODEV']);
    expect(r.outcomes[3]?.log).toBeUndefined();
    const before = r.states[2];
    const after = r.states[3];
    expect(after?.devices[0]).toEqual({ ...before?.devices[0], driver: null });
    expect(after?.iomem).toEqual(before?.iomem);
    expect(after?.blocks).toEqual(before?.blocks);
    expect(logOf(r, 6)).toContain('could not reserve region');
  });

  it('dev_dax_kmem_probe (v5.1) on a region smaller than a block: kmem_size underflows, request_mem_region refuses the wrapped range (-EBUSY), bind says ENODEV', () => {
    // Data area 0x80200000 + 62M: kmem_size = 62M - 126M wraps; end = start + size - 1 < start -> __request_resource conflict.
    const r = run(pmem('5.1', '{}', '64M', '62M'), ...HANDOVER, w(`${DRV}/kmem/bind`, 'dax0.0'), IOMEM);
    expect(results(r)).toEqual(['ok', 'ok', 'ENODEV', '00000000-7fffffff : System RAM\n80000000-83ffffff : Persistent Memory (legacy)\n  80000000-801fffff : namespace0.0\n' + PMEM_TAIL]);
    expect(logOf(r, 2)).toContain('could not reserve region');
    expect(phases(r)[3]).toBe('unbound');
  });
});
