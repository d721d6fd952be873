/**
 * A persistent map from non-negative safe integers to values, by rerooting
 * (Baker, "Shallow binding makes functional arrays fast", 1991; Conchon and
 * Filliâtre, "A persistent union-find data structure", 2007): the versions
 * of one map form a tree whose root holds a mutable table (IntTable), every other
 * version is one difference (a key and its value there) from the version
 * toward the root. Reading or writing a version first makes it the root,
 * reversing the differences on the way, so a replay — which only ever works
 * on its newest state and the one before — pays a table operation per get and
 * set instead of a path of trie nodes (a memory word store, a page-table
 * lookup: the hot operations of a program event). Every version stays
 * readable: branching searches (explore, shrinking) reroot between the
 * states they hold.
 *
 * Two rules keep rerooting cheap where versions are far apart:
 * - a set on an empty version starts a tree of its own, so independent maps
 *   (the page tables of different vmas, which all start empty) never share
 *   one and never reroot between each other;
 * - when the rerooting done in one tree outgrows a few times its size (two
 *   long-diverged branches read in turn: a parent and a child after fork),
 *   the version asked for is copied into a tree of its own instead.
 *
 * Iteration (entries, range) returns a sorted snapshot taken at the call, so
 * it is unaffected by rerooting while the caller walks it.
 */

import { IntTable } from './intTable.js';

/** Keys per bucket of the range index: a page's words, or a 2 MiB region's pages. */
const BUCKET = 512;

/**
 * The mutable contents at a tree's root, how much rerooting the tree has
 * done since it was made, and (once a range was asked) the keys of each
 * bucket of BUCKET consecutive keys, sorted: a range (a page's words, a
 * THP's pages) visits the keys it holds, not every integer in it.
 */
class Store<V> {
  work = 0;
  /** Made by the first range asked of the tree, then kept: a tree never asked for a range pays nothing for it. */
  private index: Map<number, number[]> | null = null;

  constructor(readonly map: IntTable<V>) {}

  /** The buckets, built now if this is the first range. */
  buckets(): Map<number, number[]> {
    if (this.index === null) {
      this.index = new Map();
      const keys = this.map.keyList().sort((a, b) => a - b);
      for (const k of keys) {
        const b = Math.floor(k / BUCKET);
        const list = this.index.get(b);
        if (list === undefined) this.index.set(b, [k]);
        else list.push(k);
      }
    }
    return this.index;
  }

  private add(k: number): void {
    if (this.index === null) return;
    const b = Math.floor(k / BUCKET);
    const keys = this.index.get(b);
    if (keys === undefined) {
      this.index.set(b, [k]);
      return;
    }
    let i = keys.length;
    while (i > 0 && (keys[i - 1] as number) > k) i--;
    keys.splice(i, 0, k);
  }

  private remove(k: number): void {
    if (this.index === null) return;
    const b = Math.floor(k / BUCKET);
    const keys = this.index.get(b);
    if (keys === undefined) return;
    const i = keys.indexOf(k);
    if (i >= 0) keys.splice(i, 1);
    if (keys.length === 0) this.index.delete(b);
  }

  /** Set or (undefined) delete `k`, keeping the buckets; returns the value it had. */
  put(k: number, v: V | undefined): V | undefined {
    if (v === undefined) {
      const was = this.map.remove(k);
      if (was !== undefined) this.remove(k);
      return was;
    }
    const was = this.map.put(k, v);
    if (was === undefined) this.add(k);
    return was;
  }
}

/** Rerooting steps a tree may take, over its size, before a version is copied out instead (amortises the copy). */
const WORK_FACTOR = 4;
const WORK_SLACK = 256;

/** A range spanning more buckets than this many times the buckets in use is found by scanning the entries instead. */
const PROBE_FACTOR = 2;

/** Maps this small are scanned whole for any range. */
const SCAN_BELOW = 256;

