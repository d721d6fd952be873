import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/kernel/config.js';
import type { BootEvent } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/reader.js';
import { BOOT, expectLogError, logError } from './helpers.js';

const SPEC_EXAMPLE = readFileSync(new URL('./spec-example.jsonl', import.meta.url), 'utf8');

describe('parseLogText: good logs', () => {
  it('parses the SPEC §3 example verbatim (boot wrapped over indented lines)', () => {
    const events = parseLogText(SPEC_EXAMPLE, 'spec.jsonl');
    expect(events.map((e) => [e.at.line, e.event.type, e.event.seq])).toEqual([
      [1, 'boot', undefined],
      [6, 'write', 1],
      [7, 'write', 2],
      [8, 'write', 3],
      [9, 'read', 4],
    ]);
    const boot = events[0]?.event as BootEvent;
    expect(boot).toStrictEqual({
      type: 'boot',
      kernel: '6.8',
      config: { ...DEFAULT_CONFIG, memoryHotremove: false, autoOnline: 'offline', memmapOnMemory: false },
      memoryBlockSize: 0x8000000n,
      ram: [
        { start: 0n, size: 0x80000000n, node: 0 },
        { start: 0x100000000n, size: 0x80000000n, node: 0 },
      ],
      iomem: [],
      unmovable: [],
      reservedKiB: 0,
      blockDevices: [],
      swapAreas: [],
      daxRegions: [
        {
          id: 0,
          kind: 'pmem',
          name: 'Persistent Memory (legacy)',
          start: 0x80000000n,
          size: 0x20000000n,
          targetNode: 0,
          align: 0x200000n,
          namespace: { name: 'namespace0.0', size: 0x200000n },
          map: 'dev',
          devices: [
            { name: 'dax0.0', ranges: [{ start: 0x80200000n, size: 0x1fe00000n }], align: 0x200000n, driver: 'device_dax', memmapOnMemory: false },
          ],
        },
      ],
      variant: null,
      patches: [],
    });
    expect(events[1]?.event).toStrictEqual({ type: 'write', seq: 1, path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0', raw: false });
    expect(events[4]?.event).toStrictEqual({ type: 'read', seq: 4, path: '/proc/iomem' });
  });

  it('skips blank lines and // comments, keeps line numbers, accepts CRLF and a BOM', () => {
    const text = `\uFEFF// a comment\r\n${BOOT}\r\n\r\n   // indented comment\r\n{"type":"read","path":"/proc/iomem"}\r\n`;
    const events = parseLogText(text, 'x.jsonl');
    expect(events.map((e) => e.at.line)).toEqual([2, 5]);
  });

  it('fills defaults: kernel, config, raw, nth, device driver "auto", cxl memmap, names, desc', () => {
    const boot = JSON.stringify({
      type: 'boot',
      memoryBlockSize: 0x8000000,
      ram: [{ start: 0, size: '4G', node: 0 }],
      iomem: [
        { start: '0x100000000', size: '1G', name: 'Soft Reserved' },
        { start: '0x140000000', end: '0x17fffffff', name: 'CXL Window 0' },
        { start: '0x180000000', size: '1G', name: 'Persistent Memory (legacy)', busy: true },
        { start: '0x1000', size: '4K', name: 'Reserved' },
        { start: '0x2000', size: '4K', name: 'Kernel code', desc: 1 },
      ],
      daxRegions: [
        { id: 0, kind: 'hmem', start: '0x100000000', size: '1G', targetNode: 1, devices: [{ name: 'dax0.0', start: '0x100000000', size: '1G' }] },
        { id: 1, kind: 'cxl', start: '0x140000000', size: '1G', targetNode: -1, align: '1G', devices: [{ name: 'dax1.0', ranges: [{ start: '0x140000000', size: '1G' }], driver: null }] },
      ],
    });
    const text = `${boot}\n{"type":"write","path":"/a","value":"x"}\n{"type":"inject","site":"add_memory","errno":"EBUSY"}\n`;
    const [b, w, j] = parseLogText(text, 'x.jsonl').map((e) => e.event);
    const be = b as BootEvent;
    expect(be.kernel).toBe('6.12');
    expect(be.config).toStrictEqual(DEFAULT_CONFIG);
    expect(be.variant).toBeNull();
    expect(be.iomem.map((e) => [e.desc, e.busy, e.end])).toEqual([
      [8, false, 0x13fffffffn],
      [9, false, 0x17fffffffn],
      [5, true, 0x1bfffffffn],
      [7, false, 0x1fffn],
      [1, false, 0x2fffn],
    ]);
    const [r0, r1] = be.daxRegions;
    expect([r0?.name, r1?.name]).toEqual(['Soft Reserved', 'CXL Window 1']);
    expect(r0?.devices[0]).toMatchObject({ driver: 'auto', memmapOnMemory: false, align: 0x200000n });
    expect(r1?.devices[0]).toMatchObject({ driver: null, memmapOnMemory: true, align: 1n << 30n });
    expect(w).toStrictEqual({ type: 'write', path: '/a', value: 'x', raw: false });
    expect(j).toStrictEqual({ type: 'inject', site: 'add_memory', errno: 'EBUSY', nth: 1 });
  });

  it('parses recorded results', () => {
    const text = `${BOOT}\n{"seq":1,"type":"read","path":"/proc/iomem","result":{"ok":true,"value":"x\\n","log":["a"]}}\n{"seq":2,"type":"write","path":"/a","value":"1","result":{"ok":false,"errno":"EBUSY"}}`;
    const [, r, w] = parseLogText(text, 'x.jsonl').map((e) => e.event);
    expect(r?.result).toStrictEqual({ ok: true, value: 'x\n', log: ['a'] });
    expect(w?.result).toStrictEqual({ ok: false, errno: 'EBUSY' });
  });
});

describe('parseLogText: structural errors', () => {
  it('malformed JSON names the line and column', () => {
    const err = expectLogError(`${BOOT}\n\n{"type":"read", "path":"/x"`, { line: 3, field: null, expected: 'a JSON object' });
    expect(err.got).toMatch(/^malformed JSON/);
    expect(err.message).toContain('column');
  });

  it('an unfinished multi-line event is reported at its first line', () => {
    expectLogError(`${BOOT}\n{"type":"read",\n  "path":"/x"\n{"type":"read","path":"/y"}`, { line: 2, field: null, expected: 'a JSON object' });
  });

  it('a line that is not an object', () => {
    expectLogError(`${BOOT}\n[1,2]`, { line: 2, field: null, expected: 'a JSON object' });
    expectLogError(`${BOOT}\n"read"`, { line: 2, field: null, expected: 'a JSON object' });
  });

  it('unknown and missing event types', () => {
    const err = expectLogError(`${BOOT}\n{"type":"mount","path":"/x"}`, { line: 2, field: 'type', expected: 'one of "boot", "write", "read", "inject"' });
    expect(err.got).toBe('"mount"');
    expectLogError(`${BOOT}\n{"path":"/x"}`, { line: 2, field: 'type', expected: 'an event type' });
  });

  it('the first event must be boot, and only the first', () => {
    expectLogError('// c\n{"type":"read","path":"/proc/iomem"}', { line: 2, field: 'type', expected: 'a "boot" event first' });
    const err = expectLogError(`${BOOT}\n{"type":"read","path":"/x"}\n${BOOT}`, { line: 3, field: 'type', expected: 'line 1' });
    expect(err.got).toBe('"boot"');
  });

  it('an empty log is an error for the whole file', () => {
    const err = logError('// nothing here\n\n');
    expect([err.line, err.field]).toEqual([0, null]);
    expect(err.message).toBe('x.jsonl: expected a log whose first event is a "boot" event, got no events');
  });

  it('seq must be positive and strictly increasing', () => {
    expectLogError(`${BOOT}\n{"seq":0,"type":"read","path":"/x"}`, { line: 2, field: 'seq', expected: 'a positive integer' });
    expectLogError(`${BOOT}\n{"seq":1.5,"type":"read","path":"/x"}`, { line: 2, field: 'seq', expected: 'a positive integer' });
    expectLogError(`${BOOT}\n{"seq":"1","type":"read","path":"/x"}`, { line: 2, field: 'seq', expected: 'a positive integer' });
    const err = expectLogError(`${BOOT}\n{"seq":3,"type":"read","path":"/x"}\n{"type":"read","path":"/x"}\n{"seq":3,"type":"read","path":"/x"}`, {
      line: 4,
      field: 'seq',
      expected: 'a seq above 3 (line 2)',
    });
    expect(err.got).toBe('3');
  });

  it('the message has the documented shape', () => {
    const err = logError(`${BOOT}\n\n{"type":"write","path":42,"value":"x"}`, 'examples/x.jsonl');
    expect(err.message).toBe('examples/x.jsonl:3: field "path": expected a path string ("/sys/...", "/proc/iomem"), got 42');
    expect(err).toMatchObject({ file: 'examples/x.jsonl', line: 3, field: 'path', got: '42' });
  });
});
