/**
 * The HMM logs recorded on the custom kernel (test/traces-custom/hmm/), read
 * and replayed for the tests of the migration, exclusive and data rules, and
 * one invariant applied to a hand-made step.
 */
import { readFileSync } from 'node:fs';
import { contextOf, invariantByName, makeChecker } from '../../properties/invariants/index.js';
import { checkAll } from '../../properties/sequence.js';
import type { LogEvent } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { replay, type Step } from '../../src/replay/engine.js';

/** The events of a log under test/traces-custom/hmm/ (`rel`: its path there). */
export function hmmLogEvents(rel: string): LogEvent[] {
  const file = new URL(`../traces-custom/hmm/${rel}`, import.meta.url);
  return parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event);
}

/** That log replayed with every invariant checked. */
export function replayHmmLog(rel: string): ReturnType<typeof replay> {
  return replay(hmmLogEvents(rel), { check: checkAll(makeChecker()) });
}

/** What invariant `name` says of `step` (`full`: as under paranoid checking). */
export function violationsOf(name: string, step: Step, full = true): readonly string[] {
  const i = invariantByName(name);
  if (i === undefined) throw new Error(`no invariant ${name}`);
  return i.check(contextOf(step, full));
}