export class RerootMap<V> {
  /** Non-null at the root of its tree. */
  private store: Store<V> | null;
  /** Elsewhere: this version differs from `next` at `key`, where it holds `value` (undefined: absent). */
  private key = 0;
  private value: V | undefined = undefined;
  private next: RerootMap<V> | null = null;

  private constructor(
    store: Store<V> | null,
    readonly size: number,
  ) {
    this.store = store;
  }

  private static readonly EMPTY = new RerootMap<never>(null, 0);

  static empty<V>(): RerootMap<V> {
    return RerootMap.EMPTY as RerootMap<V>;
  }

  /** This version's contents as a table (the tree rerooted here); null for an empty version. */
  private reroot(): IntTable<V> | null {
    if (this.size === 0) return null;
    if (this.store !== null) return this.store.map;
    const path: Array<RerootMap<V>> = [];
    let n: RerootMap<V> = this;
    while (n.store === null) {
      path.push(n);
      n = n.next as RerootMap<V>;
    }
    const store = n.store;
    store.work += path.length;
    if (store.work > WORK_FACTOR * store.map.size + WORK_SLACK) return this.detach(path, store);
    // From the version next to the root back to this one: apply its difference, and record in the old root
    // the difference that undoes it.
    for (let i = path.length - 1; i >= 0; i--) {
      const d = path[i] as RerootMap<V>;
      const k = d.key;
      const was = store.put(k, d.value);
      n.store = null;
      n.key = k;
      n.value = was;
      n.next = d;
      d.store = store;
      d.next = null;
      d.value = undefined;
      n = d;
    }
    return store.map;
  }

  /** Copy this version's contents (the root's, with `path`'s differences applied nearest-the-root first) into a tree of its own. */
  private detach(path: ReadonlyArray<RerootMap<V>>, root: Store<V>): IntTable<V> {
    root.work = 0;
    const map = root.map.copy();
    for (let i = path.length - 1; i >= 0; i--) {
      const d = path[i] as RerootMap<V>;
      if (d.value === undefined) map.remove(d.key);
      else map.put(d.key, d.value);
    }
    this.store = new Store(map);
    this.next = null;
    this.value = undefined;
    return map;
  }

