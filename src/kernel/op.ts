/**
 * One kernel operation in progress: the current state (replaced, never
 * mutated, at each kernel step), the kernel messages printed so far, and the
 * fault-injection hook. Kernel mirrors take an Op so they read like the C
 * they mirror, including its unwind paths; the pre-operation state stays
 * intact for the invariants that compare before and after.
 */
import type { Errno } from './errno.js';
import type { KernelState } from './state.js';
import type { InjectSite } from '../log/events.js';

export class Op {
  readonly log: string[] = [];
  /** Failure branches taken, `function:errno`, for coverage. */
  readonly branches: string[] = [];
  /** Resources or memory the kernel path knowingly leaves behind on failure (SPEC §5 failed-op-unchanged). */
  readonly leaks: string[] = [];
  /** Machine transitions taken, `machine:context:source:event`, for coverage against the derived tables. */
  readonly transitions: string[] = [];

  constructor(public state: KernelState) {}

  /** pr_warn / dev_warn / pr_info: the kernel message, verbatim where the kernel prints one. */
  print(line: string): void {
    this.log.push(line);
  }

  /** Record that a mirrored function returned an error through a named branch. */
  branch(fn: string, errno: Errno | string): void {
    this.branches.push(`${fn}:${errno}`);
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
      this.state = { ...this.state, faults: rest };
      this.branch(`inject(${site})`, f.errno);
      return f.errno;
    }
    rest[i] = { ...f, skip: f.skip - 1 };
    this.state = { ...this.state, faults: rest };
    return null;
  }
}
