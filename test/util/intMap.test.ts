import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { IntMap, INT_MAP_MAX_KEY } from '../../src/util/intMap.js';

type Cmd = { op: 'set'; k: number; v: number } | { op: 'del'; k: number };
const key = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 600_000 }), fc.constant(INT_MAP_MAX_KEY));
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), k: key, v: fc.integer() }),
  fc.record({ op: fc.constant('del' as const), k: key }),
);

describe('IntMap (persistent 32-way trie)', () => {
  test.prop([fc.array(cmd, { maxLength: 200 })], { numRuns: 300 })('behaves like a sorted Map', (cmds) => {
    let m = IntMap.empty<number>();
    const ref = new Map<number, number>();
    for (const c of cmds) {
      if (c.op === 'set') {
        m = m.set(c.k, c.v);
        ref.set(c.k, c.v);
      } else {
        m = m.delete(c.k);
        ref.delete(c.k);
      }
    }
    expect(m.size).toBe(ref.size);
    expect([...m.entries()]).toEqual([...ref.entries()].sort((a, b) => a[0] - b[0]));
    for (const [k, v] of ref) expect(m.get(k)).toBe(v);
  });

  test.prop([fc.array(cmd, { maxLength: 60 }), fc.array(cmd, { maxLength: 20 })], { numRuns: 300 })(
    'changedKeys lists exactly the keys whose value differs, and old versions stay intact',
    (base, more) => {
      let a = IntMap.empty<object>();
      for (const c of base) a = c.op === 'set' ? a.set(c.k, { v: c.v }) : a.delete(c.k);
      const snapshot = [...a.entries()];
      let b = a;
      for (const c of more) b = c.op === 'set' ? b.set(c.k, { v: c.v }) : b.delete(c.k);
      const keys = new Set([...a.keys(), ...b.keys()]);
      const expected = [...keys].filter((k) => a.get(k) !== b.get(k)).sort((x, y) => x - y);
      expect(a.changedKeys(b)).toEqual(expected);
      expect([...a.entries()]).toEqual(snapshot);
    },
  );

  test.prop([fc.array(cmd, { maxLength: 60 }), fc.array(fc.tuple(key, fc.integer()), { maxLength: 80 })], { numRuns: 300 })(
    'setAll (and IntMap.of) equal a chain of set calls and leave the original intact',
    (base, batch) => {
      let a = IntMap.empty<number>();
      for (const c of base) a = c.op === 'set' ? a.set(c.k, c.v) : a.delete(c.k);
      const snapshot = [...a.entries()];
      let chained = a;
      for (const [k, v] of batch) chained = chained.set(k, v);
      const bulk = a.setAll(batch);
      expect(bulk.size).toBe(chained.size);
      expect([...bulk.entries()]).toEqual([...chained.entries()]);
      for (const [k] of batch) expect(bulk.get(k)).toBe(chained.get(k));
      expect([...a.entries()]).toEqual(snapshot);
      expect([...IntMap.of(batch).entries()]).toEqual([...IntMap.empty<number>().setAll(batch).entries()]);
      // Later writes to either map never show through the other.
      const k0 = batch[0]?.[0];
      if (k0 !== undefined) {
        const after = bulk.set(k0, -1);
        expect(bulk.get(k0)).toBe(chained.get(k0));
        expect(after.get(k0)).toBe(-1);
      }
    },
  );

  it('get after a miss, a hit and a set returns the current value (the last-lookup cache never goes stale)', () => {
    const a = IntMap.empty<string>().set(5, 'a');
    expect(a.get(6)).toBeUndefined();
    expect(a.get(5)).toBe('a');
    const b = a.set(5, 'b');
    expect(b.get(5)).toBe('b');
    expect(a.get(5)).toBe('a');
    const c = b.delete(5);
    expect(c.get(5)).toBeUndefined();
    expect(b.get(5)).toBe('b');
  });

  test.prop([fc.array(cmd, { maxLength: 120 }), key, key, fc.integer({ min: -5, max: 5 })], { numRuns: 500 })(
    'range(lo, hi) yields exactly the entries with lo <= key <= hi, ascending',
    (cmds, a, b, d) => {
      let m = IntMap.empty<number>();
      for (const c of cmds) m = c.op === 'set' ? m.set(c.k, c.v) : m.delete(c.k);
      // Bounds at, next to and between the keys present, and out of range.
      const keys = [...m.keys()];
      const lo = (keys.length > 0 && d % 2 === 0 ? (keys[a % keys.length] as number) : a) + d;
      const hi = Math.max(lo, b) + (d < 0 ? INT_MAP_MAX_KEY : 0);
      const all = [...m.entries()];
      expect(all.map(([k]) => k)).toEqual([...keys].sort((x, y) => x - y));
      expect([...m.range(lo, hi)]).toEqual(all.filter(([k]) => k >= lo && k <= hi));
      expect([...m.range(lo, lo)]).toEqual(all.filter(([k]) => k === lo));
      expect(m.firstFrom(lo)).toEqual(all.find(([k]) => k >= lo));
    },
  );

  it('range and firstFrom visit keys in order within bounds', () => {
    let m = IntMap.empty<string>();
    for (const k of [5, 40, 1000, 33000, 500000]) m = m.set(k, `v${k}`);
    expect([...m.range(40, 33000)].map(([k]) => k)).toEqual([40, 1000, 33000]);
    expect(m.firstFrom(1001)?.[0]).toBe(33000);
    expect(m.firstFrom(500001)).toBeUndefined();
    expect(() => m.set(-1, 'x')).toThrow(RangeError);
  });
});
