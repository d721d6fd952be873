import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { BootEvent, WriteEvent } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/reader.js';
import { shellCommand, shellQuote } from '../../src/log/shell.js';
import { BOOT } from './helpers.js';

const write = (value: string, raw = false, path = '/sys/devices/system/memory/memory17/state'): WriteEvent => ({ type: 'write', path, value, raw });

describe('shellCommand', () => {
  it('renders each event type', () => {
    expect(shellCommand(write('online_movable'))).toBe('echo online_movable > /sys/devices/system/memory/memory17/state');
    expect(shellCommand(write('dax0.0', true, '/sys/bus/dax/drivers/kmem/new_id'))).toBe('printf %s dax0.0 > /sys/bus/dax/drivers/kmem/new_id');
    expect(shellCommand(write('', true, '/sys/bus/dax/drivers/kmem/bind'))).toBe("printf '' > /sys/bus/dax/drivers/kmem/bind");
    expect(shellCommand(write(''))).toBe("echo '' > /sys/devices/system/memory/memory17/state");
    expect(shellCommand(write(' dax0.0'))).toBe("echo ' dax0.0' > /sys/devices/system/memory/memory17/state");
    expect(shellCommand(write("it's"))).toBe("echo 'it'\\''s' > /sys/devices/system/memory/memory17/state");
    expect(shellCommand(write('-n'))).toBe("printf '%s\\n' -n > /sys/devices/system/memory/memory17/state");
    expect(shellCommand(write('a\nb', true))).toBe("printf %s $'a\\nb' > /sys/devices/system/memory/memory17/state");
    expect(shellCommand({ type: 'read', path: '/proc/iomem' })).toBe('cat /proc/iomem');
    expect(shellCommand({ type: 'inject', site: 'add_memory', errno: 'EBUSY', nth: 1 })).toBe('# inject add_memory EBUSY (nth 1)');
    const boot = parseLogText(BOOT, 'x.jsonl')[0]?.event as BootEvent;
    expect(shellCommand(boot)).toBe('# boot 6.8: 2 RAM ranges, block 128M, 1 dax region');
    expect(shellCommand({ ...boot, kernel: '5.1', ram: boot.ram.slice(0, 1), daxRegions: [], variant: 'memmap-whole-range' })).toBe(
      '# boot 5.1: 1 RAM range, block 128M, 0 dax regions, variant memmap-whole-range',
    );
  });

  it('quotes only what needs quoting', () => {
    expect(shellQuote('0x80000000-0x9fffffff')).toBe('0x80000000-0x9fffffff');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote('\t')).toBe("$'\\t'");
  });
});

describe('shellCommand performs the write the event stands for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-shell-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'attr');
  const chars = fc.constantFrom(...'a0 -_.\'"\\$`!*?;&|<>()[]{}~#%\n\t\r\x01\x7fé✓'.split(''));

  it('bash writes exactly value + "\\n" (echo) or value (raw)', () => {
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 12 }), fc.boolean(), (value, raw) => {
        const cmd = shellCommand(write(value, raw, target));
        expect(cmd).not.toContain('\n');
        const shells = cmd.includes("$'") ? ['bash'] : ['bash', 'dash'];
        for (const sh of shells) {
          const r = spawnSync(sh, ['-c', cmd], { encoding: 'utf8' });
          expect(r.status, `${sh}: ${cmd}\n${r.stderr}`).toBe(0);
          expect(readFileSync(target, 'utf8'), `${sh}: ${cmd}`).toBe(raw ? value : `${value}\n`);
        }
      }),
      { numRuns: 60 },
    );
  });
});
