/**
 * lib/kstrtox.c (v6.1): the string-to-integer parsers sysfs stores use.
 * kstrtobool, the other one the model needs, stays with its callers in
 * memory.ts.
 */
import { U64_MAX } from '../util/u64.js';
import { err, type Ret } from './errno.js';

/**
 * @kernel kstrtoull lib/kstrtox.c — an optional '+'; base 0 picks hex after
 * "0x" and a hex digit, octal after a leading '0', else decimal
 * (_parse_integer_fixup_radix); base 16 skips a "0x". At least one digit,
 * one trailing newline at most: EINVAL otherwise, ERANGE past 2^64 - 1.
 */
export function kstrtoull(buf: string, radix: 0 | 16 = 0): Ret<bigint> {
  let s = buf.startsWith('+') ? buf.slice(1) : buf;
  const hexPrefix = s[0] === '0' && (s[1] === 'x' || s[1] === 'X');
  let base = radix === 16 ? 16n : 10n;
  if (radix === 0 && s.startsWith('0')) base = hexPrefix && /^[0-9a-fA-F]$/.test(s[2] ?? '') ? 16n : 8n;
  if (base === 16n && hexPrefix) s = s.slice(2);
  const digit = base === 16n ? /^[0-9a-fA-F]$/ : base === 8n ? /^[0-7]$/ : /^[0-9]$/;
  let v = 0n;
  let n = 0;
  while (n < s.length && digit.test(s[n] as string)) {
    v = v * base + BigInt(parseInt(s[n] as string, 16));
    n++;
  }
  if (v > U64_MAX) return err('ERANGE');
  if (n === 0) return err('EINVAL');
  const rest = s.slice(n);
  if (rest !== '' && rest !== '\n') return err('EINVAL');
  return { ok: true, value: v };
}

/**
 * @kernel kstrtoint lib/kstrtox.c — kstrtoll (a '-' then _kstrtoull, which
 * takes no second sign; else kstrtoull), then ERANGE outside int.
 */
export function kstrtoint(buf: string): Ret<number> {
  let v: bigint;
  if (buf.startsWith('-')) {
    if (buf[1] === '+') return err('EINVAL');
    const r = kstrtoull(buf.slice(1));
    if (!r.ok) return r;
    v = -r.value;
  } else {
    const r = kstrtoull(buf);
    if (!r.ok) return r;
    v = r.value;
  }
  if (v > 0x7fff_ffffn || v < -0x8000_0000n) return err('ERANGE');
  return { ok: true, value: Number(v) };
}
