/**
 * A vma's installed entries: a persistent map from page index (from the
 * vma's start) to the entry there, which also keeps how many entries it
 * holds at each level, so smaps' Rss (smaps_pmd_entry counts PMD-mapped
 * units) costs nothing however many entries a TiB mapping holds.
 */
import { WideIntMap } from '../../util/wideIntMap.js';
import type { Pte } from './types.js';

export class PageTable {
  private constructor(
    private readonly map: WideIntMap<Pte>,
    private readonly pmds: number,
  ) {}

  private static readonly EMPTY = new PageTable(WideIntMap.empty<Pte>(), 0);

  static empty(): PageTable {
    return PageTable.EMPTY;
  }

  get size(): number {
    return this.map.size;
  }

  /** PMD-level entries (what smaps' Rss counts on 6.1). */
  get pmdCount(): number {
    return this.pmds;
  }

  get(key: number): Pte | undefined {
    return this.map.get(key);
  }

  set(key: number, pte: Pte): PageTable {
    const old = this.map.get(key);
    return new PageTable(this.map.set(key, pte), this.pmds + (pte.level === 'pmd' ? 1 : 0) - (old?.level === 'pmd' ? 1 : 0));
  }

  delete(key: number): PageTable {
    const old = this.map.get(key);
    if (old === undefined) return this;
    return new PageTable(this.map.delete(key), this.pmds - (old.level === 'pmd' ? 1 : 0));
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
