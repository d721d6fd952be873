/**
 * A persistent map from integers in [0, 2^30) to values, for sparse keys (a
 * TiB mapping's touched pages, memory words): a 32-way trie whose nodes hold
 * only the children they have (a bitmap and a dense array, as in a HAMT) and
 * which keeps an entry as a leaf at the first level where its key is alone,
 * so a key costs about one leaf and a share of a small node, not a path of
 * 32-slot arrays. `set` and `delete` copy one node per level; unchanged
 * subtrees are shared, which is what `changedKeys` skips. IntMap (dense block
 * ids) stays the map for memory blocks.
 */

const BITS = 5;
const TOP_SHIFT = 25;
export const SPARSE_MAX_KEY = 2 ** 30 - 1;

class Leaf<V> {
  constructor(
    readonly key: number,
    readonly value: V,
  ) {}
}

interface Node<V> {
  readonly bitmap: number;
  readonly slots: ReadonlyArray<Node<V> | Leaf<V>>;
}

type Slot<V> = Node<V> | Leaf<V>;

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function index(key: number, shift: number): number {
  return (key >>> shift) & 31;
}

/** A node holding two leaves that share the prefix above `shift`. */
function pair<V>(a: Leaf<V>, b: Leaf<V>, shift: number): Node<V> {
  const ia = index(a.key, shift);
  const ib = index(b.key, shift);
  if (ia === ib) return { bitmap: 1 << ia, slots: [pair(a, b, shift - BITS)] };
  return { bitmap: (1 << ia) | (1 << ib), slots: ia < ib ? [a, b] : [b, a] };
}

/** Whether the last setIn added a key (a module flag rather than a result object per level: set runs on every memory store). */
let added = false;

/** `node` with `leaf` set below it (the same node when nothing changed); `added` says whether the key is new. */
function setIn<V>(node: Node<V>, leaf: Leaf<V>, shift: number): Node<V> {
  const i = index(leaf.key, shift);
  const bit = 1 << i;
  const old = node.slots;
  const pos = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    // A copy with the leaf inserted at pos, built in one pass.
    const slots = new Array<Slot<V>>(old.length + 1);
    for (let k = 0; k < pos; k++) slots[k] = old[k] as Slot<V>;
    slots[pos] = leaf;
    for (let k = pos; k < old.length; k++) slots[k + 1] = old[k] as Slot<V>;
    added = true;
    return { bitmap: node.bitmap | bit, slots };
  }
  const slot = old[pos] as Slot<V>;
  let next: Slot<V>;
  if (slot instanceof Leaf) {
    if (slot.key === leaf.key) {
      added = false;
      if (slot.value === leaf.value) return node;
      next = leaf;
    } else {
      next = pair(slot, leaf, shift - BITS);
      added = true;
    }
  } else {
    next = setIn(slot, leaf, shift - BITS);
    if (next === slot) return node;
  }
  const slots = old.slice();
  slots[pos] = next;
  return { bitmap: node.bitmap, slots };
}

function deleteIn<V>(node: Node<V>, key: number, shift: number): Slot<V> | null | undefined {
  // undefined: key absent (unchanged); null: the node became empty.
  const i = index(key, shift);
  const bit = 1 << i;
  if ((node.bitmap & bit) === 0) return undefined;
  const pos = popcount(node.bitmap & (bit - 1));
  const slot = node.slots[pos] as Slot<V>;
  let next: Slot<V> | null;
  if (slot instanceof Leaf) {
    if (slot.key !== key) return undefined;
    next = null;
  } else {
    const r = deleteIn(slot, key, shift - BITS);
    if (r === undefined) return undefined;
    next = r;
  }
  const slots = node.slots.slice();
  let bitmap = node.bitmap;
  if (next === null) {
    slots.splice(pos, 1);
    bitmap &= ~bit;
  } else slots[pos] = next;
  if (slots.length === 0) return null;
  // A node left with one leaf is that leaf: keys stay at the first level where they are alone.
  if (slots.length === 1 && slots[0] instanceof Leaf && shift !== TOP_SHIFT) return slots[0];
  return { bitmap, slots };
}

function* walk<V>(slot: Slot<V>, lo: number, hi: number, shift: number, base: number): Generator<[number, V]> {
  if (slot instanceof Leaf) {
    if (slot.key >= lo && slot.key <= hi) yield [slot.key, slot.value];
    return;
  }
  const span = 2 ** shift;
  let k = 0;
  for (let i = 0; i < 32; i++) {
    if ((slot.bitmap & (1 << i)) === 0) continue;
    const child = slot.slots[k++] as Slot<V>;
    const from = base + i * span;
    if (from + span - 1 < lo || from > hi) continue;
    yield* walk(child, lo, hi, shift - BITS, from);
  }
}

