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
import { hexNumber } from '../util/u64.js';

/** The writer's shape: [seq], type, pid, map, offset digits, value digits (a write) or none (a read). */
const ACCESS_LINE =
  /^\{(?:"seq":([1-9][0-9]{0,15}),)?"type":"(access|procmem)","pid":"([ !#-[\]-~]+)","map":"([ !#-[\]-~]+)","offset":"0x([0-9a-fA-F]{1,16})","op":"(?:read|write","value":"0x([0-9a-fA-F]{1,16}))"\}$/;

/** Hex digits (1 to 16, checked by the expression) as a bigint: summed as a double up to 13 digits (exact), by BigInt beyond. */
function hexDigits(s: string): bigint {
  return s.length > 13 ? BigInt(`0x${s}`) : BigInt(hexNumber(s, 0));
}

/**
 * The access or procmem event this line is, when it has exactly the
 * writer's shape and satisfies the schema's rules (a seq up to 2^53 - 1, an
 * 8-aligned offset up to 2^62; a value exactly for a write); otherwise null.
 */
export function scanAccessLine(line: string): AccessEvent | null {
  const m = ACCESS_LINE.exec(line);
  if (m === null) return null;
  // By index, not by destructuring (which walks the array's iterator).
  const type = m[2] as 'access' | 'procmem';
  const pid = m[3] as string;
  const map = m[4] as string;
  const valueDigits = m[6];
  const seqDigits = m[1];
  const offset = hexDigits(m[5] as string);
  if (offset % 8n !== 0n || offset > MAX_PROGRAM_LENGTH) return null;
  const op = valueDigits === undefined ? 'read' : 'write';
  const value = valueDigits === undefined ? null : hexDigits(valueDigits);
  if (seqDigits === undefined) return { type, pid, map, offset, op, value };
  // Past 2^53 - 1 the digits read as a double are not the number any more (the schema refuses them): the long way.
  const seq = Number(seqDigits);
  return seq > Number.MAX_SAFE_INTEGER ? null : { type, pid, map, offset, op, value, seq };
}
