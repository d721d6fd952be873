/**
 * Test helpers: replay JSONL text, and build a Step from two states for
 * invariant tests that tamper with a state by hand.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KernelState } from '../../src/kernel/state.js';
import type { LogEvent, Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay, type Checker, type ReplayResult, type Step } from '../../src/replay/engine.js';

export function examplePath(name: string): string {
  return fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
}

export function exampleText(name: string): string {
  return readFileSync(examplePath(name), 'utf8');
}

export function events(text: string, file = 'test.jsonl'): LogEvent[] {
  return parseLogText(text, file).map((l) => l.event);
}

export function run(text: string, check?: Checker): ReplayResult {
  return replay(events(text), check === undefined ? {} : { check });
}

/** A step that turned `before` into `after` (a harmless read unless told otherwise). */
export function stepOf(before: KernelState | null, after: KernelState, outcome: Outcome = { ok: true }, extra: Partial<Step> = {}): Step {
  return {
    index: 1,
    seq: 1,
    event: { type: 'read', path: '/proc/iomem' },
    outcome,
    before,
    after,
    branches: [],
    leaks: [],
    transitions: [],
    ...extra,
  };
}

/** A one-line boot event with overrides, as JSONL text. */
export function bootLine(fields: Record<string, unknown>): string {
  return JSON.stringify({ type: 'boot', ...fields });
}
