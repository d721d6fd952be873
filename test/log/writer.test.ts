import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/reader.js';
import { eventToJson, writeEvent, writeLog } from '../../src/log/writer.js';
import { boot, log, stepEvent } from './arbitraries.js';

const SPEC_EXAMPLE = readFileSync(new URL('./spec-example.jsonl', import.meta.url), 'utf8');
const events = (text: string) => parseLogText(text, 'x.jsonl').map((e) => e.event);

describe('writer', () => {
  it('round trip: read(write(log)) == log', () => {
    fc.assert(
      fc.property(log, (evs) => {
        // structuredClone: fast-check builds null-prototype records, the reader plain objects.
        expect(events(writeLog(evs))).toStrictEqual(structuredClone(evs));
      }),
      { numRuns: 300 },
    );
  });

  it('round trip of single step events after a boot, and writing is a fixed point', () => {
    fc.assert(
      fc.property(boot, stepEvent, (b, s) => {
        const text = writeLog([b, s]);
        const back = events(text);
        expect(back).toStrictEqual(structuredClone([b, s]));
        expect(writeLog(back)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('writes one line per event, keys in a fixed order, numbers as lower-case hex', () => {
    const text = writeLog(parseLogText(SPEC_EXAMPLE, 'spec.jsonl'));
    const lines = text.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[5]).toBe('');
    expect(lines[0]).toBe(
      '{"type":"boot","kernel":"6.8","config":{"memoryHotremove":false,"autoOnline":"offline","memmapOnMemory":false,"structPageSize":64,"pageblockOrder":9,"movableNode":false,"physmemBits":46,"devDaxKmem":true},' +
        '"memoryBlockSize":"0x8000000","ram":[{"start":"0x0","size":"0x80000000","node":0},{"start":"0x100000000","size":"0x80000000","node":0}],"iomem":[],"unmovable":[],"reservedKiB":0,' +
        '"daxRegions":[{"id":0,"kind":"pmem","name":"Persistent Memory (legacy)","start":"0x80000000","size":"0x20000000","targetNode":0,"align":"0x200000",' +
        '"namespace":{"name":"namespace0.0","size":"0x200000"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"0x1fe00000","align":"0x200000","driver":"device_dax","memmapOnMemory":false}]}]}',
    );
    expect(lines.slice(1, 5)).toEqual(SPEC_EXAMPLE.split('\n').slice(5, 9));
  });

  it('records a given outcome as result, after every other key', () => {
    const ev: LogEvent = { type: 'write', seq: 3, path: '/sys/x', value: '', raw: true };
    expect(writeEvent(ev, { ok: false, errno: 'EBUSY', log: ['kmem dax0.0: busy'] })).toBe(
      '{"seq":3,"type":"write","path":"/sys/x","value":"","raw":true,"result":{"ok":false,"errno":"EBUSY","log":["kmem dax0.0: busy"]}}',
    );
    expect(Object.keys(eventToJson({ type: 'inject', site: 'add_memory', errno: 'ENOMEM', nth: 2, result: { ok: true } }))).toEqual([
      'type',
      'site',
      'errno',
      'nth',
      'result',
    ]);
  });

  it('writes iomem entries up to the top of the address space with "end"', () => {
    const text = `${writeLog(events(SPEC_EXAMPLE).slice(0, 1))}`.replace(
      '"iomem":[]',
      '"iomem":[{"start":"0xffffffff00000000","end":"0xffffffffffffffff","name":"top"}]',
    );
    const [b] = events(text);
    expect(writeEvent(b as LogEvent)).toContain('{"start":"0xffffffff00000000","end":"0xffffffffffffffff","name":"top","busy":false,"desc":0}');
  });
});
