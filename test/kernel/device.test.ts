/**
 * dax device attributes (drivers/dax/bus.c: dev_dax_visible, size_store /
 * dev_dax_resize / dev_dax_shrink, align_store / dev_dax_validate_align,
 * memmap_on_memory_store, target_node_show, resource_show) and the device_dax
 * driver's probe/remove (drivers/dax/device.c dev_dax_probe). Expected values
 * are derived by hand from those functions (KERNEL-FACTS §2.1, §2.3, §2.4).
 */
import { failureKey } from '../../src/log/events.js';
import { describe, expect, it } from 'vitest';
import type { KernelState } from '../../src/kernel/state.js';
import type { Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

const DRV = '/sys/bus/dax/drivers';
const DEV = '/sys/bus/dax/devices';
const w = (path: string, value: string): string => JSON.stringify({ type: 'write', path, value });
const rd = (path: string): string => JSON.stringify({ type: 'read', path });
const inject = (site: string, errno: string): string => JSON.stringify({ type: 'inject', site, errno });
const IOMEM = rd('/proc/iomem');

const RAM = '"memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0},{"start":"0x100000000","size":"2G","node":0}]';

/** The seed's QEMU pmem machine (static region, dax0.0 = 0x80200000 + 510M, bound to device_dax). */
const pmem = (kernel: string, node = 0): string =>
  `{"type":"boot","kernel":"${kernel}",${RAM},"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"512M","targetNode":${node},"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"510M","driver":"device_dax"}]}]}`;

/**
 * A 1 GiB Soft Reserved (hmem, dynamic) region 1 at 8G on node `node`, its
 * device dax1.0 given by `dev` (ranges and driver); `config` is boot.config.
 */
const hmem = (kernel: string, dev: string, node = 1, config = '{}'): string =>
  `{"type":"boot","kernel":"${kernel}","config":${config},${RAM},"daxRegions":[{"id":1,"kind":"hmem","start":"0x200000000","size":"1G","targetNode":${node},"devices":[{"name":"dax1.0",${dev}}]}]}`;

interface Run {
  readonly codes: readonly string[];
  readonly outcomes: readonly Outcome[];
  readonly states: readonly KernelState[];
}

function run(...lines: string[]): Run {
  const r = replay(parseLogText(lines.join('\n'), 'device.test.jsonl').map((l) => l.event));
  const outcomes = r.steps.map((s) => s.outcome);
  return { outcomes, codes: outcomes.map((o) => (o.ok ? 'ok' : failureKey(o))), states: r.steps.map((s) => s.after) };
}

/** Each event's value for reads, 'ok' for successful writes, the errno otherwise. */
function results(r: Run): string[] {
  return r.outcomes.slice(1).map((o) => (o.ok ? (o.value ?? 'ok') : failureKey(o)));
}

describe('dev_dax_visible and the read-only attributes', () => {
  it('target_node_show prints the region node; dev_dax_visible hides target_node (ENOENT) when it is -1; it is 0444 (write EACCES)', () => {
    expect(results(run(hmem('6.8', '"start":"0x200000000","size":"512M","driver":null'), rd(`${DEV}/dax1.0/target_node`), w(`${DEV}/dax1.0/target_node`, '0')))).toEqual([
      '1\n',
      'EACCES',
    ]);
    expect(results(run(hmem('6.8', '"start":"0x200000000","size":"512M","driver":null', -1), rd(`${DEV}/dax1.0/target_node`), w(`${DEV}/dax1.0/target_node`, '0')))).toEqual([
      'ENOENT',
      'ENOENT',
    ]);
  });

  it('size_show (%llu of the range sum) and resource_show (%#llx of range 0) on the static pmem device', () => {
    expect(results(run(pmem('6.8'), rd(`${DEV}/dax0.0/size`), rd(`${DEV}/dax0.0/resource`), rd(`${DEV}/dax9.0/size`)))).toEqual([
      '534773760\n', // 510 MiB
      '0x80200000\n',
      'ENOENT',
    ]);
  });

  it('dev_dax_visible makes size and align 0444 on a static (pmem) region: writes fail at open with EACCES, reads work', () => {
    const r = run(pmem('6.8'), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DEV}/dax0.0/size`, '0x10000000'), w(`${DEV}/dax0.0/align`, '4096'), rd(`${DEV}/dax0.0/align`));
    expect(results(r)).toEqual(['ok', 'EACCES', 'EACCES', '2097152\n']);
  });
});

describe('size_store / dev_dax_resize on a dynamic (hmem) device', () => {
  const UNBOUND = '"start":"0x200000000","size":"512M","driver":null';

  it('size_store is -EBUSY while a driver is bound (dev_dax_resize checks dev->driver), after the -EINVAL alignment check', () => {
    // 6.1: the hmem device is bound to device_dax at boot.
    const r = run(hmem('6.1', '"start":"0x200000000","size":"512M"'), w(`${DEV}/dax1.0/size`, '0x10000000'), w(`${DEV}/dax1.0/size`, '0x100000'), rd(`${DEV}/dax1.0/size`));
    expect(results(r)).toEqual(['EBUSY', 'EINVAL', '536870912\n']);
  });

  it('dev_dax_resize grows into free space, refuses growth beyond available_size with ENOSPC, and dev_dax_shrink trims', () => {
    const r = run(
      hmem('6.8', UNBOUND),
      w(`${DEV}/dax1.0/size`, '0x30000000'), // 768M: +256M of the 512M free, adjust_dev_dax_range extends range 0
      rd(`${DEV}/dax1.0/size`),
      w(`${DEV}/dax1.0/size`, '0x40200000'), // 1G + 2M: needs 258M, 256M available
      w(`${DEV}/dax1.0/size`, '1073741824'), // exactly the whole region
      rd(`${DEV}/dax1.0/size`),
      w(`${DEV}/dax1.0/size`, '0x10000000'), // shrink to 256M
      rd(`${DEV}/dax1.0/size`),
      rd(`${DEV}/dax1.0/resource`),
      w(`${DEV}/dax1.0/size`, '256M'), // kstrtoull takes no suffix
      w(`${DEV}/dax1.0/size`, '0x10100000'), // not a multiple of 2 MiB (alloc_is_aligned)
      w(`${DRV}/kmem/bind`, 'dax1.0'),
      IOMEM,
    );
    expect(results(r).slice(0, 11)).toEqual([
      'ok',
      '805306368\n',
      'ENOSPC',
      'ok',
      '1073741824\n',
      'ok',
      '268435456\n',
      '0x200000000\n',
      'EINVAL',
      'EINVAL',
      'ok',
    ]);
    // kmem then holds exactly the 256 MiB the device kept: blocks 64 and 65.
    expect(results(r)[11]).toContain('200000000-23fffffff : Soft Reserved\n  200000000-20fffffff : dax1.0\n    200000000-20fffffff : System RAM (kmem)\n');
  });

  it('dev_dax_resize allocates the space before an existing range as a new range (alloc_dev_dax_range), and dev_dax_shrink drops the last range first', () => {
    const r = run(
      hmem('6.8', '"start":"0x220000000","size":"256M","driver":null'),
      w(`${DEV}/dax1.0/size`, '0x30000000'), // +512M: the gap at the region start comes first
      rd(`${DEV}/dax1.0/resource`),
      w(`${DRV}/device_dax/new_id`, 'dax1.0'), // 6.8: hmem needs new_id to reach device_dax; driver_attach probes it
      IOMEM,
      w(`${DRV}/device_dax/unbind`, 'dax1.0'),
      w(`${DEV}/dax1.0/size`, '0x10000000'),
      rd(`${DEV}/dax1.0/resource`),
    );
    expect(results(r)).toEqual([
      'ok',
      '0x220000000\n', // ranges[0] is still the original range
      'ok',
      '00000000-7fffffff : System RAM\n' +
        '100000000-17fffffff : System RAM\n' +
        '200000000-23fffffff : Soft Reserved\n' +
        '  200000000-21fffffff : dax1.0\n' +
        '  220000000-22fffffff : dax1.0\n',
      'ok',
      'ok',
      '0x220000000\n',
    ]);
    expect(r.states[7]?.devices[0]?.ranges).toEqual([{ start: 0x220000000n, end: 0x22fffffffn }]);
  });
});

describe('align_store', () => {
  const UNBOUND = '"start":"0x200000000","size":"512M","driver":null';

  it('align_store: a kstrtoul failure is -ENXIO (sic), a value dax_align_valid refuses is -EINVAL, 1G on a 512M range is -EINVAL with the old align kept', () => {
    const r = run(
      hmem('6.8', UNBOUND),
      w(`${DEV}/dax1.0/align`, 'abc'),
      w(`${DEV}/dax1.0/align`, '0x300000'),
      w(`${DEV}/dax1.0/align`, '0x40000000'),
      rd(`${DEV}/dax1.0/align`),
      w(`${DEV}/dax1.0/align`, '4096'),
      rd(`${DEV}/dax1.0/align`),
    );
    expect(results(r)).toEqual(['ENXIO', 'EINVAL', 'EINVAL', '2097152\n', 'ok', '4096\n']);
  });

  it('align_store is -EBUSY while bound, after the parse and validity checks', () => {
    const r = run(hmem('6.1', '"start":"0x200000000","size":"512M"'), w(`${DEV}/dax1.0/align`, '4096'), w(`${DEV}/dax1.0/align`, 'x'), w(`${DEV}/dax1.0/align`, '12'));
    expect(results(r)).toEqual(['EBUSY', 'ENXIO', 'EINVAL']);
  });
});

describe('memmap_on_memory_store (v6.8)', () => {
  const ON = '{"memmapOnMemory":true}';

  it('memmap_on_memory_store: true while mhp_supports_memmap_on_memory() is false (memory_hotplug.memmap_on_memory off) is -EOPNOTSUPP; false is accepted', () => {
    const r = run(hmem('6.8', '"start":"0x200000000","size":"512M","driver":null'), w(`${DEV}/dax1.0/memmap_on_memory`, '1'), w(`${DEV}/dax1.0/memmap_on_memory`, '0'), rd(`${DEV}/dax1.0/memmap_on_memory`), w(`${DEV}/dax1.0/memmap_on_memory`, 'maybe'));
    expect(results(r)).toEqual(['EOPNOTSUPP', 'ok', '0\n', 'EINVAL']);
  });

  it('memmap_on_memory_store: changing the value while bound to kmem is -EBUSY; the same value, or device_dax as the driver, is fine', () => {
    const r = run(
      hmem('6.8', '"start":"0x200000000","size":"512M"', 1, ON), // auto: kmem at boot
      w(`${DEV}/dax1.0/memmap_on_memory`, '1'),
      w(`${DEV}/dax1.0/memmap_on_memory`, 'n'),
      rd(`${DEV}/dax1.0/memmap_on_memory`),
    );
    expect(results(r)).toEqual(['EBUSY', 'ok', '0\n']);
    const d = run(
      hmem('6.8', '"start":"0x200000000","size":"512M","driver":null', 1, ON),
      w(`${DEV}/dax1.0/memmap_on_memory`, 'y'),
      w(`${DRV}/device_dax/new_id`, 'dax1.0'),
      w(`${DEV}/dax1.0/memmap_on_memory`, '0'),
      rd(`${DEV}/dax1.0/memmap_on_memory`),
    );
    expect(results(d)).toEqual(['ok', 'ok', 'ok', '0\n']);
    expect(d.states[2]?.devices[0]?.driver).toBe('device_dax');
  });

  it('memmap_on_memory does not exist before v6.8 (ENOENT on 6.1)', () => {
    const r = run(hmem('6.1', '"start":"0x200000000","size":"512M"'), rd(`${DEV}/dax1.0/memmap_on_memory`), w(`${DEV}/dax1.0/memmap_on_memory`, '0'));
    expect(results(r)).toEqual(['ENOENT', 'ENOENT']);
  });
});

describe('dev_dax_probe / dev_dax_remove (drivers/dax/device.c)', () => {
  it('dev_dax_probe claims each range as a BUSY daxX.Y node under the producer; dev_dax_remove releases it; lifecycle devdax <-> unbound', () => {
    const r = run(hmem('6.1', '"start":"0x200000000","size":"512M"'), IOMEM, w(`${DRV}/device_dax/unbind`, 'dax1.0'), IOMEM, w(`${DRV}/device_dax/bind`, 'dax1.0'), IOMEM);
    const soft = '200000000-23fffffff : Soft Reserved\n';
    expect(results(r)).toEqual([
      expect.stringContaining(`${soft}  200000000-21fffffff : dax1.0\n`),
      'ok',
      expect.stringMatching(/Soft Reserved\n$/),
      'ok',
      expect.stringContaining(`${soft}  200000000-21fffffff : dax1.0\n`),
    ]);
    expect(r.states.map((s) => s.devices[0]?.phase)).toEqual(['devdax', 'devdax', 'unbound', 'unbound', 'devdax', 'devdax']);
  });

  it('dev_dax_probe: a devm_memremap_pages failure is returned by bind (6.8) and the devm unwind releases the requested range', () => {
    const r = run(pmem('6.8'), w(`${DRV}/device_dax/unbind`, 'dax0.0'), inject('memremap_pages', 'ENOMEM'), w(`${DRV}/device_dax/bind`, 'dax0.0'), IOMEM, w(`${DRV}/device_dax/bind`, 'dax0.0'));
    expect(results(r).slice(0, 3)).toEqual(['ok', 'ok', 'ENOMEM']);
    expect(results(r)[3]).not.toContain('dax0.0');
    // A static device keeps the region's pgmap, so the next probe simply works.
    expect(results(r)[4]).toBe('ok');
    expect(r.states[3]?.devices[0]?.phase).toBe('unbound');
  });
});
