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
 *
 * One regular expression: V8's compiled matcher reads the line faster than
 * a loop of charCodeAt calls does.
 */
import { MAX_PROGRAM_LENGTH, type AccessEvent } from './programEvents.js';

/**
 * The writer's shape: [seq], type, pid, map, offset digits, value digits (a
 * write) or none (a read). No capturing group: a match then builds no array
 * and no substrings, and the fields are read from their known places below.
 */
const ACCESS_LINE =
  /^\{(?:"seq":[1-9][0-9]{0,15},)?"type":"(?:access|procmem)","pid":"[ !#-[\]-~]+","map":"[ !#-[\]-~]+","offset":"0x[0-9a-fA-F]{1,16}","op":"(?:read|write","value":"0x[0-9a-fA-F]{1,16})"\}$/;

/** The value of a hex digit's character code (the expression checked it is one). */
function hexDigit(c: number): number {
  return c < 58 ? c - 48 : (c | 32) - 87;
}

/** Hex digits line[from, to) (1 to 16, checked by the expression) as a bigint: summed as a double up to 13 digits (exact), by BigInt beyond. */
function hexDigits(line: string, from: number, to: number): bigint {
  if (to - from > 13) return BigInt(`0x${line.slice(from, to)}`);
  let n = 0;
  for (let i = from; i < to; i++) n = n * 16 + hexDigit(line.charCodeAt(i));
  return BigInt(n);
}

/**
 * The handle at line[from, to): the one before when it is the same text (a
 * program names the same process and mapping on every line), so a run of
 * accesses makes no string per line.
 */
class Handle {
  private last = '';

  at(line: string, from: number, to: number): string {
    const last = this.last;
    if (last.length === to - from && line.startsWith(last, from)) return last;
    return (this.last = line.slice(from, to));
  }
}

const PIDS = new Handle();
const MAPS = new Handle();

/** Lengths of the fixed parts between fields. */
const SEQ = '{"seq":'.length;
const TYPE = '"type":"'.length;
const PID = '","pid":"'.length;
const MAP = '","map":"'.length;
const OFFSET = '","offset":"0x'.length;
const OP = '","op":"'.length;
const VALUE = 'write","value":"0x'.length;

/**
 * The access or procmem event this line is, when it has exactly the
 * writer's shape and satisfies the schema's rules (a seq up to 2^53 - 1, an
 * 8-aligned offset up to 2^62; a value exactly for a write); otherwise null.
 */
export function scanAccessLine(line: string): AccessEvent | null {
  if (!ACCESS_LINE.test(line)) return null;
  // The expression fixed every delimiter: each field ends at the next quote (handles hold none), or the comma after seq.
  let i = 1;
  let seq = -1;
  if (line.charCodeAt(1) === 34 /* '"' */ && line.charCodeAt(2) === 115 /* 's' */) {
    // Digits summed as a double: exact up to 2^53 - 1, and any larger seq (which the schema refuses) sums to 2^53 or more.
    seq = 0;
    i = SEQ;
    for (let c = line.charCodeAt(i); c !== 44; /* ',' */ c = line.charCodeAt(++i)) seq = seq * 10 + (c - 48);
    if (seq > Number.MAX_SAFE_INTEGER) return null;
    i++;
  }
  const type = line.charCodeAt(i + TYPE) === 97 /* 'a' */ ? 'access' : 'procmem';
  i += TYPE + type.length;
  const pidEnd = line.indexOf('"', i + PID);
  const pid = PIDS.at(line, i + PID, pidEnd);
  const mapEnd = line.indexOf('"', pidEnd + MAP);
  const map = MAPS.at(line, pidEnd + MAP, mapEnd);
  const offEnd = line.indexOf('"', mapEnd + OFFSET);
  // 8-aligned: the last digit's low three bits are clear (tested before any BigInt is made).
  if ((hexDigit(line.charCodeAt(offEnd - 1)) & 7) !== 0) return null;
  const offset = hexDigits(line, mapEnd + OFFSET, offEnd);
  // Up to 13 digits the offset is below 2^52: only a longer one can pass the schema's 2^62.
  if (offEnd - (mapEnd + OFFSET) > 13 && offset > MAX_PROGRAM_LENGTH) return null;
  const write = line.charCodeAt(offEnd + OP) === 119; /* 'w' */
  const op = write ? 'write' : 'read';
  const value = write ? hexDigits(line, offEnd + OP + VALUE, line.length - 2) : null;
  if (seq < 0) return { type, pid, map, offset, op, value };
  return { type, pid, map, offset, op, value, seq };
}