/** walk with a callback: no generator frame per level and entry (invariants scan whole tables with it). */
function visit<V>(slot: Slot<V>, lo: number, hi: number, shift: number, base: number, fn: (key: number, value: V) => void): void {
  if (slot instanceof Leaf) {
    if (slot.key >= lo && slot.key <= hi) fn(slot.key, slot.value);
    return;
  }
  const span = 2 ** shift;
  let k = 0;
  for (let i = 0; i < 32; i++) {
    if ((slot.bitmap & (1 << i)) === 0) continue;
    const child = slot.slots[k++] as Slot<V>;
    const from = base + i * span;
    if (from + span - 1 < lo || from > hi) continue;
    visit(child, lo, hi, shift - BITS, from, fn);
  }
}

function collect<V>(slot: Slot<V> | undefined, out: Map<number, V>): void {
  if (slot === undefined) return;
  if (slot instanceof Leaf) out.set(slot.key, slot.value);
  else for (const s of slot.slots) collect(s, out);
}

function diff<V>(a: Slot<V> | undefined, b: Slot<V> | undefined, out: number[]): void {
  if (a === b) return;
  if (a !== undefined && b !== undefined && !(a instanceof Leaf) && !(b instanceof Leaf)) {
    // Only the slots either node has, lowest first (bits & -bits isolates the lowest set bit).
    for (let bits = a.bitmap | b.bitmap; bits !== 0; bits &= bits - 1) {
      const bit = bits & -bits;
      const ca = (a.bitmap & bit) === 0 ? undefined : a.slots[popcount(a.bitmap & (bit - 1))];
      const cb = (b.bitmap & bit) === 0 ? undefined : b.slots[popcount(b.bitmap & (bit - 1))];
      diff(ca, cb, out);
    }
    return;
  }
  const ma = new Map<number, V>();
  const mb = new Map<number, V>();
  collect(a, ma);
  collect(b, mb);
  for (const [k, v] of ma) if (!mb.has(k) || mb.get(k) !== v) out.push(k);
  for (const k of mb.keys()) if (!ma.has(k)) out.push(k);
}

const EMPTY_NODE: Node<never> = { bitmap: 0, slots: [] };

export class SparseIntMap<V> {
  private constructor(
    private readonly root: Node<V>,
    readonly size: number,
  ) {}

  private static readonly EMPTY = new SparseIntMap<never>(EMPTY_NODE, 0);

  static empty<V>(): SparseIntMap<V> {
    return SparseIntMap.EMPTY as SparseIntMap<V>;
  }

  get(key: number): V | undefined {
    let slot: Slot<V> = this.root;
    let shift = TOP_SHIFT;
    for (;;) {
      if (slot instanceof Leaf) return slot.key === key ? slot.value : undefined;
      const bit = 1 << index(key, shift);
      if ((slot.bitmap & bit) === 0) return undefined;
      slot = slot.slots[popcount(slot.bitmap & (bit - 1))] as Slot<V>;
      shift -= BITS;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): SparseIntMap<V> {
    if (!Number.isInteger(key) || key < 0 || key > SPARSE_MAX_KEY) throw new RangeError(`SparseIntMap key ${key} out of range`);
    const root = setIn(this.root, new Leaf(key, value), TOP_SHIFT);
    return root === this.root ? this : new SparseIntMap(root, added ? this.size + 1 : this.size);
  }

  delete(key: number): SparseIntMap<V> {
    const r = deleteIn(this.root, key, TOP_SHIFT);
    if (r === undefined) return this;
    if (r === null) return SparseIntMap.empty<V>();
    return new SparseIntMap(r instanceof Leaf ? { bitmap: 1 << index(r.key, TOP_SHIFT), slots: [r] } : r, this.size - 1);
  }

  /** Entries with lo <= key <= hi, ascending. */
  range(lo: number, hi: number): IterableIterator<[number, V]> {
    return walk(this.root, lo, hi, TOP_SHIFT, 0);
  }

  entries(): IterableIterator<[number, V]> {
    return this.range(0, SPARSE_MAX_KEY);
  }

  /** `fn` on each entry with lo <= key <= hi, ascending (range without an iterator). */
  forEachIn(lo: number, hi: number, fn: (key: number, value: V) => void): void {
    visit(this.root, lo, hi, TOP_SHIFT, 0, fn);
  }

  /** Keys whose value differs from `other` (or present in one only), unordered; shared subtrees are skipped. */
  changedKeys(other: SparseIntMap<V>): number[] {
    const out: number[] = [];
    diff(this.root, other.root, out);
    return out;
  }
}
