/**
 * The dax bus and the driver core behind its sysfs files (drivers/dax/bus.c
 * do_id_store / dax_bus_match / dax_bus_probe; drivers/base/bus.c bind_store /
 * unbind_store; drivers/base/dd.c device_driver_attach / __driver_attach).
 * Each expected value is worked out by hand from those functions (see
 * KERNEL-FACTS §2.2, §2.3), not read back from the model.
 */
import { failureKey } from '../../src/log/events.js';
import { describe, expect, it } from 'vitest';
import type { KernelState } from '../../src/kernel/state.js';
import type { Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

const DRV = '/sys/bus/dax/drivers';
const w = (path: string, value: string, raw = false): string => JSON.stringify({ type: 'write', path, value, ...(raw ? { raw: true } : {}) });
const rd = (path: string): string => JSON.stringify({ type: 'read', path });
const IOMEM = rd('/proc/iomem');

/**
 * The seed's QEMU machine (examples/qemu-pmem-kmem.jsonl): 128 MiB blocks, RAM
 * [0, 2G) and [4G, 6G) on node 0, 512 MiB of legacy pmem at 2G whose first
 * 2 MiB are namespace metadata; dax0.0 (static) is bound to device_dax.
 */
const pmem = (kernel: string, node = 0, dev = '"driver":"device_dax"', iomem = '[]'): string =>
  `{"type":"boot","kernel":"${kernel}","memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0},{"start":"0x100000000","size":"2G","node":0}],"iomem":${iomem},"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"512M","targetNode":${node},"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"510M",${dev}}]}]}`;

/** pmem() plus a 1 GiB Soft Reserved (hmem) region 1 at 8G on node 1, its device dax1.0 left to `hmemDriver`. */
const mixed = (kernel: string, hmemDriver: string): string =>
  `{"type":"boot","kernel":"${kernel}","memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0},{"start":"0x100000000","size":"2G","node":0}],"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"512M","targetNode":0,"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"510M","driver":"device_dax"}]},{"id":1,"kind":"hmem","start":"0x200000000","size":"1G","targetNode":1,"devices":[{"name":"dax1.0","start":"0x200000000","size":"1G"${hmemDriver}}]}]}`;

interface Run {
  /** 'ok' or the errno, per event (index 0 is the boot). */
  readonly codes: readonly string[];
  readonly outcomes: readonly Outcome[];
  readonly states: readonly KernelState[];
}

function run(...lines: string[]): Run {
  const r = replay(parseLogText(lines.join('\n'), 'bus.test.jsonl').map((l) => l.event));
  const outcomes = r.steps.map((s) => s.outcome);
  return { outcomes, codes: outcomes.map((o) => (o.ok ? 'ok' : failureKey(o))), states: r.steps.map((s) => s.after) };
}

function value(r: Run, i: number): string {
  const o = r.outcomes[i];
  if (o === undefined || !o.ok || o.value === undefined) throw new Error(`event ${i} has no value: ${JSON.stringify(o)}`);
  return o.value;
}

function logOf(r: Run, i: number): string {
  return (r.outcomes[i]?.log ?? []).join('\n');
}

function driverOf(r: Run, i: number, name: string): string | null | undefined {
  return r.states[i]?.devices.find((d) => d.name === name)?.driver;
}

const PMEM_TREE_DEVDAX =
  '00000000-7fffffff : System RAM\n' +
  '80000000-9fffffff : Persistent Memory (legacy)\n' +
  '  80000000-801fffff : namespace0.0\n' +
  '  80200000-9fffffff : dax0.0\n' +
  '100000000-17fffffff : System RAM\n';

describe('do_id_store: new_id / remove_id parsing (sscanf "dax%d.%d", sprintf, sysfs_streq)', () => {
  it('do_id_store accepts "dax0.0" with or without the newline echo adds, and a zero-byte write succeeds before any store runs', () => {
    const r = run(pmem('6.8'), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0', true), w(`${DRV}/kmem/new_id`, '', true), w(`${DRV}/kmem/remove_id`, '', true));
    expect(r.codes.slice(1)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('do_id_store rejects every name that does not print back identically with EINVAL (new_id and remove_id alike)', () => {
    // sscanf reads 00 -> 0, "0x" stops after 0, "-0" -> 0, " dax" fails the literal; sprintf then gives "dax0.0" != the input.
    // "dax0.0\n\n": sysfs_streq forgives one trailing newline only. echo of "" writes "\n": sscanf matches nothing.
    // 2147483648 is truncated to int -2147483648 and prints differently.
    const bad = ['dax00.0', 'dax0.0x', 'dax-0.0', 'dax0.00', ' dax0.0', 'dax0', 'dax+1.0', 'dax2147483648.0', 'DAX0.0', ''];
    for (const file of ['new_id', 'remove_id']) {
      const r = run(pmem('6.8'), ...bad.map((v) => w(`${DRV}/kmem/${file}`, v)), w(`${DRV}/kmem/${file}`, 'dax0.0\n\n', true));
      expect(r.codes.slice(1)).toEqual(bad.map(() => 'EINVAL').concat('EINVAL'));
    }
  });

  it('do_id_store accepts "dax-1.0": %d stores -1 in the unsigned region id and sprintf %d prints -1 again', () => {
    const r = run(pmem('6.8'), w(`${DRV}/kmem/new_id`, 'dax-1.0'), w(`${DRV}/kmem/remove_id`, 'dax-2147483648.0'));
    expect(r.codes.slice(1)).toEqual(['ok', 'ok']);
  });

  it('do_id_store: a duplicate new_id is a no-op (__dax_match_id finds it) and a single remove_id drops the name', () => {
    // target_node -1 makes every kmem probe fail, so the device stays unbound and bind shows whether kmem still matches.
    const r = run(
      pmem('6.1', -1),
      w(`${DRV}/device_dax/unbind`, 'dax0.0'),
      w(`${DRV}/kmem/new_id`, 'dax0.0'),
      w(`${DRV}/kmem/new_id`, 'dax0.0'),
      w(`${DRV}/kmem/bind`, 'dax0.0'),
      w(`${DRV}/kmem/remove_id`, 'dax0.0'),
      w(`${DRV}/kmem/bind`, 'dax0.0'),
      w(`${DRV}/kmem/remove_id`, 'dax0.0'),
    );
    // bind: matched by id -> probe -> -EINVAL (6.1 passes it through); after one remove_id: no match -> -ENODEV.
    expect(r.codes.slice(1)).toEqual(['ok', 'ok', 'ok', 'EINVAL', 'ok', 'ENODEV', 'ok']);
    expect(r.states[7]?.driverIds.kmem).toEqual([]);
  });
});

describe('do_id_store then driver_attach: new_id probes unbound matching devices and swallows errors', () => {
  it('new_id (driver_attach -> __driver_attach) returns the byte count even when dev_dax_kmem_probe fails with -EINVAL for target_node -1', () => {
    const r = run(pmem('6.8', -1), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0'), IOMEM);
    expect(r.codes.slice(1)).toEqual(['ok', 'ok', 'ok']);
    expect(logOf(r, 2)).toContain('rejecting DAX region with invalid node: -1');
    expect(driverOf(r, 2, 'dax0.0')).toBeNull();
    expect(value(r, 3)).toBe(PMEM_TREE_DEVDAX.replace('  80200000-9fffffff : dax0.0\n', ''));
  });

  it('new_id: __driver_probe_device skips a device already bound to another driver (it stays on device_dax)', () => {
    const r = run(pmem('6.8'), w(`${DRV}/kmem/new_id`, 'dax0.0'), IOMEM);
    expect(r.codes.slice(1)).toEqual(['ok', 'ok']);
    expect(driverOf(r, 1, 'dax0.0')).toBe('device_dax');
    expect(value(r, 2)).toBe(PMEM_TREE_DEVDAX);
  });

  it('new_id on 6.8: driver_attach walks all devices, so an unbound hmem device (dax_bus_match by type) is bound to kmem by a new_id naming dax0.0', () => {
    const r = run(mixed('6.8', ',"driver":null'), w(`${DRV}/kmem/new_id`, 'dax0.0'));
    expect(r.codes.slice(1)).toEqual(['ok']);
    expect(driverOf(r, 1, 'dax0.0')).toBe('device_dax');
    expect(driverOf(r, 1, 'dax1.0')).toBe('kmem');
  });

  it('new_id on 6.1: device_dax has match_always, so any new_id on it re-binds every unbound device, named or not', () => {
    const r = run(pmem('6.1'), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/device_dax/new_id`, 'dax5.5'), IOMEM);
    expect(r.codes.slice(1)).toEqual(['ok', 'ok', 'ok']);
    expect(driverOf(r, 1, 'dax0.0')).toBeNull();
    expect(driverOf(r, 2, 'dax0.0')).toBe('device_dax');
    expect(value(r, 3)).toBe(PMEM_TREE_DEVDAX);
  });

  it('remove_id (do_id_store ID_REMOVE) only drops the name: a device kmem already holds stays bound', () => {
    const r = run(pmem('6.8', 0, '"driver":null'), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/remove_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'), w(`${DRV}/kmem/unbind`, 'dax0.0'));
    // bind after remove_id: a pmem device no longer matches kmem -> -ENODEV; unbind only checks dev->driver == drv.
    expect(r.codes.slice(1)).toEqual(['ok', 'ok', 'ENODEV', 'ok']);
    expect(driverOf(r, 2, 'dax0.0')).toBe('kmem');
    expect(driverOf(r, 4, 'dax0.0')).toBeNull();
  });
});

describe('bind_store (drivers/base/bus.c) and device_driver_attach', () => {
  it('bind_store: bus_find_device_by_name finds no "dax7.0" -> ENODEV; the echo newline is accepted (sysfs_streq)', () => {
    const r = run(pmem('6.8'), w(`${DRV}/device_dax/bind`, 'dax7.0'), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/device_dax/bind`, 'dax0.0'));
    expect(r.codes.slice(1)).toEqual(['ENODEV', 'ok', 'ok']);
    expect(driverOf(r, 3, 'dax0.0')).toBe('device_dax');
  });

  it('bind_store: driver_match_device fails for kmem without new_id on 5.1 and 6.1 (kmem matches by id only) -> ENODEV', () => {
    for (const k of ['5.1', '6.1']) {
      const r = run(pmem(k), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'));
      expect(r.codes.slice(1)).toEqual(['ok', 'ENODEV']);
      expect(driverOf(r, 2, 'dax0.0')).toBeNull();
    }
  });

  it('bind_store on 6.8 (dax_bus_match by type): pmem -> kmem is ENODEV, hmem -> device_dax is ENODEV, hmem -> kmem binds', () => {
    const r = run(mixed('6.8', ',"driver":null'), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'), w(`${DRV}/device_dax/bind`, 'dax1.0'), w(`${DRV}/kmem/bind`, 'dax1.0'));
    expect(r.codes.slice(1)).toEqual(['ok', 'ENODEV', 'ENODEV', 'ok']);
    expect(driverOf(r, 4, 'dax1.0')).toBe('kmem');
  });

  it('bind_store on an already-bound device: __driver_probe_device -EBUSY on 6.1/6.8, the pre-5.14 dev->driver == NULL test gives ENODEV on 5.1', () => {
    const want: Record<string, string> = { '5.1': 'ENODEV', '6.1': 'EBUSY', '6.8': 'EBUSY' };
    for (const k of ['5.1', '6.1', '6.8']) {
      const r = run(pmem(k), w(`${DRV}/device_dax/bind`, 'dax0.0'));
      expect(r.codes[1]).toBe(want[k]);
      expect(driverOf(r, 1, 'dax0.0')).toBe('device_dax');
    }
    // Matched through new_id but bound elsewhere: still -EBUSY on 6.8 (match first, then the dev->driver check).
    const r = run(pmem('6.8'), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'));
    expect(r.codes.slice(1)).toEqual(['ok', 'EBUSY']);
  });

  it('bind_store passes the probe errno through on 6.x (EINVAL: target_node -1) and flattens it to ENODEV on 5.1 (really_probe returned 0)', () => {
    const want: Record<string, string> = { '5.1': 'ENODEV', '6.1': 'EINVAL', '6.8': 'EINVAL' };
    for (const k of ['5.1', '6.1', '6.8']) {
      const r = run(pmem(k, -1), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'));
      expect(r.codes.slice(1)).toEqual(['ok', 'ok', want[k]]);
      expect(logOf(r, 3)).toMatch(/rejecting DAX region .*with invalid node: -1/);
      expect(driverOf(r, 3, 'dax0.0')).toBeNull();
    }
  });

  it('bind_store passes -EBUSY from kmem request_mem_region (a BUSY range inside the data area) on 6.x, ENODEV on 5.1', () => {
    // A BUSY "Reserved" at 0x90000000 nests in the pmem region; kmem asks for 0x88000000-0x9fffffff and hits it.
    const reserved = '[{"start":"0x90000000","size":"2M","name":"Reserved","busy":true}]';
    const want: Record<string, string> = { '5.1': 'ENODEV', '6.1': 'EBUSY', '6.8': 'EBUSY' };
    for (const k of ['5.1', '6.1', '6.8']) {
      const r = run(pmem(k, 0, '"driver":null', reserved), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'), IOMEM);
      expect(r.codes.slice(1)).toEqual(['ok', want[k], 'ok']);
      expect(value(r, 3)).not.toContain('System RAM (kmem)');
      expect(value(r, 3)).toContain('  90000000-901fffff : Reserved\n');
    }
  });

  it('dax_bus_probe refuses a zero-sized device with -ENXIO before the driver probe runs (6.8, hmem shrunk to 0)', () => {
    const r = run(mixed('6.8', ',"driver":null'), w('/sys/bus/dax/devices/dax1.0/size', '0'), w(`${DRV}/kmem/bind`, 'dax1.0'), IOMEM);
    expect(r.codes.slice(1)).toEqual(['ok', 'ENXIO', 'ok']);
    expect(value(r, 3)).toContain('200000000-23fffffff : Soft Reserved\n');
    expect(value(r, 3)).not.toContain('dax1.0');
  });
});

describe('unbind_store (drivers/base/bus.c)', () => {
  it('unbind_store: -ENODEV for an unknown device, for the wrong driver and for an unbound device; the right driver unbinds', () => {
    const r = run(
      pmem('6.8'),
      w(`${DRV}/device_dax/unbind`, 'dax3.0'),
      w(`${DRV}/kmem/unbind`, 'dax0.0'),
      w(`${DRV}/device_dax/unbind`, 'dax0.0'),
      w(`${DRV}/device_dax/unbind`, 'dax0.0'),
      IOMEM,
    );
    expect(r.codes.slice(1)).toEqual(['ENODEV', 'ENODEV', 'ok', 'ENODEV', 'ok']);
    expect(driverOf(r, 2, 'dax0.0')).toBe('device_dax');
    expect(driverOf(r, 3, 'dax0.0')).toBeNull();
    // dev_dax_remove released the BUSY dax0.0 node.
    expect(value(r, 5)).toBe(PMEM_TREE_DEVDAX.replace('  80200000-9fffffff : dax0.0\n', ''));
  });
});

describe('boot: the driver core probes each device with the driver dax_bus_match picks', () => {
  it('device_add at boot, 6.1: hmem matches device_dax (match_always), which claims the range as a BUSY dax1.0 node; no memory is added', () => {
    const r = run(mixed('6.1', ''), IOMEM, rd('/sys/devices/system/memory/memory64/state'));
    expect(driverOf(r, 0, 'dax1.0')).toBe('device_dax');
    expect(r.states[0]?.devices.find((d) => d.name === 'dax1.0')?.phase).toBe('devdax');
    expect(value(r, 1)).toContain('200000000-23fffffff : Soft Reserved\n  200000000-23fffffff : dax1.0\n');
    expect(r.codes[2]).toBe('ENOENT');
  });

  it('device_add at boot, 6.8: hmem (IORESOURCE_DAX_KMEM) matches kmem, so its memory is hot-added at boot (offline, memhp default)', () => {
    const r = run(mixed('6.8', ''), IOMEM, rd('/sys/devices/system/memory/memory64/state'), rd('/sys/devices/system/memory/memory71/state'), rd('/sys/devices/system/memory/memory72/state'));
    expect(driverOf(r, 0, 'dax0.0')).toBe('device_dax');
    expect(driverOf(r, 0, 'dax1.0')).toBe('kmem');
    expect(r.states[0]?.devices.find((d) => d.name === 'dax1.0')?.phase).toBe('kmem');
    expect(value(r, 1)).toContain('200000000-23fffffff : Soft Reserved\n  200000000-23fffffff : dax1.0\n    200000000-23fffffff : System RAM (kmem)\n');
    // 8G / 128M = block 64; the 1 GiB region is blocks 64..71.
    expect(r.codes.slice(2)).toEqual(['ok', 'ok', 'ENOENT']);
    expect(value(r, 2)).toBe('offline\n');
  });
});
