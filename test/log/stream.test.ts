import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocatedEvent } from '../../src/log/events.js';
import { LogError } from '../../src/log/errors.js';
import { parseLogText, readLog } from '../../src/log/reader.js';
import { BOOT } from './helpers.js';

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
