/**
 * A vma's installed entries: a persistent map from page index (from the
 * vma's start) to the entry there, which also keeps how many entries it
 * holds at each level, so smaps' Rss (smaps_pmd_entry counts PMD-mapped
 * units) costs nothing however many entries a TiB mapping holds, and a
 * lookup skips the levels that have no entry.
 */
import { WideIntMap } from '../../util/wideIntMap.js';
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

export class PageTable {
  private constructor(
    private readonly map: WideIntMap<Pte>,
    private readonly counts: LevelCounts,
  ) {}

  private static readonly EMPTY = new PageTable(WideIntMap.empty<Pte>(), [0, 0, 0]);

  static empty(): PageTable {
    return PageTable.EMPTY;
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
    return new PageTable(this.map.set(key, pte), old?.level === pte.level ? this.counts : counted(this.counts, pte, old));
  }

  delete(key: number): PageTable {
    const old = this.map.get(key);
    if (old === undefined) return this;
    return new PageTable(this.map.delete(key), counted(this.counts, undefined, old));
  }

  entries(): IterableIterator<[number, Pte]> {
    return this.map.entries();
  }

  range(lo: number, hi: number): IterableIterator<[number, Pte]> {
    return this.map.range(lo, hi);
  }

  changedKeys(other: PageTable): number[] {
    return this.map.changedKeys(other.map);
  }
}
