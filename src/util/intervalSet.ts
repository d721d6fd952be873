/**
 * An immutable set of non-negative integers kept as sorted, disjoint,
 * non-adjacent half-open runs [start, end): the pages kmem holds of a
 * persistent device, which are a few runs however large the device (a fresh
 * BLK device holds [0, 1+n), a disk written front to back one more run).
 * Every update copies the run array, so the cost follows the number of
 * runs, not the number of members.
 */
export class IntervalSet {
  private constructor(
    /** start0, end0, start1, end1, ... */
    private readonly runs: readonly number[],
    readonly size: number,
  ) {}

  static readonly EMPTY = new IntervalSet([], 0);

  /** [start, end), or the empty set when end <= start. */
  static range(start: number, end: number): IntervalSet {
    return end <= start ? IntervalSet.EMPTY : new IntervalSet([start, end], end - start);
  }

  /** The index of the first run whose end is above x (the run holding x, or the next one). */
  private find(x: number): number {
    const r = this.runs;
    let lo = 0;
    let hi = r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((r[mid * 2 + 1] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(x: number): boolean {
    const i = this.find(x);
    return i * 2 < this.runs.length && (this.runs[i * 2] as number) <= x;
  }

  add(x: number): IntervalSet {
    return this.addRange(x, x + 1);
  }

  delete(x: number): IntervalSet {
    return this.deleteRange(x, x + 1);
  }

  /** The union with [start, end). */
  addRange(start: number, end: number): IntervalSet {
    if (end <= start) return this;
    const r = this.runs;
    const out: number[] = [];
    let size = 0;
    let i = 0;
    // Runs wholly before [start, end) and not touching it.
    while (i < r.length && (r[i + 1] as number) < start) {
      out.push(r[i] as number, r[i + 1] as number);
      size += (r[i + 1] as number) - (r[i] as number);
      i += 2;
    }
    let s = start;
    let e = end;
    // Runs that overlap or touch it merge into one.
    while (i < r.length && (r[i] as number) <= end) {
      s = Math.min(s, r[i] as number);
      e = Math.max(e, r[i + 1] as number);
      i += 2;
    }
    out.push(s, e);
    size += e - s;
    for (; i < r.length; i += 2) {
      out.push(r[i] as number, r[i + 1] as number);
      size += (r[i + 1] as number) - (r[i] as number);
    }
    return size === this.size ? this : new IntervalSet(out, size);
  }

  /** This set less [start, end). */
  deleteRange(start: number, end: number): IntervalSet {
    if (end <= start) return this;
    const r = this.runs;
    const out: number[] = [];
    let size = 0;
    for (let i = 0; i < r.length; i += 2) {
      const s = r[i] as number;
      const e = r[i + 1] as number;
      if (e <= start || s >= end) {
        out.push(s, e);
        size += e - s;
        continue;
      }
      if (s < start) {
        out.push(s, start);
        size += start - s;
      }
      if (e > end) {
        out.push(end, e);
        size += e - end;
      }
    }
    return size === this.size ? this : new IntervalSet(out, size);
  }

  /**
   * The smallest x in [lo, hi) not in the set that `allowed` accepts, or
   * null. `allowed(x)` answers with the smallest acceptable y >= x (or null
   * when there is none), so whole stretches it refuses are skipped at once.
   */
  firstAbsent(lo: number, hi: number, allowed: (x: number) => number | null = (x) => x): number | null {
    let x = lo;
    while (x < hi) {
      const i = this.find(x);
      const s = i * 2 < this.runs.length ? (this.runs[i * 2] as number) : Number.POSITIVE_INFINITY;
      if (x >= s) {
        x = this.runs[i * 2 + 1] as number;
        continue;
      }
      // x is in the gap [x, s): the first allowed member of it, if any, else go on past s.
      const y = allowed(x);
      if (y === null || y >= hi) return null;
      if (y < s) return y;
      x = y;
    }
    return null;
  }

  /** Members within [lo, hi). */
  countIn(lo: number, hi: number): number {
    let n = 0;
    for (let i = 0; i < this.runs.length; i += 2) {
      const s = Math.max(lo, this.runs[i] as number);
      const e = Math.min(hi, this.runs[i + 1] as number);
      if (e > s) n += e - s;
    }
    return n;
  }

  /** The runs as [start, end) pairs, ascending. */
  *spans(): IterableIterator<readonly [number, number]> {
    for (let i = 0; i < this.runs.length; i += 2) yield [this.runs[i] as number, this.runs[i + 1] as number];
  }

  /** A canonical text (fingerprints, messages): "0-65,70-71". */
  toString(): string {
    const parts: string[] = [];
    for (const [s, e] of this.spans()) parts.push(`${s}-${e}`);
    return parts.join(',');
  }
}
