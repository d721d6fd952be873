/** The host side of the guest protocol (src/realkernel/protocol.ts). */
import { describe, expect, it } from 'vitest';
import { cpio, decodeResult, opsText, parseConsole, stripTimestamp } from '../../src/realkernel/protocol.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('decodeResult (the sysfs-op helper line)', () => {
  it('reads values, empty values, and bare successes', () => {
    expect(decodeResult(`RESULT ok ${b64('online\n')}`)).toEqual({ kind: 'ok', value: 'online\n' });
    expect(decodeResult('RESULT ok =')).toEqual({ kind: 'ok', value: '' });
    expect(decodeResult('RESULT ok')).toEqual({ kind: 'ok' });
  });

  it('names the syscall that failed', () => {
    expect(decodeResult('RESULT open-error EACCES')).toEqual({ kind: 'error', stage: 'open', errno: 'EACCES' });
    expect(decodeResult('RESULT write-error EBUSY')).toEqual({ kind: 'error', stage: 'write', errno: 'EBUSY' });
    expect(decodeResult(`RESULT read-error EISDIR ${b64('')}`)).toMatchObject({ kind: 'error', stage: 'read', errno: 'EISDIR' });
  });

  it('reports what a log cannot hold as a harness problem', () => {
    expect(decodeResult('RESULT short-write 3 7')).toEqual({ kind: 'harness', message: 'short write: 3 of 7 bytes' });
    expect(decodeResult('RESULT usage-error -').kind).toBe('harness');
    expect(decodeResult('garbage').kind).toBe('harness');
  });
});

describe('opsText', () => {
  it('numbers the operations and hex-encodes paths and values ("-" for empty)', () => {
    expect(
      opsText([
        { type: 'write', path: '/a', value: 'x', raw: false },
        { type: 'write', path: '/b', value: '', raw: true },
        { type: 'read', path: '/c' },
        { type: 'dump' },
        { type: 'sleep', seconds: 1 },
        { type: 'list', path: '/d' },
      ]),
    ).toBe('1 write 2f61 78\n2 raw 2f62 -\n3 read 2f63 -\n4 dump - -\n5 sleep - 31\n6 list 2f64 -\n');
  });
});

describe('parseConsole: list operations', () => {
  it('collects LS lines by seq: mode, name, link target, the read of a readable file', () => {
    const r = parseConsole(
      [
        '@@MEMHP BEGIN',
        '@@MEMHP OP 3 list 2f64',
        `@@MEMHP LS 3 -rw-r--r-- state - RESULT ok ${b64('online\n')}`,
        '@@MEMHP LS 3 lrwxrwxrwx node1 ../../node/node1 RESULT -',
        '@@MEMHP LS 3 --w------- bind - RESULT -',
        '@@MEMHP LS 3 -r-------- resource - RESULT read-error EIO =',
        '@@MEMHP RES 3 RESULT ok',
        '@@MEMHP END',
      ].join('\n'),
    );
    expect(r.listings.get(3)).toEqual([
      { mode: '-rw-r--r--', name: 'state', target: null, read: { kind: 'ok', value: 'online\n' } },
      { mode: 'lrwxrwxrwx', name: 'node1', target: '../../node/node1', read: null },
      { mode: '--w-------', name: 'bind', target: null, read: null },
      { mode: '-r--------', name: 'resource', target: null, read: { kind: 'error', stage: 'read', errno: 'EIO' } },
    ]);
    expect(r.results.get(3)).toEqual({ kind: 'ok' });
  });
});

describe('cpio', () => {
  it('writes a newc archive with a trailer, padded to 512 bytes', () => {
    const a = cpio({ 'ops.txt': 'hello\n' });
    expect(a.length % 512).toBe(0);
    const text = a.toString('latin1');
    expect(text.startsWith('070701')).toBe(true);
    expect(text).toContain('ops.txt\0');
    expect(text).toContain('hello\n');
    expect(text).toContain('TRAILER!!!');
  });
});

describe('parseConsole', () => {
  it('collects facts, links, results and kernel messages by tag, ignoring noise', () => {
    const text = [
      '[    0.000000] Linux version 6.1.0',
      '@@MEMHP BEGIN',
      '@@MEMHP UNAME 6.1.0-56-cloud-amd64',
      '@@MEMHP MOD kmem 0 ',
      `@@MEMHP FACT boot /sys/devices/system/memory/block_size_bytes RESULT ok ${b64('8000000\n')}`,
      '@@MEMHP FACT boot /sys/x RESULT open-error ENOENT',
      '@@MEMHP LINK boot /sys/bus/dax/devices/dax0.0/driver ../../../bus/dax/drivers/device_dax',
      '@@MEMHP HAS boot /sys/bus/dax/drivers/kmem',
      '@@MEMHP OP 1 write 2f61',
      '@@MEMHP RES 1 RESULT write-error EINVAL',
      '@@MEMHP KLOG 1 [    3.473680] Fallback order for Node 1: 1 0 ',
      '@@MEMHP END\r',
    ].join('\n');
    const r = parseConsole(text);
    expect(r.begun && r.ended).toBe(true);
    expect(r.uname).toBe('6.1.0-56-cloud-amd64');
    expect(r.modules).toEqual([{ name: 'kmem', rc: 0, message: '' }]);
    expect(r.facts['boot']).toEqual({ '/sys/devices/system/memory/block_size_bytes': '8000000\n', '/sys/x': { error: 'ENOENT' } });
    expect(r.links['boot']?.['/sys/bus/dax/devices/dax0.0/driver']).toBe('../../../bus/dax/drivers/device_dax');
    expect(r.has['boot']).toEqual(['/sys/bus/dax/drivers/kmem']);
    expect(r.results.get(1)).toEqual({ kind: 'error', stage: 'write', errno: 'EINVAL' });
    expect(r.klog.get(1)?.map(stripTimestamp)).toEqual(['Fallback order for Node 1: 1 0']);
  });

  it('a guest that died before /init shows as not begun', () => {
    expect(parseConsole('Kernel panic - not syncing').begun).toBe(false);
  });
});
