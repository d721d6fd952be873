/**
 * A persistent map from small non-negative integers (memory block ids) to
 * values: a 32-way trie with path copying. `set` copies at most one node per
 * level (6 levels of 32 slots cover ids below 2^30: a 2^52-byte physical
 * address space in 128 MiB blocks needs 2^25), so a step that changes
 * one block of half a million shares everything else with the previous
 * state. Iteration is in ascending key order, which is what every view and
 * invariant wants.
 */

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;
const LEVELS = 6;
export const INT_MAP_MAX_KEY = 2 ** (BITS * LEVELS) - 1;

type Node<V> = Array<Node<V> | V | undefined>;

export class IntMap<V> {
  private constructor(
    private readonly root: Node<V> | undefined,
    readonly size: number,
  ) {}

  static empty<V>(): IntMap<V> {
    return new IntMap<V>(undefined, 0);
  }

  get(key: number): V | undefined {
    // Unrolled: 6 levels, 5 bits each; keys are below 2^30, so >>> is exact.
    const n5 = this.root;
    if (n5 === undefined) return undefined;
    const n4 = n5[(key >>> 25) & MASK] as Node<V> | undefined;
    if (n4 === undefined) return undefined;
    const n3 = n4[(key >>> 20) & MASK] as Node<V> | undefined;
    if (n3 === undefined) return undefined;
    const n2 = n3[(key >>> 15) & MASK] as Node<V> | undefined;
    if (n2 === undefined) return undefined;
    const n1 = n2[(key >>> 10) & MASK] as Node<V> | undefined;
    if (n1 === undefined) return undefined;
    const n0 = n1[(key >>> 5) & MASK] as Node<V> | undefined;
    if (n0 === undefined) return undefined;
    return n0[key & MASK] as V | undefined;
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): IntMap<V> {
    if (!Number.isInteger(key) || key < 0 || key > INT_MAP_MAX_KEY) throw new RangeError(`IntMap key ${key} out of range`);
    const existed = this.get(key) !== undefined;
    const root = setIn(this.root, key, value, LEVELS - 1);
    return new IntMap<V>(root, existed ? this.size : this.size + 1);
  }

  delete(key: number): IntMap<V> {
    if (this.get(key) === undefined) return this;
    return new IntMap<V>(deleteIn(this.root, key, LEVELS - 1), this.size - 1);
  }

  /** Entries with lo <= key <= hi in ascending order. */
  *range(lo: number, hi: number): IterableIterator<[number, V]> {
    if (this.root === undefined || hi < lo) return;
    yield* walk(this.root, LEVELS - 1, 0, Math.max(0, lo), Math.min(hi, INT_MAP_MAX_KEY));
  }

  *entries(): IterableIterator<[number, V]> {
    yield* this.range(0, INT_MAP_MAX_KEY);
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *keys(): IterableIterator<number> {
    for (const [k] of this.entries()) yield k;
  }

  /**
   * Keys whose value differs (by identity) between `this` and `other`,
   * ascending. Subtrees shared by both maps are skipped without being
   * visited, so a step that touched k blocks costs O(k × depth).
   */
  changedKeys(other: IntMap<V>): number[] {
    const out: number[] = [];
    diffNodes(this.root, other.root, LEVELS - 1, 0, out);
    return out;
  }

  /** The first entry with key >= lo, or undefined. */
  firstFrom(lo: number): [number, V] | undefined {
    for (const e of this.range(lo, INT_MAP_MAX_KEY)) return e;
    return undefined;
  }
}

function setIn<V>(node: Node<V> | undefined, key: number, value: V, level: number): Node<V> {
  const copy: Node<V> = node === undefined ? new Array<Node<V> | V | undefined>(WIDTH).fill(undefined) : node.slice();
  if (level === 0) {
    copy[key & MASK] = value;
  } else {
    const idx = (key >>> (BITS * level)) & MASK;
    copy[idx] = setIn(copy[idx] as Node<V> | undefined, key, value, level - 1);
  }
  return copy;
}

function deleteIn<V>(node: Node<V> | undefined, key: number, level: number): Node<V> | undefined {
  if (node === undefined) return undefined;
  const copy = node.slice();
  if (level === 0) copy[key & MASK] = undefined;
  else {
    const idx = (key >>> (BITS * level)) & MASK;
    copy[idx] = deleteIn(copy[idx] as Node<V> | undefined, key, level - 1);
  }
  return copy.every((x) => x === undefined) ? undefined : copy;
}

function* walk<V>(node: Node<V>, level: number, base: number, lo: number, hi: number): IterableIterator<[number, V]> {
  const span = WIDTH ** level;
  for (let i = 0; i < WIDTH; i++) {
    const start = base + i * span;
    const end = start + span - 1;
    if (end < lo) continue;
    if (start > hi) return;
    const child = node[i];
    if (child === undefined) continue;
    if (level === 0) yield [start, child as V];
    else yield* walk(child as Node<V>, level - 1, start, lo, hi);
  }
}

function diffNodes<V>(a: Node<V> | undefined, b: Node<V> | undefined, level: number, base: number, out: number[]): void {
  if (a === b) return;
  const span = WIDTH ** level;
  for (let i = 0; i < WIDTH; i++) {
    const x = a?.[i];
    const y = b?.[i];
    if (x === y) continue;
    if (level === 0) out.push(base + i);
    else diffNodes(x as Node<V> | undefined, y as Node<V> | undefined, level - 1, base + i * span, out);
  }
}
