/**
 * A vma's installed entries: a persistent map from page index (from the
 * vma's start) to the entry there, which also keeps how many entries it
 * holds at each level, so smaps' Rss (smaps_pmd_entry counts PMD-mapped
 * units) costs nothing however many entries a TiB mapping holds, and a
 * lookup skips the levels that have no entry.
 */
import { WideIntMap } from '../../util/wideIntMap.js';
import { differingKeys, RerootMap } from '../../util/rerootMap.js';

/**
 * What a table keeps its entries in: a persistent trie (WideIntMap) for
 * anonymous vmas, whose invariants read a step's tables before and after
 * key by key and walk them whole; a rerooting map (RerootMap) for file
 * (device-dax) vmas, where a replay reads and extends only the newest table
 * (a fault: one Map lookup and one insert, not a path of trie nodes).
 */
interface EntryMap {
  readonly size: number;
  get(key: number): Pte | undefined;
  set(key: number, pte: Pte): EntryMap;
  delete(key: number): EntryMap;
  range(lo: number, hi: number): IterableIterator<[number, Pte]>;
  entries(): IterableIterator<[number, Pte]>;
  forEachIn(lo: number, hi: number, fn: (key: number, pte: Pte) => void): void;
  changedKeys(other: EntryMap): number[];
}
import type { Pte } from './types.js';

/** Entries per level: [pte, pmd, pud]. */
type LevelCounts = readonly [number, number, number];
const LEVEL_INDEX = { pte: 0, pmd: 1, pud: 2 } as const;

function counted(c: LevelCounts, add: Pte | undefined, remove: Pte | undefined): LevelCounts {
  const out: [number, number, number] = [c[0], c[1], c[2]];
  if (add !== undefined) out[LEVEL_INDEX[add.level]] += 1;
  if (remove !== undefined) out[LEVEL_INDEX[remove.level]] -= 1;
  return out;
}

/** Serial numbers of tables (0: the empty table), so a table can name the one it was made from without holding it. */
let serial = 0;

export class PageTable {
  private readonly id = serial++;
  /**
   * The last changedKeys answer worked out by comparing whole maps, and the
   * table (by serial, not held: a table must not keep its predecessors
   * alive) it was against: a THP split changes 512 entries, and every
   * anonymous invariant asks the same step's tables for the same keys.
   */
  private diffWith = -1;
  private diffKeys: readonly number[] = [];

  private constructor(
    private readonly map: EntryMap,
    private readonly counts: LevelCounts,
    /** The table this one is `from.set(key, ...)` or `from.delete(key)` of (-1: unknown): one fault's diff is that key. */
    private readonly from: number = -1,
    private readonly key: number = -1,
    /** The entry that `set` put at `key` (undefined after a `delete`). */
    private readonly value: Pte | undefined = undefined,
  ) {}

  private static readonly EMPTY = new PageTable(WideIntMap.empty<Pte>(), [0, 0, 0]);
  private static readonly EMPTY_FILE = new PageTable(RerootMap.empty<Pte>(), [0, 0, 0]);

  /** An anonymous vma's empty table. */
  static empty(): PageTable {
    return PageTable.EMPTY;
  }

  /** A file (device-dax) vma's empty table. */
  static emptyFile(): PageTable {
    return PageTable.EMPTY_FILE;
  }

  /** An empty table of the same kind (a split, a move or a fork's copy of this one). */
  emptyLike(): PageTable {
    return this.map instanceof RerootMap ? PageTable.EMPTY_FILE : PageTable.EMPTY;
  }

  get size(): number {
    return this.map.size;
  }

  /** PMD-level entries (what smaps' Rss counts on 6.1). */
  get pmdCount(): number {
    return this.counts[1];
  }

  /** Whether any entry sits at `level` (a lookup at a level with none is skipped). */
  hasLevel(level: Pte['level']): boolean {
    return this.counts[LEVEL_INDEX[level]] > 0;
  }

  get(key: number): Pte | undefined {
    return this.map.get(key);
  }

  set(key: number, pte: Pte): PageTable {
    const old = this.map.get(key);
    if (old === pte) return this;
    return new PageTable(this.map.set(key, pte), old?.level === pte.level ? this.counts : counted(this.counts, pte, old), this.id, key, pte);
  }

  delete(key: number): PageTable {
    const old = this.map.get(key);
    if (old === undefined) return this;
    return new PageTable(this.map.delete(key), counted(this.counts, undefined, old), this.id, key);
  }

  entries(): IterableIterator<[number, Pte]> {
    return this.map.entries();
  }

  /** `fn` on every entry, ascending (entries without an iterator: whole-table scans in invariants). */
  forEach(fn: (key: number, pte: Pte) => void): void {
    this.map.forEachIn(0, Number.MAX_SAFE_INTEGER, fn);
  }

  range(lo: number, hi: number): IterableIterator<[number, Pte]> {
    return this.map.range(lo, hi);
  }

  /**
   * Keys whose entry differs from `other`, unordered. A table one `set` or
   * `delete` away from `other` (the commonest step: one fault) answers with
   * that key without walking the maps.
   */
  /** The key and its entry (undefined: deleted) when this table is one `set` or `delete` away from `other`; null otherwise. */
  lastChange(other: PageTable): readonly [number, Pte | undefined] | null {
    return this.from === other.id ? [this.key, this.value] : null;
  }

  changedKeys(other: PageTable): readonly number[] {
    if (other === this) return [];
    if (this.from === other.id) return [this.key];
    if (other.from === this.id) return [other.key];
    if (this.diffWith === other.id) return this.diffKeys;
    // A file vma's table against an anonymous one's (a MAP_FIXED anonymous mapping over a file mapping at the
    // same start): different kinds share no structure, so every key of either is compared.
    const keys = this.map instanceof RerootMap !== other.map instanceof RerootMap ? differingKeys(this.map.entries(), other.map.entries()) : this.map.changedKeys(other.map);
    this.diffWith = other.id;
    this.diffKeys = Object.freeze(keys);
    return this.diffKeys;
  }
}
