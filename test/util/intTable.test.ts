/**
 * IntTable against a plain Map: any sequence of puts and removes over keys
 * that collide (a few small keys, keys above 2^32 whose low bits agree,
 * 2^53 - 1), with growth and shrinking on the way, answers every get, has,
 * size, key list and range as the Map does; a copy is independent of its
 * original. Removal by backward shift is what the colliding keys exercise:
 * a key left behind a removed one in its probe run must still be found.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { IntTable } from '../../src/util/intTable.js';

// Few distinct keys, so that puts, removes of present keys and long probe runs all happen.
const key = fc.oneof(
  fc.integer({ min: 0, max: 30 }),
  fc.integer({ min: 0, max: 30 }).map((i) => i * 2 ** 32 + 7),
  fc.integer({ min: 0, max: 30 }).map((i) => 2 ** 40 + i * 512),
  fc.constantFrom(2 ** 53 - 1, 2 ** 30, 2 ** 31, 2 ** 32),
);
const op = fc.tuple(fc.constantFrom('put' as const, 'put' as const, 'remove' as const, 'copy' as const), key, fc.integer({ min: 0, max: 9 }));

describe('IntTable', () => {
  test.prop([fc.array(op, { maxLength: 400 }), key, key], { numRuns: 300, seed: 7 })('answers as a Map through puts, removes, growth and shrinking', (ops, a, b) => {
    let t = new IntTable<number>();
    let ref = new Map<number, number>();
    const copies: Array<[IntTable<number>, Map<number, number>]> = [];
    for (const [kind, k, v] of ops) {
      if (kind === 'put') {
        expect(t.put(k, v)).toBe(ref.get(k));
        ref.set(k, v);
      } else if (kind === 'remove') {
        expect(t.remove(k)).toBe(ref.get(k));
        ref.delete(k);
      } else {
        // Go on with a copy; the original must keep its own contents.
        copies.push([t, new Map(ref)]);
        t = t.copy();
        ref = new Map(ref);
      }
      expect(t.size).toBe(ref.size);
      // Every key still there is found, whatever was removed before it in its run.
      for (const [rk, rv] of ref) expect(t.get(rk)).toBe(rv);
      expect(t.has(k)).toBe(ref.has(k));
    }
    expect(t.keyList().sort((x, y) => x - y)).toEqual([...ref.keys()].sort((x, y) => x - y));
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const got: Array<[number, number]> = [];
    t.entriesIn(lo, hi, got);
    const want = [...ref].filter(([k]) => k >= lo && k <= hi);
    expect(got.sort((x, y) => x[0] - y[0])).toEqual(want.sort((x, y) => x[0] - y[0]));
    for (const [c, r] of copies) {
      expect(c.size).toBe(r.size);
      for (const [rk, rv] of r) expect(c.get(rk)).toBe(rv);
    }
  });

  // A table of 8 slots holding at most 4 keys, removed as often as put: probe runs wrap past the last slot, so a
  // removal there must shift back a key whose run started at the end of the array.
  test.prop([fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 11 })), { maxLength: 80 })], { numRuns: 500, seed: 3 })('removal in a small table whose runs wrap around', (ops) => {
    const t = new IntTable<number>();
    const ref = new Map<number, number>();
    for (const [put, i] of ops) {
      const k = i * 2 ** 33 + i;
      if (put && (ref.size < 4 || ref.has(k))) {
        t.put(k, i);
        ref.set(k, i);
      } else {
        t.remove(k);
        ref.delete(k);
      }
      for (const [rk, rv] of ref) expect(t.get(rk)).toBe(rv);
      expect(t.size).toBe(ref.size);
    }
  });

  test('grows past half full and shrinks below an eighth, keeping every key', () => {
    const t = new IntTable<number>();
    const keys = Array.from({ length: 5000 }, (_, i) => 2 ** 37 + i * 8);
    for (const k of keys) t.put(k, k % 7);
    expect(t.size).toBe(5000);
    for (const k of keys) expect(t.get(k)).toBe(k % 7);
    // Remove all but 10: the table shrinks on the way, and the 10 stay.
    for (const k of keys.slice(10)) expect(t.remove(k)).toBe(k % 7);
    expect(t.size).toBe(10);
    for (const k of keys.slice(0, 10)) expect(t.get(k)).toBe(k % 7);
    for (const k of keys.slice(10, 100)) expect(t.get(k)).toBeUndefined();
    expect(t.keyList().sort((x, y) => x - y)).toEqual(keys.slice(0, 10));
  });
});