  get(key: number): V | undefined {
    const map = this.store !== null ? this.store.map : this.reroot();
    return map === null ? undefined : map.get(key);
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): RerootMap<V> {
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`RerootMap key ${key} out of range`);
    if (value === undefined) throw new RangeError('RerootMap values cannot be undefined');
    const map = this.reroot();
    if (map === null) {
      const table = new IntTable<V>();
      table.put(key, value);
      return new RerootMap(new Store(table), 1);
    }
    // Stored first, then compared: storing the value a key already holds changes nothing, and a word store
    // then costs one probe (IntTable.put returns what it replaced).
    const was = (this.store as Store<V>).put(key, value);
    if (was === value) return this;
    return this.hand(key, was, was === undefined ? this.size + 1 : this.size);
  }

  delete(key: number): RerootMap<V> {
    const map = this.reroot();
    if (map === null) return this;
    const was = map.get(key);
    if (was === undefined) return this;
    if (this.size === 1) return RerootMap.empty<V>();
    (this.store as Store<V>).put(key, undefined);
    return this.hand(key, was, this.size - 1);
  }

  /** The root's Map (already changed at `key`) moves to a new version; this one becomes its difference at `key`. */
  private hand(key: number, was: V | undefined, size: number): RerootMap<V> {
    const next = new RerootMap<V>(this.store, size);
    this.store = null;
    this.key = key;
    this.value = was;
    this.next = next;
    return next;
  }

  /** Entries with lo <= key <= hi, ascending (a snapshot). */
  range(lo: number, hi: number): IterableIterator<[number, V]> {
    const out: Array<[number, V]> = [];
    const map = this.reroot();
    // Past 2^53 k++ would stop moving: no key lies there anyway.
    hi = Math.min(hi, Number.MAX_SAFE_INTEGER);
    if (map === null || hi < lo) return out[Symbol.iterator]();
    lo = Math.max(0, lo);
    const b0 = Math.floor(lo / BUCKET);
    const b1 = Math.floor(hi / BUCKET);
    // The range's buckets, each a sorted list of its keys; a range over more buckets than the map uses (a table
    // walked whole) is cheaper as a scan of every entry.
    const buckets = map.size > SCAN_BELOW ? (this.store as Store<V>).buckets() : null;
    if (buckets !== null && b1 - b0 + 1 <= PROBE_FACTOR * buckets.size) {
      for (let b = b0; b <= b1; b++) {
        const keys = buckets.get(b);
        if (keys === undefined) continue;
        for (const k of keys) if (k >= lo && k <= hi) out.push([k, map.get(k) as V]);
      }
      return out[Symbol.iterator]();
    }
    map.entriesIn(lo, hi, out);
    out.sort((a, b) => a[0] - b[0]);
    return out[Symbol.iterator]();
  }

  entries(): IterableIterator<[number, V]> {
    return this.range(0, Number.MAX_SAFE_INTEGER);
  }

  /** `fn` on each entry with lo <= key <= hi, ascending (on a snapshot, as range). */
  forEachIn(lo: number, hi: number, fn: (key: number, value: V) => void): void {
    for (const [k, v] of this.range(lo, hi)) fn(k, v);
  }

  /**
   * Keys whose value differs between this version and `other` (present in
   * one only, or a different value object), ascending. Versions a few
   * differences apart (a step's before and after) answer from the
   * differences between them; others compare whole contents.
   */
  changedKeys(other: RerootMap<V>): number[] {
    if (other === this) return [];
    if (this.size === 0 || other.size === 0) {
      const keys: number[] = [];
      for (const [k] of (this.size === 0 ? other : this).entries()) keys.push(k);
      return keys;
    }
    return this.chainTo(other) ?? other.chainTo(this) ?? differingKeys(this.entries(), other.entries());
  }

  /**
   * When `other` lies on the way from this version to the root: the keys the
   * differences on the way name whose values at the two ends differ. This
   * version's value at a key is the first difference naming it; `other`'s is
   * the first after `other`, or the root's.
   */
  private chainTo(other: RerootMap<V>): number[] | null {
    const mine = new Map<number, V | undefined>();
    let n: RerootMap<V> = this;
    while (n !== other) {
      if (n.store !== null) return null;
      if (!mine.has(n.key)) mine.set(n.key, n.value);
      n = n.next as RerootMap<V>;
    }
    const theirs = new Map<number, V | undefined>();
    let left = mine.size;
    for (; n.store === null && left > 0; n = n.next as RerootMap<V>) {
      if (mine.has(n.key) && !theirs.has(n.key)) {
        theirs.set(n.key, n.value);
        left--;
      }
    }
    const root = n.store?.map;
    const out: number[] = [];
    for (const [k, v] of mine) {
      const w = theirs.has(k) ? theirs.get(k) : root?.get(k);
      if (v !== w) out.push(k);
    }
    return out.sort((x, y) => x - y);
  }

  /** A map without the keys in [lo, hi]. */
  deleteRange(lo: number, hi: number): RerootMap<V> {
    let m: RerootMap<V> = this;
    for (const [k] of this.range(lo, hi)) m = m.delete(k);
    return m;
  }
}

/** Keys whose value differs between two sets of entries (present in one only, or another value object), ascending. */
export function differingKeys<V>(a: Iterable<[number, V]>, b: Iterable<[number, V]>): number[] {
  const left = new Map(a);
  const out: number[] = [];
  for (const [k, v] of b) {
    if (left.get(k) !== v) out.push(k);
    left.delete(k);
  }
  for (const k of left.keys()) out.push(k);
  return out.sort((x, y) => x - y);
}
