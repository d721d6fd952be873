/**
 * The `--json` documents (SPEC §4). Key order is fixed and every list is in
 * log order or sorted, so the same log gives the same bytes.
 */
import { eventToJson, outcomeToJson, type Json } from '../log/index.js';
import type { KernelState } from '../kernel/state.js';
import type { Divergence, Step, Violation } from '../replay/engine.js';
import { stateJson, viewJson, type ViewName } from '../views/index.js';
import { stepSeq } from './human.js';

/** An applied event: seq (the index when the log gives none), type, its fields, and the model's result. */
export function stepJson(step: Step): Json {
  const e = eventToJson(step.event, step.outcome);
  return { seq: stepSeq(step), ...e };
}

export function violationJson(v: Violation): Json {
  return { seq: stepSeq(v), invariant: v.invariant, message: v.message };
}

export function divergenceJson(d: Divergence): Json {
  return { seq: stepSeq(d), recorded: outcomeToJson(d.recorded), model: outcomeToJson(d.model) };
}

function list(items: readonly string[]): string {
  return items.length === 0 ? '[]' : `[\n${items.join(',\n')}\n]`;
}

export interface ReplayDocument {
  /** Each event already serialised (one JSON object each), in log order. */
  readonly events: readonly string[];
  readonly state: KernelState;
  readonly violations: readonly Violation[];
  readonly divergences: readonly Divergence[];
  /** Views asked for with --show; omitted from the document when undefined. */
  readonly views?: readonly ViewName[] | undefined;
}

/**
 * `memhp replay --json`: {"events","state","violations","divergences"} (and
 * "views" when asked for), one event, violation or divergence a line.
 */
export function renderReplayDocument(doc: ReplayDocument): string {
  const parts = [
    `"events":${list(doc.events)}`,
    `"state":${JSON.stringify(stateJson(doc.state))}`,
    `"violations":${list(doc.violations.map((v) => JSON.stringify(violationJson(v))))}`,
    `"divergences":${list(doc.divergences.map((d) => JSON.stringify(divergenceJson(d))))}`,
  ];
  if (doc.views !== undefined) {
    const views: Record<string, unknown> = {};
    for (const v of doc.views) views[v] = viewJson(v, doc.state);
    parts.push(`"views":${JSON.stringify(views)}`);
  }
  return `{${parts.join(',\n')}}\n`;
}

/** `memhp check --json`: how many events were checked, the violations and the divergences. */
export function renderCheckDocument(events: number, violations: readonly Violation[], divergences: readonly Divergence[]): string {
  const parts = [
    `"checked":${events}`,
    `"violations":${list(violations.map((v) => JSON.stringify(violationJson(v))))}`,
    `"divergences":${list(divergences.map((d) => JSON.stringify(divergenceJson(d))))}`,
  ];
  return `{${parts.join(',\n')}}\n`;
}
