import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { scanAccessLine } from '../../src/log/accessLine.js';
import { parseEvent } from '../../src/log/parse.js';
import { writeEvent } from '../../src/log/writer.js';
import type { AccessEvent } from '../../src/log/programEvents.js';

/** What the reader makes of a line without the scanner: JSON.parse, then parseEvent (null: refused). */
function slow(line: string): unknown {
  try {
    return parseEvent(JSON.parse(line));
  } catch {
    return null;
  }
}

const handle = fc.oneof({ arbitrary: fc.constantFrom('p1', 'p2', 'm1', 'm22'), weight: 4 }, fc.string({ minLength: 1, maxLength: 6 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }));
const word = fc.oneof(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, (1n << 52n) - 8n, 1n << 52n, 1n << 62n, (1n << 62n) + 8n, (1n << 64n) - 1n));
const access = fc.record({
  type: fc.constantFrom('access' as const, 'procmem' as const),
  pid: handle,
  map: handle,
  offset: word.map((w) => w - (w % 8n)),
  op: fc.constantFrom('read' as const, 'write' as const),
  value: word,
  seq: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
}).map(({ value, seq, ...e }): AccessEvent => {
  const ev = { ...e, value: e.op === 'write' ? value : null };
  return seq === undefined ? ev : { ...ev, seq };
});

/** A line changed at one place: a character replaced, inserted or dropped, from the JSON's own alphabet mostly. */
const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('replace', 'insert', 'drop'), c: fc.oneof(fc.constantFrom('"', '\\', ',', ':', '}', ' ', '0', '8', 'x', 'X', 'f', 'F', 'g', '-', '.', 'e', '1'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });

function applyEdit(line: string, e: { at: number; kind: string; c: string }): string {
  const at = e.at % (line.length + 1);
  if (e.kind === 'insert') return line.slice(0, at) + e.c + line.slice(at);
  if (e.kind === 'drop') return line.slice(0, at) + line.slice(at + 1);
  return line.slice(0, at) + e.c + line.slice(at + 1);
}

describe('scanAccessLine, the reader\'s JSON-free route for access/procmem lines', () => {
  test.prop([access], { numRuns: 3000, seed: 21 })('takes every line the writer prints for a valid event whose handles are printable ASCII, and builds that event', (e) => {
    const line = writeEvent(e);
    const printable = /^[\x20-\x7e]*$/.test(e.pid + e.map) && !/["\\]/.test(e.pid + e.map);
    const inBounds = e.offset <= 1n << 62n;
    const scanned = scanAccessLine(line);
    if (printable && inBounds) expect(scanned).toEqual(e);
    // Whatever it takes, the schemas take and build the same.
    if (scanned !== null) expect(slow(line)).toEqual(scanned);
    else expect(printable && inBounds).toBe(false);
  });

  test.prop([access, fc.array(edit, { minLength: 1, maxLength: 3 })], { numRuns: 6000, seed: 22 })('takes a changed line only when JSON.parse and the schemas take it and build the same event', (e, edits) => {
    const line = edits.reduce(applyEdit, writeEvent(e));
    const scanned = scanAccessLine(line);
    if (scanned !== null) expect(slow(line)).toEqual(scanned);
  });

  it('leaves every other shape to JSON.parse: whitespace, another key order, a result, decimal numbers, escapes', () => {
    const refused = [
      '{"seq":1, "type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read"}',
      '{"type":"access","seq":1,"pid":"p1","map":"m1","offset":"0x8","op":"read"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read","result":{"ok":true,"value":"0x0"}}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"8","op":"read"}',
      '{"seq":1,"type":"access","pid":"p\\u0031","map":"m1","offset":"0x8","op":"read"}',
      '{"seq":1.0,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read"}',
      '{"seq":01,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read"} ',
    ];
    for (const line of refused) expect(scanAccessLine(line), line).toBeNull();
    // Each of them is still a valid event (but the seq with a leading zero, which JSON refuses): the reader's long route takes it.
    expect(refused.filter((l) => slow(l) === null)).toEqual([refused[6]]);
  });

  it('refuses what the schema refuses: an unaligned offset, one past 2^62, a write without value, a read with one, 17 digits, an empty handle, a seq past 2^53', () => {
    const bad = [
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x9","op":"read"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x4000000000000008","op":"read"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"write"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read","value":"0x1"}',
      '{"seq":1,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"write","value":"0x10000000000000000"}',
      '{"seq":1,"type":"access","pid":"","map":"m1","offset":"0x8","op":"read"}',
      '{"seq":9007199254740993,"type":"access","pid":"p1","map":"m1","offset":"0x8","op":"read"}',
    ];
    for (const line of bad) {
      expect(scanAccessLine(line), line).toBeNull();
      expect(slow(line), line).toBeNull();
    }
  });

  it('reads the handles of each line, whatever the line before named (handles of one length, of another)', () => {
    const pids = ['p1', 'p2', 'p1', 'p10', 'p1', 'q1'];
    const got = pids.map((pid, i) => scanAccessLine(`{"seq":${i + 1},"type":"access","pid":"${pid}","map":"m${pid}","offset":"0x8","op":"read"}`));
    expect(got.map((e) => e?.pid)).toEqual(pids);
    expect(got.map((e) => e?.map)).toEqual(pids.map((p) => `m${p}`));
  });

  it('reads a procmem write and a read with a longer handle', () => {
    const a = scanAccessLine('{"seq":1,"type":"access","pid":"p1","map":"mapping","offset":"0x8","op":"read"}');
    const b = scanAccessLine('{"seq":2,"type":"procmem","pid":"p1","map":"mapping","offset":"0x10","op":"write","value":"0x2a"}');
    expect(a?.map).toBe('mapping');
    expect(b).toEqual({ seq: 2, type: 'procmem', pid: 'p1', map: 'mapping', offset: 16n, op: 'write', value: 42n });
  });
});
