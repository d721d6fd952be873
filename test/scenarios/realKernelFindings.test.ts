/**
 * Behaviours first seen in traces recorded on a real 6.1.0-56-cloud-amd64
 * kernel under QEMU (harness/transcripts/hmem), each with the kernel code
 * responsible.
 */
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { run } from '../helpers/steps.js';
import { failureKey } from '../../src/log/events.js';

const HMEM_BOOT = JSON.stringify({
  type: 'boot',
  kernel: '6.1',
  config: { memoryHotremove: true, autoOnline: 'offline' },
  memoryBlockSize: '128M',
  ram: [{ start: '0x0', size: '3G', node: 0 }, { start: '0x100000000', size: '2G', node: 0 }],
  daxRegions: [{ id: 0, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 1, devices: [{ name: 'dax0.0', start: '0x180000000', size: '1G' }] }],
});

const w = (seq: number, path: string, value: string): string => JSON.stringify({ seq, type: 'write', path, value });

describe('dev_dax_probe leaves dev_dax->pgmap stale after a failed probe (drivers/dax/device.c)', () => {
  const log = [
    HMEM_BOOT,
    w(1, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0'),
    w(2, '/sys/bus/dax/drivers/kmem/new_id', 'dax0.0'),
    w(3, '/sys/devices/system/memory/memory48/state', 'online_movable'),
    w(4, '/sys/bus/dax/drivers/kmem/unbind', 'dax0.0'),
    w(5, '/sys/bus/dax/drivers/device_dax/bind', 'dax0.0'),
    w(6, '/sys/bus/dax/drivers/device_dax/bind', 'dax0.0'),
  ].join('\n');
  const r = run(log, makeChecker());

  it('the first probe fails at the range request (EBUSY), the second at the stale pgmap (EINVAL)', () => {
    expect(r.steps[5]?.outcome).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(r.steps[6]?.outcome).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(r.steps[6]?.outcome.log).toContain('device_dax dax0.0: dynamic-dax with pre-populated page map');
  });

  it('is a named kernel leak, not a failed-op-unchanged violation', () => {
    expect(r.violations).toEqual([]);
    expect(r.steps[5]?.after.devices[0]?.pgmap).toBe(true);
  });

  it('a successful probe followed by unbind clears it (kill_dev_dax), so device_dax can bind again', () => {
    const ok = run([HMEM_BOOT, w(1, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0'), w(2, '/sys/bus/dax/drivers/device_dax/bind', 'dax0.0')].join('\n'));
    expect(ok.steps[2]?.outcome).toEqual({ ok: true });
  });
});

describe('procfs and path resolution', () => {
  it('writing /proc/iomem or /proc/meminfo as root fails in write(2) with EIO (no .proc_write), not at open', () => {
    const r = run([HMEM_BOOT, w(1, '/proc/iomem', 'x'), w(2, '/proc/meminfo', 'x')].join('\n'));
    expect(r.steps.slice(1).map((s) => s.outcome)).toEqual([
      { ok: false, errno: 'EIO' },
      { ok: false, errno: 'EIO' },
    ]);
  });

  it('resolves .. and repeated slashes as the VFS does', () => {
    const r = run([HMEM_BOOT, JSON.stringify({ seq: 1, type: 'read', path: '/sys/bus/dax/devices/dax0.0/../dax0.0//size' })].join('\n'));
    expect(r.steps[1]?.outcome).toEqual({ ok: true, value: '1073741824\n' });
  });
});

describe('directories (fs/kernfs: a directory has no read or write)', () => {
  it('reading or writing a device or block directory fails with EISDIR', () => {
    const r = run(
      [
        HMEM_BOOT,
        JSON.stringify({ seq: 1, type: 'read', path: '/sys/bus/dax/devices/dax0.0' }),
        w(2, '/sys/devices/system/memory/memory40', '1'),
        JSON.stringify({ seq: 3, type: 'read', path: '/sys/devices/system/memory/memory4000' }),
      ].join('\n'),
      makeChecker(),
    );
    expect(r.steps.slice(1).map((s) => s.outcome)).toEqual([
      { ok: false, errno: 'EISDIR' },
      { ok: false, errno: 'EISDIR' },
      { ok: false, errno: 'ENOENT' },
    ]);
    expect(r.violations).toEqual([]);
  });
});

describe('campaign findings kept as scenarios (test/scenarios/fuzz/)', () => {
  it('kmem re-probed after a partial hot-remove adds the free range again and the device stays online', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('./fuzz/kmem-reprobe-after-partial-remove.jsonl', import.meta.url), 'utf8');
    const { checkAll } = await import('../../properties/sequence.js');
    const r = run(text, checkAll(makeChecker()));
    expect(r.violations).toEqual([]);
    const last = r.steps[r.steps.length - 1]!;
    expect(last.outcome).toMatchObject({ ok: true, log: ['kmem dax0.0: mapping1: 0x128000000-0x13fffffff could not reserve region'] });
    expect(last.transitions).toContain('daxDevice:hotremove:online:kmem.added');
    expect(last.after.devices.find((d) => d.name === 'dax0.0')?.phase).toBe('online');
  });
});

describe('kernel behaviour the one-way property does not survive (found by a campaign)', () => {
  it('a pinned kmem device can be resized and bound to device_dax: device-one-way flags it', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('./fuzz/resize-after-pinned-kmem.jsonl', import.meta.url), 'utf8');
    const { checkAll } = await import('../../properties/sequence.js');
    const r = run(text, checkAll(makeChecker()));
    // dev_dax_resize checks only dev->driver: both size writes succeed after kmem's unbind pinned the memory.
    expect(r.steps.slice(1).map((s) => (s.outcome.ok ? 'ok' : failureKey(s.outcome)))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.final.devices[0]?.driver).toBe('device_dax');
    expect(r.violations.map((v) => v.invariant)).toEqual(['device-one-way', 'device-one-way']);
  });
});
