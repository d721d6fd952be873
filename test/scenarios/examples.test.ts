/**
 * The example logs a user can replay (examples/), each outcome and the final
 * views asserted. Expected values come from the kernel rules (comments name
 * them), not from running the model.
 */
import { failureKey } from '../../src/log/events.js';
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { renderIomem } from '../../src/kernel/resource.js';
import type { Outcome } from '../../src/log/events.js';
import { memTotalKiB } from '../../src/views/meminfo.js';
import { exampleText, run } from '../helpers/steps.js';

const brief = (o: Outcome): string => (o.ok ? 'ok' : failureKey(o));

describe('examples/qemu-pmem-kmem.jsonl (the seed walkthrough, 6.8, no hot-remove)', () => {
  const r = run(exampleText('qemu-pmem-kmem.jsonl'), makeChecker());

  it('gives the kernel outcome for every step', () => {
    expect(r.steps.map((s) => brief(s.outcome))).toEqual([
      'ok', // boot
      'ok', // cat /proc/iomem
      'ok', // unbind device_dax: unbind_store
      'ok', // new_id kmem: do_id_store + driver_attach probes kmem
      'ok', // cat /proc/iomem
      'ok', // online_movable memory17
      'ok', // memory18
      'ok', // memory19
      'EINVAL', // online_movable again: device_online returns 1, state_store turns it into -EINVAL
      'EINVAL', // offline: offline_pages stub without CONFIG_MEMORY_HOTREMOVE
      'ok', // kmem unbind: remove_memory stub -EBUSY, memory pinned, unbind succeeds anyway
      'EBUSY', // device_dax bind: request_mem_region descends into dax0.0 and hits System RAM (kmem)
      'ok', // cat /proc/meminfo
    ]);
    expect(r.violations).toEqual([]);
  });

  it('shows the nesting of the 2019 series in /proc/iomem: kmem covers only the block-aligned part', () => {
    expect(r.steps[1]?.outcome).toEqual({
      ok: true,
      value:
        '00000000-7fffffff : System RAM\n' +
        '80000000-9fffffff : Persistent Memory (legacy)\n' +
        '  80000000-801fffff : namespace0.0\n' +
        '  80200000-9fffffff : dax0.0\n' +
        '100000000-17fffffff : System RAM\n',
    });
    // 0x80200000 rounded up to 128 MiB is 0x88000000: 126 MiB lost at the front (dax_kmem_range).
    expect(renderIomem(r.final.iomem)).toBe(
      '00000000-7fffffff : System RAM\n' +
        '80000000-9fffffff : Persistent Memory (legacy)\n' +
        '  80000000-801fffff : namespace0.0\n' +
        '  88000000-9fffffff : dax0.0\n' +
        '    88000000-9fffffff : System RAM (kmem)\n' +
        '100000000-17fffffff : System RAM\n',
    );
  });

  it('ends with blocks 17-19 online Movable on node 0, dax0.0 online with no driver, MemTotal 4 GiB + 384 MiB', () => {
    const hot = [...r.final.blocks.entries()].filter(([, b]) => !b.boot).map(([id, b]) => [id, b.state, b.zone, b.nid]);
    expect(hot).toEqual([
      [17, 'online', 'Movable', 0],
      [18, 'online', 'Movable', 0],
      [19, 'online', 'Movable', 0],
    ]);
    expect(r.final.devices.map((d) => [d.name, d.phase, d.driver])).toEqual([['dax0.0', 'online', null]]);
    expect(memTotalKiB(r.final)).toBe(4 * 1024 * 1024 + 3 * 128 * 1024);
    expect(r.steps[12]?.outcome).toEqual({ ok: true, value: 'MemTotal:        4587520 kB\n' });
    expect(r.final.anyHotremoveFailed).toBe(true);
  });
});

describe('examples/hmem-node1.jsonl (Soft Reserved on node 1, 6.1, hot-remove)', () => {
  const r = run(exampleText('hmem-node1.jsonl'), makeChecker());

  it('gives the kernel outcome for every step', () => {
    expect(r.steps.map((s) => brief(s.outcome))).toEqual([
      'ok', // boot: 6.1 device_dax has match_always, so dax0.0 starts as devdax
      'ok', // target_node: "1"
      'ENODEV', // kmem bind without new_id: dax_bus_match only by id before v6.3
      'ok', // device_dax unbind
      'ok', // kmem new_id: probes
      'ok', // /proc/iomem
      'ok', // valid_zones of an offline block on an empty node
      'ok', // online_movable memory48
      'ok', // online memory49: neither zone intersects, movable_node off → Normal
      'ok', // valid_zones of online memory49
      'ok', // valid_zones of offline memory50
      'ok', // online file "1"
      'ok', // online file "1" again: already online is success through the online file
      'ok', // offline memory48: hot-remove configured, movable
      'ok', // kmem unbind: memory49/50 online → remove_memory -EBUSY, pinned
      'EBUSY', // device_dax bind: kmem's nodes still there
      'EBUSY', // kmem bind: descends into the stale dax0.0 node, hits the BUSY child
      'ok', // /proc/meminfo
    ]);
    expect(r.violations).toEqual([]);
  });

  it('reports the zones the kernel would print', () => {
    const value = (i: number): string | undefined => {
      const o = r.steps[i]?.outcome;
      return o?.ok === true ? o.value : undefined;
    };
    expect(value(1)).toBe('1\n');
    // Offline block on a node with no memory: plain online picks the kernel zone, online_movable adds Movable.
    expect(value(6)).toBe('Normal Movable\n');
    expect(value(9)).toBe('Normal\n');
    // memory50 sits next to Normal memory49 but outside its span: still "Normal Movable".
    expect(value(10)).toBe('Normal Movable\n');
  });

  it('ends pinned: dax0.0 online with no driver, memory48 offline, 49-50 online Normal on node 1', () => {
    const hot = [...r.final.blocks.entries()].filter(([, b]) => !b.boot).map(([id, b]) => `${id}:${b.state}:${b.zone ?? '-'}:${b.nid}`);
    expect(hot).toEqual(['48:offline:-:1', '49:online:Normal:1', '50:online:Normal:1', '51:offline:-:1', '52:offline:-:1', '53:offline:-:1', '54:offline:-:1', '55:offline:-:1']);
    expect(r.final.devices.map((d) => [d.name, d.phase, d.driver])).toEqual([['dax0.0', 'online', null]]);
    expect(r.steps[14]?.outcome.log).toEqual([
      'removing memory fails, because memory [0x0000000188000000-0x000000018fffffff] is onlined',
      'kmem dax0.0: mapping0: 0x180000000-0x1bfffffff cannot be hotremoved until the next reboot',
    ]);
    // 5 GiB of boot RAM + two 128 MiB blocks.
    expect(memTotalKiB(r.final)).toBe(5 * 1024 * 1024 + 2 * 128 * 1024);
  });
});
