import { fc, test } from '@fast-check/vitest';
import { describe, expect, it, vi } from 'vitest';
import { parseU64 } from '../../src/util/u64.js';

describe('parseU64', () => {
  it('takes memparse suffixes in either case (mem=2g, memmap=128m)', () => {
    expect(parseU64('2g')).toEqual({ ok: true, value: 2n << 30n });
    expect(parseU64('128m')).toEqual({ ok: true, value: 128n << 20n });
    expect(parseU64('4k')).toEqual({ ok: true, value: 4096n });
    expect(parseU64('1t')).toEqual(parseU64('1T'));
    expect(parseU64('2p')).toEqual(parseU64('2P'));
    expect(parseU64('15E')).toEqual({ ok: true, value: 15n << 60n });
    expect(parseU64('16e')).toMatchObject({ ok: false, expected: 'a value that fits in 64 bits (at most 0xffffffffffffffff)' });
    expect(parseU64('2x')).toMatchObject({ ok: false });
  });

  // Issue 9, item 5: a 10 MB digit string went through BigInt (seconds) before being refused.
  it('refuses over-long numbers before converting them, and still takes leading zeros', () => {
    const big = vi.spyOn(globalThis, 'BigInt');
    try {
      for (const s of ['1'.repeat(10_000_000), `0x${'f'.repeat(10_000_000)}`, `${'9'.repeat(10_000_000)}M`]) {
        expect(parseU64(s)).toEqual({ ok: false, expected: 'a value that fits in 64 bits (at most 0xffffffffffffffff)' });
      }
      expect(big).not.toHaveBeenCalled();
    } finally {
      big.mockRestore();
    }
    expect(parseU64(`0x${'0'.repeat(40)}80000000`)).toEqual({ ok: true, value: 0x80000000n });
    expect(parseU64(`${'0'.repeat(40)}18446744073709551615`)).toEqual({ ok: true, value: 0xffffffffffffffffn });
    expect(parseU64('18446744073709551616')).toMatchObject({ ok: false });
    expect(parseU64('0x10000000000000000')).toMatchObject({ ok: false });
  });

  // The hex shortcut (up to 16 digits, no spaces) and the pattern route must agree on every hex-looking string.
  test.prop([fc.constantFrom('0x', '0X', ' 0x', '0x '), fc.stringMatching(/^[0-9a-fA-FgG ]{0,20}$/), fc.constantFrom('', ' ', 'z')], { numRuns: 500, seed: 3 })('hex literals: the value, or a refusal, whatever their length and spacing', (pre, digits, post) => {
    const s = `${pre}${digits}${post}`;
    const t = s.trim();
    const m = /^0[xX]([0-9a-fA-F]+)$/.exec(t);
    const r = parseU64(s);
    if (m?.[1] === undefined) expect(r.ok).toBe(false);
    else if (m[1].replace(/^0+/, '').length > 16) expect(r).toMatchObject({ ok: false });
    else expect(r).toEqual({ ok: true, value: BigInt(`0x${m[1]}`) });
  });
});
