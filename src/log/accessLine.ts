/**
 * The commonest line of a program log, a CPU or /proc/PID/mem access as the
 * writer prints it, read without JSON.parse:
 *
 *   {"seq":4,"type":"access","pid":"p1","map":"m1","offset":"0xb0f873e40","op":"write","value":"0x88b07a0d"}
 *
 * JSON.parse builds an object of seven keys and the fast path of parse.ts
 * then reads it back; on a program log, where such lines are most of the
 * file, that was a third of a replayed event's cost. Only this exact shape
 * is taken: the writer's key order (seq optional), no whitespace, handles of
 * printable ASCII without quote or backslash, numbers as "0x" and 1 to 16
 * hex digits, a decimal seq without leading zero, no recorded result. Any
 * other line, valid or not, gets null and goes through JSON.parse and the
 * schemas, which also word every error: this never decides that a line is
 * bad, only that it is this shape (a test holds it to JSON.parse + parseEvent).
 */
import { MAX_PROGRAM_LENGTH, type AccessEvent } from './programEvents.js';

/**
 * The handles met last, reused: a log names few processes and maps, so a
 * handle is mostly matched without a scan, and the same string object keeps
 * its hash for every Map lookup the replay makes with it (a fresh slice per
 * line would hash again each time).
 */
const recent: string[] = [];

/**
 * The handle in the JSON string opening at `i` (printable ASCII without
 * escapes, not empty), or null; `end` is set to its closing quote.
 */
function handleAt(s: string, i: number, end: { at: number }): string | null {
  if (s.charCodeAt(i) !== 34) return null;
  for (let k = 0; k < recent.length; k++) {
    const h = recent[k] as string;
    if (s.charCodeAt(i + 1 + h.length) === 34 && s.startsWith(h, i + 1)) {
      end.at = i + 1 + h.length;
      return h;
    }
  }
  let k = i + 1;
  for (;; k++) {
    const c = s.charCodeAt(k);
    if (c === 34) break;
    // NaN past the end fails this too.
    if (!(c >= 0x20 && c <= 0x7e) || c === 92) return null;
  }
  if (k === i + 1) return null;
  const h = s.slice(i + 1, k);
  if (recent.length >= 8) recent.shift();
  recent.push(h);
  end.at = k;
  return h;
}

/**
 * The quoted "0x" and 1 to 16 hex digits opening at `i`, as a bigint, or
 * null; `end` is set to its closing quote. One pass: digits are summed as
 * they are checked (exact as a double up to 13 digits; beyond, BigInt reads
 * them).
 */
function hexAt(s: string, i: number, end: { at: number }): bigint | null {
  if (s.charCodeAt(i) !== 34 || s.charCodeAt(i + 1) !== 48 || (s.charCodeAt(i + 2) | 32) !== 120) return null;
  const last = Math.min(s.length, i + 20);
  let n = 0;
  let k = i + 3;
  for (; k < last; k++) {
    const c = s.charCodeAt(k);
    if (c >= 48 && c <= 57) n = n * 16 + (c - 48);
    else if ((c | 32) >= 97 && (c | 32) <= 102) n = n * 16 + ((c | 32) - 87);
    else break;
  }
  const digits = k - i - 3;
  if (digits === 0 || digits > 16 || s.charCodeAt(k) !== 34) return null;
  end.at = k;
  return digits <= 13 ? BigInt(n) : BigInt(s.slice(i + 1, k));
}

/**
 * The access or procmem event this line is, when it has exactly the
 * writer's shape and satisfies the schema's rules (an 8-aligned offset up to
 * 2^62; a value below 2^64 exactly for a write); otherwise null.
 */
export function scanAccessLine(line: string): AccessEvent | null {
  if (!line.startsWith('{"')) return null;
  let i = 2;
  let seq: number | undefined;
  if (line.startsWith('seq":', i)) {
    i += 5;
    const start = i;
    let n = 0;
    const last = Math.min(line.length, i + 17);
    for (; i < last; i++) {
      const c = line.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    // "0", "01", "" and anything past 2^53 - 1 go the long way (the sum is exact up to there, and above it if it is not).
    if (i === start || i - start > 16 || n > Number.MAX_SAFE_INTEGER || line.charCodeAt(start) === 48 || !line.startsWith(',"', i)) return null;
    seq = n;
    i += 2;
  }
  let type: 'access' | 'procmem';
  if (line.startsWith('type":"access","pid":', i)) {
    type = 'access';
    i += 21;
  } else if (line.startsWith('type":"procmem","pid":', i)) {
    type = 'procmem';
    i += 22;
  } else return null;
  const end = { at: 0 };
  const pid = handleAt(line, i, end);
  if (pid === null || !line.startsWith(',"map":', end.at + 1)) return null;
  i = end.at + 8;
  const map = handleAt(line, i, end);
  if (map === null || !line.startsWith(',"offset":', end.at + 1)) return null;
  i = end.at + 11;
  const offset = hexAt(line, i, end);
  if (offset === null || offset % 8n !== 0n || offset > MAX_PROGRAM_LENGTH) return null;
  i = end.at + 1;
  let value: bigint | null = null;
  let op: 'read' | 'write';
  if (line.startsWith(',"op":"read"}', i)) {
    op = 'read';
    i += 13;
  } else if (line.startsWith(',"op":"write","value":', i)) {
    op = 'write';
    i += 22;
    value = hexAt(line, i, end);
    if (value === null || line.charCodeAt(end.at + 1) !== 125 /* } */) return null;
    i = end.at + 2;
  } else return null;
  if (i !== line.length) return null;
  return seq === undefined ? { type, pid, map, offset, op, value } : { type, pid, map, offset, op, value, seq };
}
