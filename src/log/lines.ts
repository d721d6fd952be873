/**
 * Lines from a text stream, a chunk's worth at a time, split as readline
 * does (\n, \r\n or a lone \r; a final line needs no newline). Both the
 * reader and the benchmark's parse floor use it, so the floor is measured
 * with the same line reader.
 *
 * Byte chunks are decoded here as strict UTF-8: a log is text, and a byte
 * that is not UTF-8 is bad input, not a U+FFFD to replay silently (a path
 * or value would no longer be the one recorded). String chunks were decoded
 * by whoever made them.
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';

/**
 * A byte that is not UTF-8. The lines before it have been yielded; it is on
 * the next line, `column` bytes in (1-based).
 */
export class InvalidUtf8 extends Error {
  constructor(
    readonly bytes: string,
    readonly column: number,
  ) {
    super(`${bytes}, not UTF-8, at byte ${column} of the line`);
    this.name = 'InvalidUtf8';
  }
}

/** Where a sequence cut off by the chunk's end starts (the buffer's length when none is). */
function incompleteTail(buf: Uint8Array): number {
  const n = buf.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return n - i < need ? i : n;
  }
  return n;
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629), or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  const n = buf.length;
  let i = 0;
  while (i < n) {
    const b = buf[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + len > n) return i;
    const b1 = buf[i + 1] as number;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k < len; k++) if (((buf[i + k] as number) & 0xc0) !== 0x80) return i;
    i += len;
  }
  return -1;
}

function splitLines(text: string): string[] {
  return text.includes('\r') ? text.split(/\r\n|\r|\n/) : text.split('\n');
}

/** The bytes from `at` that fail to decode, for a message: "the byte 0xff", "the bytes 0xe2 0x82". */
export function describeBadBytes(buf: Uint8Array, at: number): string {
  const b = buf[at] as number;
  const want = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
  const shown: string[] = [];
  for (let k = at; k < buf.length && k < at + want; k++) {
    if (k > at && ((buf[k] as number) & 0xc0) !== 0x80) break;
    shown.push(`0x${(buf[k] as number).toString(16).padStart(2, '0')}`);
  }
  return shown.length === 1 ? `the byte ${shown[0] ?? ''}` : `the bytes ${shown.join(' ')}`;
}

export async function* readLines(input: Readable): AsyncGenerator<string[]> {
  let rest = '';
  /** A multi-byte sequence the last chunk cut off, completed by the next. */
  let carry: Buffer | null = null;
  for await (const chunk of input) {
    let piece: string;
    if (typeof chunk === 'string') piece = chunk;
    else {
      const raw = chunk as Buffer;
      const buf: Buffer = carry === null ? raw : Buffer.concat([carry, raw]);
      const cut = incompleteTail(buf);
      // Copied: a stream may reuse the chunk's memory for its next read.
      carry = cut < buf.length ? Buffer.from(buf.subarray(cut)) : null;
      const whole = buf.subarray(0, cut);
      if (!isUtf8(whole)) {
        const at = firstInvalidUtf8(whole);
        const good = whole.subarray(0, at < 0 ? whole.length : at);
        const lines = splitLines(rest + good.toString('utf8'));
        const partial = lines.pop() ?? '';
        if (lines.length > 0) yield lines;
        throw new InvalidUtf8(describeBadBytes(whole, at), Buffer.byteLength(partial) + 1);
      }
      piece = whole.toString('utf8');
    }
    // A chunk ending in \r may be the first half of \r\n: keep it for the next one.
    let end = piece.length;
    if (piece.charCodeAt(end - 1) === 13) end--;
    // Only the new piece is searched: a line longer than a chunk is not rescanned per chunk.
    const cutInPiece = end === 0 ? -1 : Math.max(piece.lastIndexOf('\n', end - 1), piece.lastIndexOf('\r', end - 1));
    if (cutInPiece < 0) {
      rest += piece;
      continue;
    }
    const text = rest + piece;
    const cut = rest.length + cutInPiece;
    rest = text.slice(cut + 1);
    const body = text.slice(0, text.charCodeAt(cut) === 13 || text.charCodeAt(cut - 1) !== 13 ? cut : cut - 1);
    yield splitLines(body);
  }
  if (carry !== null) {
    // The input ended inside a multi-byte sequence.
    const lines = splitLines(rest);
    const partial = lines.pop() ?? '';
    if (lines.length > 0) yield lines;
    throw new InvalidUtf8(`${describeBadBytes(carry, 0)} (the input ends inside the sequence)`, Buffer.byteLength(partial) + 1);
  }
  if (rest.length > 0) yield rest.includes('\r') ? rest.replace(/\r$/, '').split(/\r\n|\r|\n/) : [rest];
}
