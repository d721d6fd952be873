/**
 * `memhp fuzz --junit FILE`: a JUnit XML report for CI systems. One
 * testsuite "memhp fuzz"; one testcase per invariant and must-succeed
 * property (a <failure> when the campaign found it violated), one for any
 * other property a failure named, and one for the saved failures replayed.
 */
import { INVARIANT_NAMES } from '../../../properties/invariants/index.js';
import { MUST_SUCCEED } from '../../../properties/mustSucceed.js';
import { MAX_LISTED, replayCommand, type FuzzDocument } from './report.js';

export const SAVED_CASE = 'saved failures replayed';

/** Text content: characters XML 1.0 cannot carry at all become U+FFFD; &, < and > are escaped. */
export function xmlText(s: string): string {
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** An attribute value (in double quotes): also quotes escaped, and line breaks kept as character references. */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

interface Case {
  readonly name: string;
  /** [message, type, body] of the failure, or null when it passed. */
  readonly failure: readonly [string, string, string] | null;
}

function failureCases(doc: FuzzDocument, logs: readonly string[]): Case[] {
  const names = [...INVARIANT_NAMES, ...MUST_SUCCEED.map((m) => m.name)];
  for (const f of doc.failures) if (!names.includes(f.invariant)) names.push(f.invariant);
  return names.map((name) => {
    const hits = doc.failures.map((f, i) => ({ f, log: logs[i] ?? '' })).filter((x) => x.f.invariant === name);
    const first = hits[0];
    if (first === undefined) return { name, failure: null };
    const body = hits
      .slice(0, MAX_LISTED)
      .map(({ f, log }) =>
        [
          `${f.invariant}: ${f.message}`,
          `seed ${f.seed} (run ${f.run}), variant ${f.variant ?? 'none'}, shrunk to ${f.length} events from ${f.originalLength}`,
          ...(f.file !== null && f.replay !== null ? [`saved: ${f.file}`, `replay: ${f.replay}`] : []),
          log.trimEnd(),
        ].join('\n'),
      )
      .join('\n\n')
      .concat(hits.length > MAX_LISTED ? `\n\n... and ${hits.length - MAX_LISTED} more, saved under ${doc.config.out}` : '');
    const more = hits.length > 1 ? ` (and ${hits.length - 1} more)` : '';
    return { name, failure: [`${first.f.message}${more}`, name, body] };
  });
}

function savedCase(doc: FuzzDocument): Case {
  const failing = doc.replayed.filter((x) => x.stillFails);
  if (failing.length === 0) return { name: SAVED_CASE, failure: null };
  const body = failing.map((x) => [`${x.file}`, ...x.violations.map((v) => `  seq ${v.seq}: ${v.invariant}: ${v.message}`), `  replay: ${replayCommand(x.file)}`].join('\n')).join('\n\n');
  return { name: SAVED_CASE, failure: [`${failing.length} of ${doc.replayed.length} saved failures still fail`, 'saved-failure', body] };
}

/** The report; `logs[i]` is the shrunk log of doc.failures[i]. */
export function junitXml(doc: FuzzDocument, logs: readonly string[], timestamp: Date): string {
  const cases = [...failureCases(doc, logs), savedCase(doc)];
  const failures = cases.filter((c) => c.failure !== null).length;
  const seconds = (doc.timing.elapsedMs / 1000).toFixed(3);
  const cfg = doc.config;
  const props: Array<[string, string]> = [
    ['seed', String(cfg.seed)],
    ['runs', String(doc.runs)],
    ['steps', String(doc.steps)],
    ['maxSteps', String(cfg.steps)],
    ['variant', cfg.variant ?? 'none'],
    ['shard', `${cfg.shard.index}/${cfg.shard.count}`],
    ['interrupted', String(doc.interrupted)],
    ['transitions', `${doc.coverage.transitions.reached}/${doc.coverage.transitions.total}`],
    ['errnos', `${doc.coverage.errnos.reached}/${doc.coverage.errnos.total}`],
    ['branches', `${doc.coverage.branches.reached}/${doc.coverage.branches.total}`],
  ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="memhp" tests="${cases.length}" failures="${failures}" errors="0" time="${seconds}">`,
    `  <testsuite name="memhp fuzz" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${seconds}" timestamp="${timestamp.toISOString().replace(/\.\d+Z$/, '')}">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`),
    '    </properties>',
  ];
  for (const c of cases) {
    const open = `    <testcase classname="memhp.fuzz" name="${xmlAttr(c.name)}"`;
    if (c.failure === null) lines.push(`${open}/>`);
    else {
      const [message, type, body] = c.failure;
      lines.push(`${open}>`, `      <failure message="${xmlAttr(message)}" type="${xmlAttr(type)}">${xmlText(body)}</failure>`, '    </testcase>');
    }
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}
