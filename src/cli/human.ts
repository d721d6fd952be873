/**
 * The human form of a replay (SPEC §4): each event as the shell command it
 * stands for with its outcome, a read's value indented, the kernel's messages
 * dimmed, divergences and violations in red with their seq.
 */
import { shellCommand, type Outcome } from '../log/index.js';
import { failureKey, outText } from '../log/events.js';
import { isProgramEventType } from '../log/programEvents.js';
import type { Divergence, Step, Violation } from '../replay/engine.js';
import type { Colors } from './context.js';

const INDENT = '    ';

function indent(text: string, prefix = INDENT): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body
    .split('\n')
    .map((l) => `${prefix}${l}`.trimEnd())
    .join('\n');
}

/** "ok" or the errno; with `value`, a read's value too (for divergences, where it may be what differs). */
export function outcomeWord(o: Outcome, value = false): string {
  if (!o.ok) return failureKey(o);
  if (o.out !== undefined) return `ok ${outText(o.out)}`;
  if (value && o.value !== undefined) {
    const v = JSON.stringify(o.value);
    return `ok ${v.length > 60 ? `${v.slice(0, 56)}..."` : v}`;
  }
  return 'ok';
}

/** seq when the event has one, otherwise its index in the log (boot is 0). */
export function stepSeq(x: { readonly seq: number | undefined; readonly index: number }): number {
  return x.seq ?? x.index;
}

export function formatViolation(v: Violation, c: Colors): string {
  return c.red(`  ✗ violation at seq ${stepSeq(v)}: ${v.invariant}: ${v.message}`);
}

export function formatDivergence(d: Divergence, c: Colors): string {
  return c.red(`  ✗ divergence at seq ${stepSeq(d)}: recorded → ${outcomeWord(d.recorded, true)}, model → ${outcomeWord(d.model, true)}`);
}

/** One step: the command and outcome, the value read, the kernel log, then what went wrong. Newline-terminated. */
export function formatStep(step: Step, violations: readonly Violation[], divergence: Divergence | null, c: Colors): string {
  const o = step.outcome;
  const result = o.ok ? c.green(o.out !== undefined ? `ok ${outText(o.out)}` : o.value !== undefined && isProgramEventType(step.event.type) ? `ok ${o.value}` : 'ok') : c.yellow(failureKey(o));
  const lines = [`${shellCommand(step.event)}  → ${result}`];
  if (o.ok && o.value !== undefined && o.value !== '' && !isProgramEventType(step.event.type)) lines.push(indent(o.value));
  for (const msg of o.log ?? []) lines.push(c.dim(indent(msg, `${INDENT}kernel: `)));
  if (divergence !== null) lines.push(formatDivergence(divergence, c));
  for (const v of violations) lines.push(formatViolation(v, c));
  return `${lines.join('\n')}\n`;
}

/** "N events, V violations, D divergences" with the right plurals. */
export function summaryCounts(events: number, violations: number, divergences: number): string {
  const n = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;
  return `${n(events, 'event')}, ${n(violations, 'violation')}, ${n(divergences, 'divergence')}`;
}
