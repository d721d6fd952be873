/**
 * One kernel operation in progress: the current state (replaced, never
 * mutated, at each kernel step), the kernel messages printed so far, and the
 * fault-injection hook. Kernel mirrors take an Op so they read like the C
 * they mirror, including its unwind paths; the pre-operation state stays
 * intact for the invariants that compare before and after.
 */
import type { Errno } from './errno.js';
import { withState, type KernelState, type MemoryBlock } from './state.js';
import type { InjectSite } from '../log/events.js';

const NONE: readonly string[] = Object.freeze([]);
const NO_CHANGES: readonly BlockChange[] = Object.freeze([]);

/** One memory block's change within an operation. */
export interface BlockChange {
  readonly id: number;
  readonly before: MemoryBlock | undefined;
  readonly after: MemoryBlock | undefined;
}

export class Op {
  // Most steps print nothing and take no failure branch: the lists are made on first use.
  private printed: string[] | null = null;
  private taken: string[] | null = null;
  private leaked: string[] | null = null;
  private moved: string[] | null = null;
  private single: BlockChange | null = null;
  private touched: Map<number, BlockChange> | null = null;

  constructor(public state: KernelState) {}

  /** Kernel messages printed so far. */
  get log(): readonly string[] {
    return this.printed ?? NONE;
  }
  /** Failure branches taken, `function:errno`, for coverage. */
  get branches(): readonly string[] {
    return this.taken ?? NONE;
  }
  /** Resources or memory the kernel path knowingly leaves behind on failure (SPEC §5 failed-op-unchanged). */
  get leaks(): readonly string[] {
    return this.leaked ?? NONE;
  }
  /** Machine transitions taken, `machine:context:source:event`, for coverage against the derived tables. */
  get transitions(): readonly string[] {
    return this.moved ?? NONE;
  }

  /** pr_warn / dev_warn / pr_info: the kernel message, verbatim where the kernel prints one. */
  print(line: string): void {
    (this.printed ??= []).push(line);
  }

  /** Record that a mirrored function returned an error through a named branch. */
  branch(fn: string, errno: Errno | string): void {
    (this.taken ??= []).push(`${fn}:${errno}`);
  }

  leak(what: string): void {
    (this.leaked ??= []).push(what);
  }

  transition(t: string): void {
    (this.moved ??= []).push(t);
  }

  /**
   * Record that memory block `id` goes from `before` to `after` (undefined:
   * absent). The first `before` and the last `after` of the operation are
   * kept, so invariants see each touched block's change without looking it up.
   */
  touch(id: number, before: MemoryBlock | undefined, after: MemoryBlock | undefined): void {
    // Most operations touch one block: kept in a field, a Map only from the second block on.
    const one = this.single;
    if (one === null || one.id === id) {
      if (this.touched === null) {
        this.single = { id, before: one === null ? before : one.before, after };
        return;
      }
    } else if (this.touched === null) {
      this.touched = new Map([[one.id, one]]);
    }
    const m = this.touched as Map<number, BlockChange>;
    const had = m.get(id);
    m.set(id, { id, before: had === undefined ? before : had.before, after });
  }

  /** The blocks this operation touched, ascending by id. */
  get blockChanges(): readonly BlockChange[] {
    const t = this.touched;
    if (t === null) return this.single === null ? NO_CHANGES : [this.single];
    const list = [...t.values()];
    return list.sort((a, b) => a.id - b.id);
  }

  /** Consume an injected fault at `site`: the errno to fail with, or null to proceed. */
  inject(site: InjectSite): Errno | null {
    const faults = this.state.faults;
    const i = faults.findIndex((f) => f.site === site);
    if (i < 0) return null;
    const f = faults[i]!;
    const rest = faults.slice();
    if (f.skip === 0) {
      rest.splice(i, 1);
      this.state = withState(this.state, { faults: rest });
      this.branch(`inject(${site})`, f.errno);
      return f.errno;
    }
    rest[i] = { ...f, skip: f.skip - 1 };
    this.state = withState(this.state, { faults: rest });
    return null;
  }
}
