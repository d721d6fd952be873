/**
 * A persistent map from small non-negative integers (memory block ids) to
 * values: a 32-way trie with path copying, as deep as its largest key needs
 * (4 levels hold a million ids, 6 levels 2^30: a 2^52-byte physical space in
 * 128 MiB blocks needs 2^25). `set` copies one node per level, so a step that
 * changes one block of half a million shares everything else with the
 * previous state. Iteration is in ascending key order, which is what every
 * view and invariant wants.
 */

const BITS = 5;
const EMPTY_ITERATOR: IterableIterator<never> = [][Symbol.iterator]();
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;
const MAX_LEVELS = 6;
export const INT_MAP_MAX_KEY = 2 ** (BITS * MAX_LEVELS) - 1;

type Node<V> = Array<Node<V> | V | undefined>;

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < 0 || key > INT_MAP_MAX_KEY) throw new RangeError(`IntMap key ${key} out of range`);
}

/** Levels needed for `key` (at least one). */
function levelsFor(key: number): number {
  let levels = 1;
  while (levels < MAX_LEVELS && key >>> (BITS * levels) !== 0) levels++;
  return levels;
}

export class IntMap<V> {
  /**
   * The last key looked up or set and its value: a kernel path reads the
   * block it works on several times (device_offline, memory_block_change_state,
   * offline_pages, ...), and a state is read right after the set that made it.
   * A cache on an immutable map: it never changes what `get` returns.
   */
  private lastKey = -1;
  private lastValue: V | undefined = undefined;

  private constructor(
    private readonly root: Node<V> | undefined,
    /** Trie depth: keys below 2^(5 × levels). */
    private readonly levels: number,
    readonly size: number,
  ) {}

  static empty<V>(): IntMap<V> {
    return new IntMap<V>(undefined, 1, 0);
  }

  /**
   * A map of these entries, built in place (no path copying): boot and
   * hot-add create many blocks at once. Later entries win over earlier ones
   * with the same key.
   */
  static of<V>(entries: Iterable<readonly [number, V]>): IntMap<V> {
    return IntMap.empty<V>().setAll(entries);
  }

  /**
   * This map with every entry of `entries` set: each trie node on the way is
   * copied once for the whole batch (then written in place), not once per
   * entry as a chain of `set` calls would.
   */
  setAll(entries: Iterable<readonly [number, V]>): IntMap<V> {
    const list = [...entries];
    if (list.length === 0) return this;
    let levels = this.levels;
    for (const [k] of list) {
      checkKey(k);
      levels = Math.max(levels, levelsFor(k));
    }
    const fresh = new Set<Node<V>>();
    const own = (n: Node<V> | undefined): Node<V> => {
      if (n !== undefined && fresh.has(n)) return n;
      const c: Node<V> = n === undefined ? new Array<Node<V> | V | undefined>(WIDTH).fill(undefined) : n.slice();
      fresh.add(c);
      return c;
    };
    let root = this.root;
    for (let l = this.levels; l < levels; l++) {
      if (root === undefined) continue;
      const up = own(undefined);
      up[0] = root;
      root = up;
    }
    root = own(root);
    let size = this.size;
    for (const [k, v] of list) {
      let node = root;
      for (let shift = BITS * (levels - 1); shift > 0; shift -= BITS) {
        const i = (k >>> shift) & MASK;
        const child = own(node[i] as Node<V> | undefined);
        node[i] = child;
        node = child;
      }
      if (node[k & MASK] === undefined) size++;
      node[k & MASK] = v;
    }
    return new IntMap<V>(root, levels, size);
  }

  get(key: number): V | undefined {
    if (key === this.lastKey) return this.lastValue;
    if (key >>> (BITS * this.levels) !== 0 || key < 0) return undefined;
    let node = this.root;
    for (let shift = BITS * (this.levels - 1); shift > 0; shift -= BITS) {
      if (node === undefined) return undefined;
      node = node[(key >>> shift) & MASK] as Node<V> | undefined;
    }
    const v = node === undefined ? undefined : (node[key & MASK] as V | undefined);
    this.lastKey = key;
    this.lastValue = v;
    return v;
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): IntMap<V> {
    checkKey(key);
    const existed = this.get(key) !== undefined;
    // Grow: the old root becomes child 0 of each new level.
    let root = this.root;
    let levels = this.levels;
    const need = levelsFor(key);
    while (levels < need) {
      if (root !== undefined) {
        const up: Node<V> = new Array<Node<V> | V | undefined>(WIDTH).fill(undefined);
        up[0] = root;
        root = up;
      }
      levels++;
    }
    const next = new IntMap<V>(setIn(root, key, value, levels - 1), levels, existed ? this.size : this.size + 1);
    next.lastKey = key;
    next.lastValue = value;
    return next;
  }

