/**
 * A mutable hash table from non-negative safe integers to values: what a
 * RerootMap keeps at the root of its tree (rerootMap.ts).
 *
 * Why not a Map: the model's tables are keyed by physical word indexes
 * (phys / 8, up to 2^50) and page numbers, most above V8's small-integer
 * range. A Map boxes each such key in a heap number, and a lookup reads the
 * bucket, the entry and the boxed key: three cache misses on a table of
 * 10^5 words touched at random (a program's stores), which is what a
 * program event mostly waits for. Here keys are doubles in one
 * Float64Array and values in a parallel array, probed linearly: a lookup
 * reads a slot of each, and storing a new key allocates nothing.
 *
 * Open addressing with linear probing (Knuth, TAOCP vol. 3, 6.4 algorithm
 * L), deletion by backward shift (algorithm R) so no tombstones build up;
 * the capacity is a power of two, doubled above half full and halved below
 * an eighth. Iteration order is the slots', not insertion order: callers
 * that need an order sort (RerootMap does).
 */

/** An empty slot: no key is negative. */
const EMPTY = -1;
const MIN_CAPACITY = 8;

export class IntTable<V> {
  private keys: Float64Array;
  private vals: Array<V | undefined>;
  private mask: number;
  /** 32 - log2(capacity): the hash's top bits pick the slot (Fibonacci hashing). */
  private shift: number;
  private count = 0;

  constructor(capacity = MIN_CAPACITY) {
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  get size(): number {
    return this.count;
  }

  /** The home slot of `k`: its low and high 32 bits mixed, multiplied by 2^32/phi, top bits. */
  private home(k: number): number {
    const lo = k >>> 0;
    const hi = (k / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding `k`, or -1. */
  private find(k: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(k);
    for (;;) {
      const x = keys[i] as number;
      if (x === k) return i;
      if (x === EMPTY) return -1;
      i = (i + 1) & mask;
    }
  }

  get(k: number): V | undefined {
    const i = this.find(k);
    return i < 0 ? undefined : this.vals[i];
  }

  has(k: number): boolean {
    return this.find(k) >= 0;
  }

  /** Store `v` at `k`; returns the value `k` had (undefined: none). One probe for both. */
  put(k: number, v: V): V | undefined {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(k);
    for (;;) {
      const x = keys[i] as number;
      if (x === k) {
        const was = this.vals[i];
        this.vals[i] = v;
        return was;
      }
      if (x === EMPTY) break;
      i = (i + 1) & mask;
    }
    keys[i] = k;
    this.vals[i] = v;
    this.count++;
    if (2 * this.count > keys.length) this.resize(keys.length * 2);
    return undefined;
  }

  /** Remove `k`; returns the value it had (undefined: none). */
  remove(k: number): V | undefined {
    let i = this.find(k);
    if (i < 0) return undefined;
    const was = this.vals[i];
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    // Backward shift: move up each later key of the run whose home is not between the hole and it (cyclically).
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = keys[j] as number;
      if (x === EMPTY) break;
      const h = this.home(x);
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      keys[i] = x;
      vals[i] = vals[j];
      i = j;
    }
    keys[i] = EMPTY;
    vals[i] = undefined;
    this.count--;
    if (keys.length > MIN_CAPACITY && 8 * this.count < keys.length) this.resize(keys.length / 2);
    return was;
  }

  private resize(cap: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k === EMPTY) continue;
      let s = this.home(k);
      while (this.keys[s] !== EMPTY) s = (s + 1) & this.mask;
      this.keys[s] = k;
      this.vals[s] = vals[i];
    }
  }

  /** A copy (a RerootMap version detached into a tree of its own). */
  copy(): IntTable<V> {
    const t = new IntTable<V>(MIN_CAPACITY);
    t.keys = this.keys.slice();
    t.vals = this.vals.slice();
    t.mask = this.mask;
    t.shift = this.shift;
    t.count = this.count;
    return t;
  }

  /** Every key, in slot order. */
  keyList(): number[] {
    const out: number[] = [];
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if ((keys[i] as number) !== EMPTY) out.push(keys[i] as number);
    return out;
  }

  /** Entries with lo <= key <= hi, in slot order (unsorted). */
  entriesIn(lo: number, hi: number, out: Array<[number, V]>): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k !== EMPTY && k >= lo && k <= hi) out.push([k, this.vals[i] as V]);
    }
  }
}
