/**
 * SparseIntMap against a plain Map: every operation sequence gives the same
 * contents, ascending iteration and ranges, the changed keys between any two
 * versions, and leaves earlier versions intact (persistence).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { SparseIntMap } from '../../src/util/sparseIntMap.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';

// Keys clustered (shared prefixes, leaves split into nodes) and spread over the whole 2^30.
const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }), fc.constantFrom(0, 31, 32, 1023, 1024, 2 ** 25, 2 ** 30 - 1));
const op = fc.oneof(fc.tuple(fc.constant('set' as const), key, fc.integer()), fc.tuple(fc.constant('delete' as const), key, fc.constant(0)));

describe('SparseIntMap', () => {
  test.prop([fc.array(op, { maxLength: 200 }), key, key], { numRuns: 500, seed: 5 })('behaves as a Map, persistently, with ranges and diffs', (ops, a, b) => {
    let m = SparseIntMap.empty<number>();
    const ref = new Map<number, number>();
    const versions: Array<[SparseIntMap<number>, Map<number, number>]> = [];
    for (const [kind, k, v] of ops) {
      if (kind === 'set') {
        m = m.set(k, v);
        ref.set(k, v);
      } else {
        m = m.delete(k);
        ref.delete(k);
      }
      versions.push([m, new Map(ref)]);
    }
    const sorted = [...ref].sort((x, y) => x[0] - y[0]);
    expect([...m.entries()]).toEqual(sorted);
    expect(m.size).toBe(ref.size);
    for (const [k, v] of ref) expect(m.get(k)).toBe(v);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    expect([...m.range(lo, hi)]).toEqual(sorted.filter(([k]) => k >= lo && k <= hi));
    // The callback walk visits the same entries in the same order.
    const visited: Array<[number, number]> = [];
    m.forEachIn(lo, hi, (k, v) => visited.push([k, v]));
    expect(visited).toEqual(sorted.filter(([k]) => k >= lo && k <= hi));
    // Every earlier version still holds what it held; changedKeys against it is exactly the keys that differ.
    for (const [old, oldRef] of versions.filter((_, i) => i % 7 === 0)) {
      expect([...old.entries()]).toEqual([...oldRef].sort((x, y) => x[0] - y[0]));
      const want = [...new Set([...ref.keys(), ...oldRef.keys()])].filter((k) => ref.get(k) !== oldRef.get(k)).sort((x, y) => x - y);
      expect(m.changedKeys(old).sort((x, y) => x - y)).toEqual(want);
    }
  });

  test.prop([fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer()), { maxLength: 100 })], { numRuns: 200, seed: 6 })('WideIntMap over it: keys past 2^30, ascending, diffs sorted', (pairs) => {
    let m = WideIntMap.empty<number>();
    const ref = new Map<number, number>();
    for (const [k, v] of pairs) {
      m = m.set(k, v);
      ref.set(k, v);
    }
    expect([...m.entries()]).toEqual([...ref].sort((x, y) => x[0] - y[0]));
    const visited: Array<[number, number]> = [];
    m.forEachIn(2 ** 29, 2 ** 35, (k, v) => visited.push([k, v]));
    expect(visited).toEqual([...ref].sort((x, y) => x[0] - y[0]).filter(([k]) => k >= 2 ** 29 && k <= 2 ** 35));
    expect(m.changedKeys(WideIntMap.empty())).toEqual([...ref.keys()].sort((x, y) => x - y));
  });
});
