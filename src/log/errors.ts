/**
 * Bad-input errors of the event log (SPEC §4: exit status 2, "a message naming
 * the file, line, field and what was expected").
 */

/** A field's place in an event: ["daxRegions", 0, "devices", 1, "start"]. */
export type FieldPath = ReadonlyArray<string | number>;

/** "daxRegions[0].devices[1].start"; null for the event as a whole. */
export function formatPath(path: FieldPath): string | null {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? null : out;
}

const MAX_SHOWN = 60;

/** How a message shows the value it got: 42, "abc", an object, nothing. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const s = JSON.stringify(v);
    return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 4)}..."` : s;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `an array (${v.length} ${v.length === 1 ? 'entry' : 'entries'})`;
  return 'an object';
}

/** The raw value at `path` inside parsed JSON, or undefined when absent. */
export function valueAt(root: unknown, path: FieldPath): unknown {
  let cur: unknown = root;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

/**
 * A problem with one event, before the reader knows its file and line.
 * Thrown by the schema and boot checks; the reader turns it into a LogError.
 */
export class FieldProblem extends Error {
  constructor(
    readonly path: FieldPath,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${formatPath(path) ?? 'event'}: expected ${expected}, got ${got}`);
    this.name = 'FieldProblem';
  }
}

/**
 * Bad input in an event log. `line` is 1-based; 0 means the file as a whole
 * (it could not be opened, or it holds no event).
 * @example err.message // 'examples/x.jsonl:3: field "path": expected a string, got 42'
 */
export class LogError extends Error {
  readonly file: string;
  readonly line: number;
  /** Dotted/bracketed field path, or null when the problem is the whole line or file. */
  readonly field: string | null;
  readonly expected: string;
  readonly got: string;

  constructor(at: { file: string; line: number }, field: string | null, expected: string, got: string) {
    const where = at.line > 0 ? `${at.file}:${at.line}` : at.file;
    const what = field === null ? '' : ` field "${field}":`;
    super(`${where}:${what} expected ${expected}, got ${got}`);
    this.name = 'LogError';
    this.file = at.file;
    this.line = at.line;
    this.field = field;
    this.expected = expected;
    this.got = got;
  }

  static fromProblem(at: { file: string; line: number }, p: FieldProblem): LogError {
    return new LogError(at, formatPath(p.path), p.expected, p.got);
  }
}
