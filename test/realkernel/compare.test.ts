/** When a recorded result agrees with the model's (src/replay/compare.ts), in particular /proc/meminfo. */
import { describe, expect, it } from 'vitest';
import { sameOutcome, sameReadValue } from '../../src/replay/compare.js';
import { replay } from '../../src/replay/engine.js';
import { parseLogText } from '../../src/log/index.js';

const REAL_MEMINFO = 'MemTotal:        5060436 kB\nMemFree:         4963000 kB\nMemAvailable:    4910000 kB\nBuffers:               0 kB\nHugePages_Total:       0\n';

describe('sameReadValue', () => {
  it('compares /proc/meminfo only on the lines the model prints', () => {
    expect(sameReadValue('/proc/meminfo', REAL_MEMINFO, 'MemTotal:        5060436 kB\n')).toBe(true);
    expect(sameReadValue('/proc/meminfo', REAL_MEMINFO, 'MemTotal:        5060432 kB\n')).toBe(false);
    // The field must be there, formatted the same way.
    expect(sameReadValue('/proc/meminfo', 'MemFree: 1 kB\n', 'MemTotal:        5060436 kB\n')).toBe(false);
    expect(sameReadValue('/proc/meminfo', 'MemTotal: 5060436 kB\n', 'MemTotal:        5060436 kB\n')).toBe(false);
  });

  it('compares every other file whole', () => {
    expect(sameReadValue('/proc/iomem', 'a\nb\n', 'a\n')).toBe(false);
    expect(sameReadValue('/sys/devices/system/memory/memory48/state', 'online\n', 'online\n')).toBe(true);
    expect(sameReadValue(undefined, REAL_MEMINFO, 'MemTotal:        5060436 kB\n')).toBe(false);
  });
});

describe('sameOutcome', () => {
  it('compares ok, errno and a recorded value; never the kernel messages', () => {
    expect(sameOutcome({ ok: true }, { ok: true, log: ['x'] })).toBe(true);
    expect(sameOutcome({ ok: false, errno: 'EBUSY', log: ['a'] }, { ok: false, errno: 'EBUSY' })).toBe(true);
    expect(sameOutcome({ ok: false, errno: 'EBUSY' }, { ok: false, errno: 'EINVAL' })).toBe(false);
    expect(sameOutcome({ ok: true, value: '1\n' }, { ok: true })).toBe(false);
    expect(sameOutcome({ ok: true }, { ok: true, value: '1\n' })).toBe(true);
  });
});

describe('the replay engine uses the /proc/meminfo rule', () => {
  const boot = JSON.stringify({ type: 'boot', kernel: '6.1', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '1G', node: 0 }] });
  const read = (path: string, value: string) => JSON.stringify({ seq: 1, type: 'read', path, result: { ok: true, value } });

  it('a real /proc/meminfo (also reached through "..") matches when MemTotal does', () => {
    const ok = replay(parseLogText([boot, read('/proc/../proc/meminfo', 'MemTotal:        1048576 kB\nMemFree:          100 kB\n')].join('\n'), 'x').map((l) => l.event));
    expect(ok.divergences).toEqual([]);
    const bad = replay(parseLogText([boot, read('/proc/meminfo', 'MemTotal:        1048572 kB\nMemFree:          100 kB\n')].join('\n'), 'x').map((l) => l.event));
    expect(bad.divergences).toHaveLength(1);
  });
});
