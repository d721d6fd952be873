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
import { scanAccessLine } from './accessLine.js';
import { ProcessHandles } from './programParse.js';
import { describeBadBytes, firstInvalidUtf8, InvalidUtf8, readLines } from './lines.js';

type JsonResult = { ok: true; value: unknown } | { ok: false; why: string };

function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * An event still open after its first line: its lines, and how many brackets
 * are open, counted as each line arrives. JSON.parse runs only once the count
 * is back to zero (or a string is left open at a line's end, which JSON can
 * never continue), so an event spread over n lines costs O(n), not O(n^2).
 */
class Pending {
  readonly lines: string[] = [];
  private depth = 0;
  /** A string was open at the end of a line: JSON strings cannot hold a newline, so nothing can fix it. */
  private broken = false;

  constructor(readonly line: number) {}

  /** Adds a line; true when the event is closed (or can never be), so it is time to parse it. */
  add(text: string): boolean {
    this.lines.push(text);
    let inString = false;
    let escape = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (escape) escape = false;
        else if (c === 92 /* \ */) escape = true;
        else if (c === 34 /* " */) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 123 /* { */ || c === 91 /* [ */) this.depth++;
      else if (c === 125 /* } */ || c === 93 /* ] */) this.depth--;
    }
    if (inString) this.broken = true;
    return this.broken || this.depth <= 0;
  }

  get text(): string {
    return this.lines.join('\n');
  }

  /** V8's "at position N" in the joined text as the log's own line and column. */
  where(why: string): string {
    return why.replace(/ at position (\d+)/, (_m, n: string) => {
      let pos = Number(n);
      let k = 0;
      while (k < this.lines.length - 1 && pos > (this.lines[k] as string).length) {
        pos -= (this.lines[k] as string).length + 1;
        k++;
      }
      return this.lines.length === 1 ? ` at column ${pos + 1}` : ` at line ${this.line + k}, column ${pos + 1}`;
    });
  }
}

/**
 * Line-at-a-time log parser shared by the sync and the streaming reader.
 * Feed lines in order with push(); call finish() at the end of input.
 */
export class LogParser {
  private pending: Pending | null = null;
  private lineNo = 0;
  private bootLine = 0;
  private readonly processes = new ProcessHandles();
  /** The last seq seen and its line (0: none yet): two numbers, not an object per event. */
  private lastSeq = 0;
  private lastSeqLine = 0;
  /** Lines the access scanner has read so far (pushInto). */
  private scanHits = 0;

  constructor(readonly file: string) {}

