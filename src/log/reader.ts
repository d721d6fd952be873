/**
 * The event-log reader (SPEC §3): JSON Lines, blank lines and `//` comments
 * skipped, the first event a boot and no other boot, seq increasing.
 *
 * An event may continue on following lines that start with whitespace while
 * its JSON is still incomplete: SPEC §3 itself shows its boot example wrapped
 * that way, and a user pasting it should not get a syntax error. A complete
 * line is yielded at once, so a live stream is never held back a line.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { LocatedEvent, LogEvent } from './events.js';
import { FieldProblem, LogError } from './errors.js';
import { parseEvent } from './parse.js';
import { ProcessHandles } from './programParse.js';
import { readLines } from './lines.js';

type JsonResult = { ok: true; value: unknown } | { ok: false; why: string };

function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Line-at-a-time log parser shared by the sync and the streaming reader.
 * Feed lines in order with push(); call finish() at the end of input.
 */
export class LogParser {
  private pending: { line: number; text: string; why: string } | null = null;
  private lineNo = 0;
  private bootLine = 0;
  private readonly processes = new ProcessHandles();
  private lastSeq: { seq: number; line: number } | null = null;

  constructor(readonly file: string) {}

  /** The events this line completes (none or one). */
  push(rawLine: string): LocatedEvent[] {
    const out: LocatedEvent[] = [];
    this.pushInto(rawLine, out);
    return out;
  }

  /** Like push, appending to `out` (no array per line on the streaming path). */
  pushInto(rawLine: string, out: LocatedEvent[]): void {
    // The common line — a complete one-line event with no pending continuation — parsed straight away.
    if (this.pending === null && this.lineNo > 0 && rawLine.charCodeAt(0) === 123 /* '{' */) {
      this.lineNo += 1;
      let value: unknown;
      try {
        value = JSON.parse(rawLine);
      } catch {
        this.lineNo -= 1;
        out.push(...this.pushSlow(rawLine));
        return;
      }
      out.push(this.accept(value, this.lineNo));
      return;
    }
    out.push(...this.pushSlow(rawLine));
  }

  private pushSlow(rawLine: string): LocatedEvent[] {
    this.lineNo += 1;
    const line = this.lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
    const trimmed = line.trim();
    const skip = trimmed === '' || trimmed.startsWith('//');
    if (this.pending !== null) {
      if (skip) return [];
      if (/^\s/.test(line)) {
        const text = `${this.pending.text}\n${line}`;
        const json = parseJson(text);
        if (!json.ok) {
          this.pending = { line: this.pending.line, text, why: json.why };
          return [];
        }
        const at = this.pending.line;
        this.pending = null;
        return [this.accept(json.value, at)];
      }
      this.failPending();
    }
    if (skip) return [];
    const json = parseJson(line);
    if (!json.ok) {
      this.pending = { line: this.lineNo, text: line, why: json.why };
      return [];
    }
    return [this.accept(json.value, this.lineNo)];
  }

  /** Checks what only the end of input can tell: an unfinished event, a log without boot. */
  finish(): void {
    if (this.pending !== null) this.failPending();
    if (this.bootLine === 0)
      throw new LogError({ file: this.file, line: 0 }, null, 'a log whose first event is a "boot" event', 'no events');
  }

  private failPending(): never {
    const p = this.pending ?? { line: this.lineNo, text: '', why: 'unfinished' };
    this.pending = null;
    // V8 counts from 0 over the whole text; on a one-line event a 1-based column is what an editor shows.
    const why = p.text.includes('\n') ? p.why : p.why.replace(/at position (\d+)/, (_m, n: string) => `at column ${Number(n) + 1}`);
    throw new LogError({ file: this.file, line: p.line }, null, 'a JSON object (one event a line)', `malformed JSON (${why})`);
  }

  private accept(value: unknown, line: number): LocatedEvent {
    const at = { file: this.file, line };
    let event: LogEvent;
    try {
      event = parseEvent(value);
    } catch (e) {
      if (e instanceof FieldProblem) throw LogError.fromProblem(at, e);
      throw e;
    }
    if (this.bootLine === 0 && event.type !== 'boot')
      throw new LogError(at, 'type', 'a "boot" event first (the machine to replay on)', JSON.stringify(event.type));
    if (this.bootLine !== 0 && event.type === 'boot')
      throw new LogError(at, 'type', `a step event (the log already booted at line ${this.bootLine})`, '"boot"');
    if (event.type === 'boot') this.bootLine = line;
    this.processes.check(event, at);
    if (event.seq !== undefined) {
      if (this.lastSeq !== null && event.seq <= this.lastSeq.seq)
        throw new LogError(at, 'seq', `a seq above ${this.lastSeq.seq} (line ${this.lastSeq.line})`, String(event.seq));
      this.lastSeq = { seq: event.seq, line };
    }
    return { event, at };
  }
}

/**
 * Parse a whole log held in memory (tests, the embedded default machine).
 * @example parseLogText('{"type":"boot","memoryBlockSize":"128M","ram":[{"start":0,"size":"4G","node":0}]}', 'x.jsonl')
 */
export function parseLogText(text: string, file: string): LocatedEvent[] {
  const parser = new LogParser(file);
  const out: LocatedEvent[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  // As readline does: a final newline ends the last line, it starts no other.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) out.push(...parser.push(line));
  parser.finish();
  return out;
}

function unreadable(file: string, e: unknown): LogError {
  const why = e instanceof Error ? e.message : String(e);
  return new LogError({ file, line: 0 }, null, 'a readable log file', why);
}

/**
 * Stream a log from a file path or a readable stream, one event at a time.
 * @param source a path, or a stream of UTF-8 text (process.stdin)
 * @param file the name messages use; defaults to the path
 * @example for await (const { event, at } of readLog('examples/walkthrough.jsonl')) ...
 */
export async function* readLog(source: string | Readable, file?: string): AsyncGenerator<LocatedEvent<LogEvent>> {
  for await (const batch of readLogBatches(source, file)) yield* batch;
}

/**
 * Stream a log in batches (one per chunk read): the replay loop then pays
 * one await per chunk rather than one per event.
 */
export async function* readLogBatches(source: string | Readable, file?: string): AsyncGenerator<Array<LocatedEvent<LogEvent>>> {
  const name = file ?? (typeof source === 'string' ? source : '<stream>');
  let input: Readable;
  let fh: Awaited<ReturnType<typeof open>> | null = null;
  if (typeof source === 'string') {
    // Opening first turns a missing file into a LogError before any line is read.
    try {
      fh = await open(source, 'r');
      input = fh.createReadStream({ encoding: 'utf8', highWaterMark: 1 << 16, autoClose: false });
    } catch (e) {
      await fh?.close();
      throw unreadable(name, e);
    }
  } else {
    input = source;
  }
  const parser = new LogParser(name);
  try {
    for await (const lines of readLines(input)) {
      const out: LocatedEvent[] = [];
      try {
        for (const line of lines) parser.pushInto(line, out);
      } catch (e) {
        // The events before a bad line still come out first, as they would one at a time.
        if (out.length > 0) yield out;
        throw e;
      }
      if (out.length > 0) yield out;
    }
  } catch (e) {
    // I/O failures (EISDIR, EIO) are bad input; anything else is a bug and keeps its stack.
    if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string') throw unreadable(name, e);
    throw e;
  } finally {
    input.destroy();
    await fh?.close();
  }
  parser.finish();
}
