import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { LocatedEvent } from '../../src/log/events.js';
import { LogError } from '../../src/log/errors.js';
import { decodeLogBytes, parseLogText, readLog } from '../../src/log/reader.js';
import { BOOT, logError } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'memhp-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SPEC_EXAMPLE = readFileSync(new URL('./spec-example.jsonl', import.meta.url), 'utf8');
const MULTI = [
  '// recorded on qemu',
  SPEC_EXAMPLE.trimEnd(),
  '',
  '{"seq":5,"type":"inject","site":"online_pages","errno":"ENOMEM","nth":2}',
  '{"seq":6,"type":"write","path":"/sys/devices/system/memory/memory18/state","value":"online","result":{"ok":false,"errno":"ENOMEM"}}',
  '{"seq":7,"type":"write","path":"/sys/bus/dax/drivers/kmem/bind","value":"","raw":true}',
  '{"seq":8,"type":"read","path":"/proc/meminfo","result":{"ok":true,"value":"MemTotal: 1 kB\\n"}}',
].join('\r\n');

async function collect(it: AsyncIterable<LocatedEvent>): Promise<LocatedEvent[]> {
  const out: LocatedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('readLog (streaming)', () => {
  it('gives the same events, lines included, as parseLogText on a multi-line file', async () => {
    const p = file('multi.jsonl', MULTI);
    const streamed = await collect(readLog(p));
    expect(streamed).toStrictEqual(parseLogText(MULTI, p));
    expect(streamed.map((e) => e.at.line)).toEqual([2, 7, 8, 9, 10, 12, 13, 14, 15]);
  });

  it('reads a stream in small chunks the same way', async () => {
    const chunks = MULTI.match(/[\s\S]{1,7}/g) ?? [];
    const streamed = await collect(readLog(Readable.from(chunks), 'stdin'));
    expect(streamed).toStrictEqual(parseLogText(MULTI, 'stdin'));
  });

  it('yields events before the bad line, then throws a LogError at it', async () => {
    const p = file('bad.jsonl', `${BOOT}\n{"type":"read","path":"/x"}\n{"type":"read","path":"/x","bogus":1}\n`);
    const seen: number[] = [];
    const err = await (async () => {
      try {
        for await (const e of readLog(p, 'bad.jsonl')) seen.push(e.at.line);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(seen).toEqual([1, 2]);
    expect(err).toBeInstanceOf(LogError);
    expect(err).toMatchObject({ file: 'bad.jsonl', line: 3, field: 'bogus' });
  });

  it('a missing file is a LogError for the file', async () => {
    const err = await collect(readLog(join(dir, 'nope.jsonl'), 'nope.jsonl')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogError);
    expect((err as LogError).message).toMatch(/^nope\.jsonl: expected a readable log file, got ENOENT/);
  });

  it('an empty file and a truncated last event are LogErrors', async () => {
    await expect(collect(readLog(file('empty.jsonl', '')))).rejects.toMatchObject({ line: 0, expected: 'a log whose first event is a "boot" event' });
    await expect(collect(readLog(file('cut.jsonl', `${BOOT}\n{"type":"read",`)))).rejects.toMatchObject({ line: 2, field: null });
  });
});

describe('readLog on a directory', () => {
  it('is a LogError, not a raw EISDIR', async () => {
    const err = await collect(readLog(tmpdir(), 'tmp')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogError);
    expect((err as LogError).message).toMatch(/^tmp: expected a readable log file, got EISDIR/);
  });
});

// Issue 9, item 3: a byte that is not UTF-8 was decoded to U+FFFD and replayed as if recorded.
describe('readLog: strict UTF-8', () => {
  const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  const bad: Array<[string, Buffer, number, string]> = [
    ['a lone 0xff in a path', bytes(`${BOOT}\n{"type":"read","path":"/x`, [0xff], '"}\n'), 2, 'the byte 0xff, not UTF-8, at byte 26 of the line'],
    ['a truncated 3-byte sequence', bytes(`${BOOT}\n{"type":"write","path":"/x","value":"`, [0xe2, 0x82], '"}\n'), 2, 'the bytes 0xe2 0x82, not UTF-8'],
    ['an overlong encoding of "/"', bytes(`${BOOT}\n\n{"type":"read","path":"`, [0xc0, 0xaf], '"}\n'), 3, 'the byte 0xc0, not UTF-8, at byte 24'],
    ['an encoded surrogate', bytes(`${BOOT}\n{"type":"read","path":"/`, [0xed, 0xa0, 0x80], '"}\n'), 2, 'the bytes 0xed 0xa0 0x80, not UTF-8, at byte 25'],
    ['input ending inside a sequence', bytes(`${BOOT}\n{"type":"read","path":"/x"} `, [0xf0, 0x9f]), 2, 'the bytes 0xf0 0x9f (the input ends inside the sequence), not UTF-8, at byte 29'],
  ];

  it.each(bad)('%s is a LogError naming the line and the byte (file and stream, any chunking)', async (_name, data, line, got) => {
    const p = join(dir, 'utf8.jsonl');
    writeFileSync(p, data);
    const sources = [() => readLog(p, 'u.jsonl'), () => readLog(Readable.from([data]), 'u.jsonl'), () => readLog(Readable.from([...data].map((b) => Buffer.from([b]))), 'u.jsonl')];
    for (const source of sources) {
      const err = await collect(source()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LogError);
      expect(err).toMatchObject({ file: 'u.jsonl', line, field: null, expected: 'UTF-8 text (a log is JSON Lines)' });
      expect((err as LogError).got).toContain(got);
    }
    // Read whole (saved fuzz failures, memhp kernel diff): the same error.
    let whole: unknown = null;
    try {
      decodeLogBytes(data, 'u.jsonl');
    } catch (e) {
      whole = e;
    }
    expect(whole).toBeInstanceOf(LogError);
    expect(whole).toMatchObject({ file: 'u.jsonl', line, field: null, expected: 'UTF-8 text (a log is JSON Lines)' });
    expect((whole as LogError).got).toContain(got.replace(' (the input ends inside the sequence)', ''));
  });

  it('multi-byte characters split across chunks still decode', async () => {
    const text = `${BOOT}\n{"type":"write","path":"/x","value":"é€😀"}\n`;
    const data = Buffer.from(text);
    const streamed = await collect(readLog(Readable.from([...data].map((b) => Buffer.from([b]))), 'u.jsonl'));
    expect(streamed).toStrictEqual(parseLogText(text, 'u.jsonl'));
  });
});

// Issue 9, item 4: an unfinished event re-parsed its whole text on every continuation line.
describe('LogParser: continuation lines', () => {
  it('parses an event spread over 40,000 lines once, and names the line an unfinished one is still open at', () => {
    const lines = [BOOT, '{"type":"write","path":"/x","value":"1","result":{"ok":true,"log":['];
    for (let i = 0; i < 40_000; i++) lines.push('  "kernel line",');
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const err = logError(lines.join('\n'));
      // The boot line, each attempt at line 2, and one parse at the end to say why: not one per line.
      expect(parse.mock.calls.length).toBeLessThan(10);
      expect(err).toMatchObject({ line: 2, field: null });
      expect(err.got).toBe('malformed JSON (Unexpected end of JSON input: still open at line 40002)');
      parse.mockClear();
      const closed = [...lines.slice(0, -1), '  "last"]}}'];
      expect(parseLogText(closed.join('\n'), 'x.jsonl')[1]?.event.result?.log).toHaveLength(40_000);
      expect(parse.mock.calls.length).toBeLessThan(10);
    } finally {
      parse.mockRestore();
    }
  });

  it('names the line and column of an error inside a multi-line event', () => {
    const err = logError(`${BOOT}\n{"type":"read",\n  "path": "/x"\n  "seq": 1}\n`);
    expect(err).toMatchObject({ line: 2, field: null });
    expect(err.got).toBe("malformed JSON (Expected ',' or '}' after property value in JSON at line 4, column 3)");
  });
});
