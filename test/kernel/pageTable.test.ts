/**
 * PageTable's one-step hint (the devdax invariants' per-fault diff): a table
 * one set or delete away from another names that key and its entry, and
 * changedKeys answers exactly the keys whose entry differs, whether the two
 * tables are one step apart, several, or unrelated.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { PageTable } from '../../src/kernel/mm/pageTable.js';
import type { Pte } from '../../src/kernel/mm/types.js';

const PTES: readonly Pte[] = [
  { level: 'pte', phys: 0x1000n, special: false },
  { level: 'pmd', phys: 0x200000n, special: false },
  { level: 'pud', phys: 0x40000000n, special: true },
];
const key = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 2 ** 40 }));
const op = fc.oneof(fc.tuple(fc.constant('set' as const), key, fc.integer({ min: 0, max: 2 })), fc.tuple(fc.constant('delete' as const), key, fc.constant(0)));

function diff(a: ReadonlyMap<number, Pte>, b: ReadonlyMap<number, Pte>): number[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort((x, y) => x - y);
}

type Op = [string, number, number];

/** One set or delete on a table and on its reference Map alike; the table after it. */
function step(t: PageTable, ref: Map<number, Pte>, [kind, k, i]: Op): PageTable {
  if (kind === 'set') {
    ref.set(k, PTES[i] as Pte);
    return t.set(k, PTES[i] as Pte);
  }
  ref.delete(k);
  return t.delete(k);
}

describe('PageTable', () => {
  test.prop([fc.array(op, { maxLength: 60 }), fc.boolean()], { numRuns: 400, seed: 11 })('lastChange names the one step between two versions; changedKeys is the exact diff (anonymous and file tables)', (ops, file) => {
    let t = file ? PageTable.emptyFile() : PageTable.empty();
    const ref = new Map<number, Pte>();
    const versions: Array<[PageTable, Map<number, Pte>]> = [[t, new Map()]];
    for (const o of ops) {
      const [, k] = o;
      const prev = t;
      const prevRef = new Map(ref);
      t = step(t, ref, o);
      const changed = diff(ref, prevRef);
      // Nothing changed: the same table (a rewrite of the same entry, a delete of an absent key).
      if (changed.length === 0) expect(t).toBe(prev);
      else {
        expect(t.lastChange(prev)).toEqual([k, ref.get(k)]);
        expect(prev.lastChange(t)).toBeNull();
      }
      expect(t.changedKeys(prev)).toEqual(changed);
      expect(prev.changedKeys(t)).toEqual(changed);
      versions.push([t, new Map(ref)]);
    }
    for (const [old, oldRef] of versions) expect([...t.changedKeys(old)].sort((x, y) => x - y)).toEqual(diff(ref, oldRef));
    // Asked again, twice in a row (the second answer is the one kept on the table), after another version was
    // asked in between: the same answers.
    for (const [old, oldRef] of versions) {
      expect([...t.changedKeys(old)].sort((x, y) => x - y)).toEqual(diff(ref, oldRef));
      expect([...t.changedKeys(old)].sort((x, y) => x - y)).toEqual(diff(ref, oldRef));
    }
    expect(t.emptyLike()).toBe(file ? PageTable.emptyFile() : PageTable.empty());
    const visited: Array<[number, Pte]> = [];
    t.forEach((k, pte) => visited.push([k, pte]));
    expect(visited).toEqual([...ref].sort((x, y) => x[0] - y[0]));
  });

  test.prop([fc.array(op, { maxLength: 40 }), fc.array(op, { maxLength: 40 })], { numRuns: 200, seed: 12 })('a file table against an anonymous one (MAP_FIXED anonymous over a file mapping): the exact diff', (xs, ys) => {
    const build = (start: PageTable, ops: typeof xs): [PageTable, Map<number, Pte>] => {
      let t = start;
      const ref = new Map<number, Pte>();
      for (const o of ops) t = step(t, ref, o);
      return [t, ref];
    };
    const [f, fr] = build(PageTable.emptyFile(), xs);
    const [a, ar] = build(PageTable.empty(), ys);
    expect(f.changedKeys(a)).toEqual(diff(fr, ar));
    expect(a.changedKeys(f)).toEqual(diff(fr, ar));
  });

  test('two steps apart, or unrelated tables with the same key: no hint, the maps are walked', () => {
    const a = PageTable.empty().set(1, PTES[0] as Pte);
    const b = a.set(2, PTES[1] as Pte).set(3, PTES[1] as Pte);
    expect(b.lastChange(a)).toBeNull();
    expect([...b.changedKeys(a)].sort()).toEqual([2, 3]);
    const c = PageTable.empty().set(1, PTES[0] as Pte);
    expect(c.lastChange(a)).toBeNull();
    expect(c.changedKeys(a)).toEqual([]);
  });
});
