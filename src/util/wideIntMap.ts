/**
 * A persistent map from non-negative safe integers (up to 2^53) to values:
 * a SparseIntMap of SparseIntMaps split at bit 30, for keys wider than 2^30
 * and sparse (a physical word index, a page index in a TiB mapping).
 * Iteration is in ascending key order.
 */
import { SPARSE_MAX_KEY, SparseIntMap as IntMap } from './sparseIntMap.js';

const LO_BITS = 2 ** 30;

export class WideIntMap<V> {
  private constructor(
    private readonly hi: IntMap<IntMap<V>>,
    readonly size: number,
  ) {}

  static empty<V>(): WideIntMap<V> {
    return new WideIntMap<V>(IntMap.empty<IntMap<V>>(), 0);
  }

  get(key: number): V | undefined {
    return this.hi.get(Math.floor(key / LO_BITS))?.get(key % LO_BITS);
  }

  set(key: number, value: V): WideIntMap<V> {
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`WideIntMap key ${key} out of range`);
    const h = Math.floor(key / LO_BITS);
    const inner = this.hi.get(h) ?? IntMap.empty<V>();
    const next = inner.set(key % LO_BITS, value);
    if (next === inner) return this;
    // The inner map grew by one when the key was new (one walk instead of a lookup and a set).
    return new WideIntMap<V>(this.hi.set(h, next), this.size + next.size - inner.size);
  }

  delete(key: number): WideIntMap<V> {
    const h = Math.floor(key / LO_BITS);
    const inner = this.hi.get(h);
    if (inner === undefined || !inner.has(key % LO_BITS)) return this;
    const next = inner.delete(key % LO_BITS);
    return new WideIntMap<V>(next.size === 0 ? this.hi.delete(h) : this.hi.set(h, next), this.size - 1);
  }

  /** Entries with lo <= key <= hi, ascending. */
  *range(lo: number, hi: number): IterableIterator<[number, V]> {
    if (hi < lo) return;
    const h0 = Math.floor(Math.max(0, lo) / LO_BITS);
    const h1 = Math.floor(hi / LO_BITS);
    for (const [h, inner] of this.hi.range(h0, Math.min(h1, SPARSE_MAX_KEY))) {
      const base = h * LO_BITS;
      const l = h === h0 ? Math.max(0, lo) - base : 0;
      const u = h === h1 ? hi - base : LO_BITS - 1;
      for (const [k, v] of inner.range(l, u)) yield [base + k, v];
    }
  }

  entries(): IterableIterator<[number, V]> {
    return this.range(0, Number.MAX_SAFE_INTEGER);
  }

  /** `fn` on each entry with lo <= key <= hi, ascending (range without an iterator). */
  forEachIn(lo: number, hi: number, fn: (key: number, value: V) => void): void {
    if (hi < lo) return;
    const h0 = Math.floor(Math.max(0, lo) / LO_BITS);
    const h1 = Math.floor(hi / LO_BITS);
    this.hi.forEachIn(h0, Math.min(h1, SPARSE_MAX_KEY), (h, inner) => {
      const base = h * LO_BITS;
      const l = h === h0 ? Math.max(0, lo) - base : 0;
      const u = h === h1 ? hi - base : LO_BITS - 1;
      inner.forEachIn(l, u, (k, v) => fn(base + k, v));
    });
  }

  /**
   * Keys whose value differs between this map and `other` (present in one
   * only, or a different value object), ascending: identical subtrees are
   * skipped, so a step's few changes cost a few node visits.
   */
  changedKeys(other: WideIntMap<V>): number[] {
    const out: number[] = [];
    for (const h of this.hi.changedKeys(other.hi)) {
      const a = this.hi.get(h) ?? IntMap.empty<V>();
      const b = other.hi.get(h) ?? IntMap.empty<V>();
      for (const k of a.changedKeys(b)) out.push(h * LO_BITS + k);
    }
    return out.sort((x, y) => x - y);
  }

  /** A map without the keys in [lo, hi]. */
  deleteRange(lo: number, hi: number): WideIntMap<V> {
    let m: WideIntMap<V> = this;
    for (const [k] of this.range(lo, hi)) m = m.delete(k);
    return m;
  }
}