  delete(key: number): IntMap<V> {
    if (this.get(key) === undefined) return this;
    return new IntMap<V>(deleteIn(this.root, key, this.levels - 1), this.levels, this.size - 1);
  }

  /** Entries with lo <= key <= hi in ascending order. */
  range(lo: number, hi: number): IterableIterator<[number, V]> {
    const l = Math.max(0, lo);
    const h = Math.min(hi, INT_MAP_MAX_KEY);
    if (this.root === undefined || h < l || l >>> (BITS * this.levels) !== 0) return EMPTY_ITERATOR as IterableIterator<[number, V]>;
    return new RangeIterator<V>(this.root, this.levels, l, h);
  }

  entries(): IterableIterator<[number, V]> {
    return this.range(0, INT_MAP_MAX_KEY);
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
    const levels = Math.max(this.levels, other.levels);
    diffNodes(lift(this.root, this.levels, levels), lift(other.root, other.levels, levels), levels - 1, 0, out);
    return out;
  }

  /** The first entry with key >= lo, or undefined. */
  firstFrom(lo: number): [number, V] | undefined {
    for (const e of this.range(lo, INT_MAP_MAX_KEY)) return e;
    return undefined;
  }
}

/** The same trie seen at a greater depth (only when two maps of different depth are compared). */
function lift<V>(root: Node<V> | undefined, from: number, to: number): Node<V> | undefined {
  let r = root;
  for (let l = from; l < to && r !== undefined; l++) {
    const up: Node<V> = new Array<Node<V> | V | undefined>(WIDTH).fill(undefined);
    up[0] = r;
    r = up;
  }
  return r;
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

/**
 * In-order traversal of [lo, hi] with an explicit stack: nested generators
 * (yield* per level) cost several times more per entry, and views,
 * invariants and the generator iterate blocks on every step.
 */
class RangeIterator<V> implements IterableIterator<[number, V]> {
  /** Per level from the root: the node, its first key, and the next child index. */
  private readonly nodes: Array<Node<V>> = [];
  private readonly bases: number[] = [];
  private readonly nextIndex: number[] = [];
  private depth: number;

  constructor(
    root: Node<V>,
    private readonly levels: number,
    private readonly lo: number,
    private readonly hi: number,
  ) {
    this.nodes.push(root);
    this.bases.push(0);
    this.nextIndex.push((lo >>> (BITS * (levels - 1))) & MASK);
    this.depth = 0;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this;
  }

  next(): IteratorResult<[number, V]> {
    while (this.depth >= 0) {
      const d = this.depth;
      const node = this.nodes[d] as Node<V>;
      const level = this.levels - 1 - d;
      const shift = BITS * level;
      let i = this.nextIndex[d] as number;
      const base = this.bases[d] as number;
      const span = 1 << shift;
      for (; i < WIDTH; i++) {
        const start = base + i * span;
        if (start > this.hi) {
          i = WIDTH;
          break;
        }
        const child = node[i];
        if (child === undefined) continue;
        // No child before lo is ever visited: each node on lo's path starts at lo's index.
        if (level === 0) {
          this.nextIndex[d] = i + 1;
          return { done: false, value: [start, child as V] };
        }
        this.nextIndex[d] = i + 1;
        this.nodes[d + 1] = child as Node<V>;
        this.bases[d + 1] = start;
        // Children of the first node on the path start at lo's index; later ones at 0.
        this.nextIndex[d + 1] = start < this.lo ? (this.lo >>> (shift - BITS)) & MASK : 0;
        this.depth = d + 1;
        break;
      }
      if (i >= WIDTH) this.depth = d - 1;
    }
    return { done: true, value: undefined };
  }
}

function diffNodes<V>(a: Node<V> | undefined, b: Node<V> | undefined, level: number, base: number, out: number[]): void {
  if (a === b) return;
  const span = 1 << (BITS * level);
  for (let i = 0; i < WIDTH; i++) {
    const x = a?.[i];
    const y = b?.[i];
    if (x === y) continue;
    if (level === 0) out.push(base + i);
    else diffNodes(x as Node<V> | undefined, y as Node<V> | undefined, level - 1, base + i * span, out);
  }
}