  /** How many lines have been pushed (the next one is line linesRead + 1). */
  get linesRead(): number {
    return this.lineNo;
  }

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
      // A program log's commonest line, in the writer's exact shape, needs no JSON.parse (accessLine.ts). A log
      // where the scanner has found nothing yet (a sysfs log) tries it on one line in 256 only: a failed match
      // costs about a tenth of a JSON.parse.
      if (this.scanHits > 0 || (this.lineNo & 255) === 2) {
        const access = scanAccessLine(rawLine);
        if (access !== null) {
          this.scanHits++;
          out.push(this.acceptEvent(access, this.lineNo));
          return;
        }
      }
      let value: unknown;
      try {
        value = JSON.parse(rawLine);
      } catch {
        this.lineNo -= 1;
        this.pushSlow(rawLine, out);
        return;
      }
      out.push(this.accept(value, this.lineNo));
      return;
    }
    this.pushSlow(rawLine, out);
  }

  private pushSlow(rawLine: string, out: LocatedEvent[]): void {
    this.lineNo += 1;
    const line = this.lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
    const trimmed = line.trim();
    const skip = trimmed === '' || trimmed.startsWith('//');
    if (this.pending !== null) {
      if (skip) return;
      if (/^\s/.test(line)) {
        if (this.pending.add(line)) this.complete(out);
        return;
      }
      this.failPending();
    }
    if (skip) return;
    const json = parseJson(line);
    if (json.ok) {
      out.push(this.accept(json.value, this.lineNo));
      return;
    }
    // Not complete on its own line: it may continue on the indented lines that follow.
    this.pending = new Pending(this.lineNo);
    if (this.pending.add(line)) this.failPending(json.why);
  }

  /** The pending event is closed: it parses now, or never will. */
  private complete(out: LocatedEvent[]): void {
    const p = this.pending as Pending;
    const json = parseJson(p.text);
    if (!json.ok) this.failPending(json.why);
    this.pending = null;
    out.push(this.accept(json.value, p.line));
  }

  /** Checks what only the end of input can tell: an unfinished event, a log without boot. */
  finish(): void {
    if (this.pending !== null) this.failPending();
    if (this.bootLine === 0)
      throw new LogError({ file: this.file, line: 0 }, null, 'a log whose first event is a "boot" event', 'no events');
  }

  /** The pending event is malformed: `why` from JSON.parse, or found by parsing it now (once). */
  private failPending(why?: string): never {
    const p = this.pending ?? new Pending(this.lineNo);
    this.pending = null;
    const reason = why ?? (parseJson(p.text) as { ok: false; why: string }).why;
    const last = p.line + p.lines.length - 1;
    const unfinished = reason.startsWith('Unexpected end of JSON input') && last > p.line ? `${reason}: still open at line ${last}` : p.where(reason);
    throw new LogError({ file: this.file, line: p.line }, null, 'a JSON object (one event a line)', `malformed JSON (${unfinished})`);
  }

  private accept(value: unknown, line: number): LocatedEvent {
    let event: LogEvent;
    try {
      event = parseEvent(value);
    } catch (e) {
      if (e instanceof FieldProblem) throw LogError.fromProblem({ file: this.file, line }, e);
      throw e;
    }
    return this.acceptEvent(event, line);
  }

  /** The rules across events (boot first and once, live handles, seq increasing) for a valid event. */
  private acceptEvent(event: LogEvent, line: number): LocatedEvent {
    const at = { file: this.file, line };
    if (this.bootLine === 0 && event.type !== 'boot')
      throw new LogError(at, 'type', 'a "boot" event first (the machine to replay on)', JSON.stringify(event.type));
    if (this.bootLine !== 0 && event.type === 'boot')
      throw new LogError(at, 'type', `a step event (the log already booted at line ${this.bootLine})`, '"boot"');
    if (event.type === 'boot') this.bootLine = line;
    this.processes.check(event, at);
    if (event.seq !== undefined) {
      // A seq is at least 1 (the schemas say so), so lastSeqLine 0 means none seen yet.
      if (this.lastSeqLine !== 0 && event.seq <= this.lastSeq)
        throw new LogError(at, 'seq', `a seq above ${this.lastSeq} (line ${this.lastSeqLine})`, String(event.seq));
      this.lastSeq = event.seq;
      this.lastSeqLine = line;
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

/**
 * A log read whole as bytes (saved failures, `memhp kernel diff`), decoded as
 * strict UTF-8 like the streaming reader: a bad byte is a LogError at its line.
 */
export function decodeLogBytes(bytes: Uint8Array, file: string): string {
  const at = firstInvalidUtf8(bytes);
  if (at < 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let line = 1;
  let start = 0;
  for (let i = 0; i < at; i++) {
    const b = bytes[i];
    // \r\n, \r and \n each end a line, as parseLogText splits them.
    if (b === 10 || (b === 13 && bytes[i + 1] !== 10)) {
      line++;
      start = i + 1;
    }
  }
  throw new LogError({ file, line }, null, 'UTF-8 text (a log is JSON Lines)', new InvalidUtf8(describeBadBytes(bytes, at), at - start + 1).message);
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
      // Bytes, not text: readLines decodes them as strict UTF-8 and names the line of a bad byte.
      input = fh.createReadStream({ highWaterMark: 1 << 16, autoClose: false });
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
    if (e instanceof InvalidUtf8)
      throw new LogError({ file: name, line: parser.linesRead + 1 }, null, 'UTF-8 text (a log is JSON Lines)', e.message);
    // I/O failures (EISDIR, EIO) are bad input; anything else is a bug and keeps its stack.
    if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string') throw unreadable(name, e);
    throw e;
  } finally {
    input.destroy();
    await fh?.close();
  }
  parser.finish();
}
