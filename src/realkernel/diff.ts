/**
 * A recorded log against the model: replay it (the engine compares every
 * recorded result with the model's, see src/replay/compare.ts) and describe
 * each divergence so a person can decide whether the model or the kernel is
 * the one to read.
 */
import type { LogEvent, Outcome } from '../log/events.js';
import { failureKey, outText } from '../log/events.js';
import { shellCommand } from '../log/shell.js';
import { replay, type Checker, type Violation } from '../replay/engine.js';

export interface DivergenceDetail {
  readonly seq: number | undefined;
  /** Index in the log (boot is 0). */
  readonly index: number;
  readonly event: LogEvent;
  readonly recorded: Outcome;
  readonly model: Outcome;
}

export interface Comparison {
  readonly divergences: readonly DivergenceDetail[];
  readonly violations: readonly Violation[];
  readonly steps: number;
}

/** Replay a recorded log on the model; every divergence and invariant violation. */
export function compareWithModel(events: readonly LogEvent[], check?: Checker): Comparison {
  const r = replay(events, { ...(check === undefined ? {} : { check }), keepSteps: true });
  const divergences = r.divergences.map((d) => {
    const event = r.steps[d.index]?.event ?? events[d.index];
    if (event === undefined) throw new Error(`model bug: no event at index ${d.index}`);
    return { seq: d.seq, index: d.index, event, recorded: d.recorded, model: d.model };
  });
  return { divergences, violations: r.violations, steps: r.events };
}

/** A short name for an outcome ("ok", "EBUSY", "ok (value)"). */
export function outcomeKey(o: Outcome): string {
  return o.ok ? (o.value === undefined ? 'ok' : 'ok+value') : failureKey(o);
}

/** The lines only one side has, for a read whose values differ ("- kernel", "+ model"). */
export function valueDiff(recorded: string, model: string): string[] {
  const a = recorded.split('\n');
  const b = model.split('\n');
  // Longest common subsequence on lines: these texts are short (/proc/iomem is ~30 lines).
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] = a[i] === b[j] ? ((lcs[i + 1] as number[])[j + 1] as number) + 1 : Math.max((lcs[i + 1] as number[])[j] as number, row[j + 1] as number);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (j >= m || (i < n && ((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number))) {
      out.push(`- kernel: ${JSON.stringify(a[i])}`);
      i++;
    } else {
      out.push(`+ model:  ${JSON.stringify(b[j])}`);
      j++;
    }
  }
  return out;
}

function outcomeText(o: Outcome): string {
  if (!o.ok) return failureKey(o);
  if (o.out !== undefined) return `ok ${outText(o.out)}`;
  if (o.value === undefined) return 'ok';
  const v = JSON.stringify(o.value);
  return `ok ${v.length > 70 ? `${v.slice(0, 66)}..."` : v}`;
}

/** A divergence in a few lines: the command, both outcomes, the differing lines of a read, the kernel's messages. */
export function describeDivergence(d: DivergenceDetail): string {
  const lines = [`seq ${d.seq ?? d.index}: ${shellCommand(d.event)}`, `  kernel → ${outcomeText(d.recorded)}`, `  model  → ${outcomeText(d.model)}`];
  if (d.recorded.ok && d.model.ok && d.recorded.value !== undefined && d.model.value !== undefined) {
    lines.push(...valueDiff(d.recorded.value, d.model.value).slice(0, 20).map((l) => `    ${l}`));
  }
  for (const msg of d.recorded.log ?? []) lines.push(`    kernel said: ${msg}`);
  for (const msg of d.model.log ?? []) lines.push(`    model said:  ${msg}`);
  return lines.join('\n');
}
