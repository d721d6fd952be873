/**
 * 64-bit physical addresses and sizes. Every address is a bigint: the iomem
 * root ends at 0xffffffffffffffff, which no JavaScript number can hold.
 */

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** memparse's suffixes (lib/cmdline.c), either case, as `mem=` and `memmap=` take them. */
const SUFFIX: Record<string, bigint> = {
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
  E: 1n << 60n,
};

/** Why a string is not a 64-bit quantity, or null when it is one. */
export type U64ParseResult = { ok: true; value: bigint } | { ok: false; expected: string };

/** A whole hex literal: "0x" or "0X" and hex digits, nothing around them. */
const HEX_DIGITS = /^0[xX][0-9a-fA-F]+$/;

const TOO_BIG = 'a value that fits in 64 bits (at most 0xffffffffffffffff)';

/**
 * More significant digits than any 64-bit value has (16 hex, 20 decimal):
 * refused before BigInt, whose conversion of a 10 MB digit string takes seconds.
 */
function tooManyDigits(digits: string, max: number): boolean {
  if (digits.length <= max) return false;
  let i = 0;
  while (i < digits.length && digits.charCodeAt(i) === 48 /* '0' */) i++;
  return digits.length - i > max;
}

/**
 * The value of the hex digits of `s` from index `from` to `to` (its end by
 * default; at most 13 digits, so the sum is exact as a double), or -1 when a
 * character is not a hex digit.
 */
export function hexNumber(s: string, from: number, to = s.length): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else {
      const l = c | 32;
      if (l < 97 || l > 102) return -1;
      d = l - 87;
    }
    n = n * 16 + d;
  }
  return n;
}

/**
 * Parse "0x80000000", "2147483648", "512M", "2g" or a safe JSON integer.
 * @example parseU64("512M") // { ok: true, value: 536870912n }
 */
export function parseU64(input: unknown): U64ParseResult {
  const expected = 'a hex ("0x80000000"), decimal or size ("512M", "2G") string, or a safe integer';
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { ok: false, expected };
    return { ok: true, value: BigInt(input) };
  }
  if (typeof input !== 'string') return { ok: false, expected };
  // The common form in logs, "0x..." with at most 16 digits, without the three patterns below (this runs
  // for every offset and value of a program event).
  if (input.length <= 18 && input.length > 2 && input.charCodeAt(0) === 48 /* '0' */ && (input.charCodeAt(1) | 32) === 120 /* 'x' */) {
    // Up to 13 digits (below 2^52) the digits are summed as a number, exactly, and converted once: cheaper than the
    // pattern and BigInt's string parser.
    if (input.length <= 15) {
      const n = hexNumber(input, 2);
      if (n >= 0) return { ok: true, value: BigInt(n) };
    } else if (HEX_DIGITS.test(input)) return { ok: true, value: BigInt(input) };
  }
  const s = input.trim();
  let value: bigint;
  const hex = /^0[xX]([0-9a-fA-F]+)$/.exec(s);
  const dec = /^([0-9]+)$/.exec(s);
  const sized = /^([0-9]+)([KMGTPEkmgtpe])(i?B)?$/.exec(s);
  if (hex?.[1] !== undefined) {
    if (tooManyDigits(hex[1], 16)) return { ok: false, expected: TOO_BIG };
    value = BigInt(`0x${hex[1]}`);
  } else if (dec?.[1] !== undefined) {
    if (tooManyDigits(dec[1], 20)) return { ok: false, expected: TOO_BIG };
    value = BigInt(dec[1]);
  } else if (sized?.[1] !== undefined && sized[2] !== undefined) {
    const mult = SUFFIX[sized[2].toUpperCase()];
    if (mult === undefined) return { ok: false, expected };
    if (tooManyDigits(sized[1], 20)) return { ok: false, expected: TOO_BIG };
    value = BigInt(sized[1]) * mult;
  } else return { ok: false, expected };
  if (value > U64_MAX) return { ok: false, expected: TOO_BIG };
  return { ok: true, value };
}

/** Lower-case hex without prefix, zero-padded to at least `width` digits (the kernel's %0*llx). */
export function hexPad(v: bigint, width: number): string {
  return v.toString(16).padStart(width, '0');
}

/** "0x..." form used in JSON output and messages. */
export function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** The kernel's %pR for a memory resource (resource_string): at least 8 hex digits, one number when start == end. */
export function memRange(start: bigint, end: bigint): string {
  const h = (v: bigint): string => `0x${hexPad(v, 8)}`;
  return start === end ? `[mem ${h(start)}]` : `[mem ${h(start)}-${h(end)}]`;
}

/** The kernel's %pa for a phys_addr_t: 0x and all 16 hex digits. */
export function physAddr(v: bigint): string {
  return `0x${hexPad(v, 16)}`;
}

export function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

export function alignDown(v: bigint, a: bigint): bigint {
  return (v / a) * a;
}

export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

/** Human size for views: 128M, 2G, 510M; exact when the value allows, else bytes. */
export function sizeString(v: bigint): string {
  for (const [unit, mult] of [['T', 1n << 40n], ['G', 1n << 30n], ['M', 1n << 20n], ['K', 1n << 10n]] as const) {
    if (v >= mult && v % mult === 0n) return `${v / mult}${unit}`;
  }
  return `${v}`;
}
