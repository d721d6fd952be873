/**
 * RerootMap against plain Maps: any tree of versions (each operation
 * applied to a version drawn from all those made so far, as explore and
 * shrinking branch), read in any order, keeps every version's contents,
 * ascending iteration and ranges, and the changed keys between any two;
 * long-diverged branches read in turn are copied apart, and stay exact.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { RerootMap } from '../../src/util/rerootMap.js';

const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom(0, 1, 2 ** 30, 2 ** 53 - 1));
// [kind, which earlier version to start from (as a fraction), key, value]
const op = fc.tuple(fc.constantFrom('set' as const, 'set' as const, 'delete' as const, 'read' as const), fc.nat(), key, fc.integer({ min: 0, max: 5 }));

function sorted(m: ReadonlyMap<number, number>): Array<[number, number]> {
  return [...m].sort((a, b) => a[0] - b[0]);
}

describe('RerootMap', () => {
  test.prop([fc.array(op, { maxLength: 300 }), key, key, fc.array(fc.nat(), { maxLength: 40 })], { numRuns: 400, seed: 11 })(
    'a tree of versions behaves as Maps, read in any order',
    (ops, a, b, reads) => {
      const versions: Array<[RerootMap<number>, Map<number, number>]> = [[RerootMap.empty<number>(), new Map()]];
      for (const [kind, from, k, v] of ops) {
        const [m, ref] = versions[from % versions.length] as [RerootMap<number>, Map<number, number>];
        if (kind === 'read') {
          expect(m.get(k)).toBe(ref.get(k));
          continue;
        }
        const next = new Map(ref);
        if (kind === 'set') next.set(k, v);
        else next.delete(k);
        const n = kind === 'set' ? m.set(k, v) : m.delete(k);
        expect(n.size).toBe(next.size);
        versions.push([n, next]);
      }
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      // Versions read in an arbitrary order (each read reroots the tree there).
      for (const r of [...reads, 0, versions.length - 1]) {
        const [m, ref] = versions[r % versions.length] as [RerootMap<number>, Map<number, number>];
        expect([...m.entries()]).toEqual(sorted(ref));
        expect([...m.range(lo, hi)]).toEqual(sorted(ref).filter(([k]) => k >= lo && k <= hi));
        expect([...m.range(lo, lo + 3)]).toEqual(sorted(ref).filter(([k]) => k >= lo && k <= lo + 3));
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
      }
      // changedKeys between pairs: neighbours (a step's before and after) and far apart.
      for (let i = 0; i + 1 < versions.length; i += 5) {
        for (const j of [i + 1, (i * 7) % versions.length, versions.length - 1]) {
          const [x, xr] = versions[i] as [RerootMap<number>, Map<number, number>];
          const [y, yr] = versions[j] as [RerootMap<number>, Map<number, number>];
          const want = [...new Set([...xr.keys(), ...yr.keys()])].filter((k) => xr.get(k) !== yr.get(k)).sort((p, q) => p - q);
          expect(x.changedKeys(y)).toEqual(want);
          expect(y.changedKeys(x)).toEqual(want);
        }
      }
    },
  );

  test.prop(
    [fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 511 })), { minLength: 300, maxLength: 900 }), fc.array(op, { maxLength: 60 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 25_000 }), fc.constantFrom(0, 7, 511, 512, 1500, 4096, 2 ** 20)), { maxLength: 12 })],
    { numRuns: 150, seed: 12 },
  )('maps past the scan threshold: ranges by bucket (a page of words, a THP, a whole table) agree with Maps, across versions', (clustered, ops, ranges) => {
    // Keys clustered in a few hundred buckets of 512 (words of a few pages), so ranges take the bucket path.
    let m = RerootMap.empty<number>();
    const ref = new Map<number, number>();
    for (const [b, w] of clustered) {
      m = m.set(b * 512 + w, w);
      ref.set(b * 512 + w, w);
    }
    // A first range builds the bucket index, which every later set, delete and reroot must keep.
    expect([...m.range(0, 511)]).toEqual(sorted(ref).filter(([k]) => k <= 511));
    const versions: Array<[RerootMap<number>, Map<number, number>]> = [[m, new Map(ref)]];
    for (const [kind, from, k, v] of ops) {
      const [vm, vr] = versions[from % versions.length] as [RerootMap<number>, Map<number, number>];
      if (kind === 'read') {
        expect([...vm.range(k % 25_000, (k % 25_000) + 700)]).toEqual(sorted(vr).filter(([x]) => x >= k % 25_000 && x <= (k % 25_000) + 700));
        continue;
      }
      const next = new Map(vr);
      if (kind === 'set') next.set(k % 25_000, v);
      else next.delete(k % 25_000);
      versions.push([kind === 'set' ? vm.set(k % 25_000, v) : vm.delete(k % 25_000), next]);
    }
    for (const [lo, span] of ranges) {
      for (const [vm, vr] of [versions[versions.length - 1], versions[0], versions[Math.floor(versions.length / 2)]] as Array<[RerootMap<number>, Map<number, number>]>) {
        expect([...vm.range(lo, lo + span)]).toEqual(sorted(vr).filter(([k]) => k >= lo && k <= lo + span));
      }
    }
  });

  test('two long-diverged branches read in turn are copied apart and stay exact', () => {
    let base = RerootMap.empty<number>();
    for (let k = 0; k < 100; k++) base = base.set(k, k);
    let left = base;
    let right = base;
    for (let i = 0; i < 2000; i++) {
      left = left.set(1000 + i, i);
      right = right.set(5000 + i, -i);
    }
    // Each branch also deletes base keys of its own, so the copy must apply deletions too.
    for (let k = 0; k < 100; k += 2) left = left.delete(k);
    for (let k = 1; k < 100; k += 2) right = right.delete(k);
    // Without the copy each read would reroot 4,000 differences; with it, reads alternate at no cost.
    for (let i = 0; i < 50; i++) {
      expect(left.get(1000 + i)).toBe(i);
      expect(right.get(5000 + i)).toBe(-i);
      expect(left.get(5000 + i)).toBeUndefined();
      expect(base.get(1000)).toBeUndefined();
      expect(base.get(99)).toBe(99);
    }
    expect(left.size).toBe(2050);
    expect(right.size).toBe(2050);
    expect(base.size).toBe(100);
    expect(left.changedKeys(right).length).toBe(4100);
    const want = (odd: boolean, from: number, sign: number): Array<[number, number]> => [
      ...Array.from({ length: 50 }, (_, i): [number, number] => [2 * i + (odd ? 1 : 0), 2 * i + (odd ? 1 : 0)]),
      ...Array.from({ length: 2000 }, (_, i): [number, number] => [from + i, sign * i]),
    ];
    expect([...left.entries()]).toEqual(want(true, 1000, 1));
    expect([...right.entries()]).toEqual(want(false, 5000, -1));
    expect([...base.entries()]).toEqual(Array.from({ length: 100 }, (_, k) => [k, k]));
  });

  test('an iteration is a snapshot: reading another version while walking one does not change it', () => {
    const a = RerootMap.empty<number>().set(1, 1).set(2, 2).set(3, 3);
    const b = a.set(2, 20).delete(3).set(4, 4);
    const seen: Array<[number, number]> = [];
    for (const e of a.entries()) {
      seen.push(e);
      expect(b.get(2)).toBe(20);
    }
    expect(seen).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  test('keys must be non-negative safe integers and values defined', () => {
    expect(() => RerootMap.empty<number>().set(-1, 0)).toThrow(RangeError);
    expect(() => RerootMap.empty<number>().set(2 ** 53, 0)).toThrow(RangeError);
    expect(() => RerootMap.empty<number | undefined>().set(1, undefined)).toThrow(RangeError);
  });
});
