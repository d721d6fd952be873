/**
 * Zod schemas for the leaves of the log format (SPEC §3) and the mapping of
 * zod issues to FieldProblems. Every schema carries its own "expected" text,
 * so a message says what the field wants, not what zod's type system calls it.
 */
import { z } from 'zod';
import { ERRNO_NAMES } from '../kernel/errno.js';
import { parseU64 } from '../util/u64.js';
import { describeValue, FieldProblem, valueAt } from './errors.js';
import { SIGNALS, SIGNAL_CODES, type Outcome } from './events.js';

/** `one of "a", "b", "c"` for a message. */
export function oneOf(values: readonly (string | number | boolean | null)[]): string {
  return `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

const U64_EXPECTED = 'a hex ("0x80000000"), decimal or size ("512M", "2G") string, or a safe integer';

/** An address or size: hex, decimal or size-suffixed string, or a safe integer; always a bigint after parsing. */
export const u64 = z.union([z.string(), z.number()], { error: U64_EXPECTED }).transform((v, ctx) => {
  const r = parseU64(v);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.expected, input: v });
  return z.NEVER;
});

/** A safe integer in [min, max], with one message for every way of missing it. */
export function intIn(min: number, max: number, expected: string) {
  return z.int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

export const bool = (what = 'true or false') => z.boolean({ error: what });
export const str = (what = 'a string') => z.string({ error: what });
export const nonEmptyStr = (what: string) => z.string({ error: what }).min(1, { error: what });

export const errnoName = z.enum(ERRNO_NAMES, { error: `an errno name (${ERRNO_NAMES.join(', ')})` });

export const seq = intIn(1, Number.MAX_SAFE_INTEGER, 'a positive integer').optional();

/**
 * A strict object: unknown fields are errors naming the fields that exist.
 * @param what how a message names the object when it is not one ("a RAM range {start, size, node}")
 */
export function strict<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `a known field (${known})` : what),
  });
}

export function arrayOf<T extends z.core.SomeType>(item: T, what: string) {
  return z.array(item, { error: what });
}

/**
 * A recorded outcome: {"ok":true,"value"?,"log"?}, {"ok":false,"errno"},
 * {"ok":false,"signal","code"} (an access that faulted fatally) or
 * {"ok":false,"oops"} (the kernel crashed), each with an optional "log".
 */
export const outcome = strict(
  {
    ok: bool(),
    value: str().optional(),
    errno: errnoName.optional(),
    signal: z.enum(SIGNALS, { error: oneOf(SIGNALS) }).optional(),
    code: z.enum(SIGNAL_CODES, { error: oneOf(SIGNAL_CODES) }).optional(),
    oops: str('the first line of the oops').optional(),
    out: z
      .record(z.string(), z.number({ error: 'a non-negative integer' }).int({ error: 'a non-negative integer' }).nonnegative({ error: 'a non-negative integer' }), {
        error: 'an ioctl\'s output fields {"cpages":16,"faults":0}',
      })
      .optional(),
    log: arrayOf(str(), 'an array of kernel message strings').optional(),
  },
  'an outcome object ({"ok":true}, {"ok":false,"errno":"EBUSY"}, {"ok":false,"signal":"SIGBUS","code":"BUS_ADRERR"} or {"ok":false,"oops":"..."})',
)
  .superRefine((r, ctx) => {
    const kinds = (r.errno !== undefined ? 1 : 0) + (r.signal !== undefined ? 1 : 0) + (r.oops !== undefined ? 1 : 0);
    if (r.ok && kinds > 0)
      ctx.addIssue({ code: 'custom', path: [r.errno !== undefined ? 'errno' : r.signal !== undefined ? 'signal' : 'oops'], message: 'no errno, signal or oops when "ok" is true' });
    if (!r.ok && kinds === 0)
      ctx.addIssue({ code: 'custom', path: ['errno'], message: 'an errno name (e.g. "EBUSY"), a "signal" with its "code", or an "oops" when "ok" is false' });
    if (!r.ok && kinds > 1)
      ctx.addIssue({ code: 'custom', path: ['signal'], message: 'one of "errno", "signal" or "oops", not several' });
    if ((r.signal === undefined) !== (r.code === undefined))
      ctx.addIssue({ code: 'custom', path: [r.signal === undefined ? 'signal' : 'code'], message: 'a "signal" and its "code" together' });
    if (!r.ok && r.value !== undefined)
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'no value when "ok" is false', input: r.value });
    if (!r.ok && r.out !== undefined) ctx.addIssue({ code: 'custom', path: ['out'], message: 'no out when "ok" is false (a failed ioctl copies nothing back)' });
  })
  .transform((r): Outcome => {
    const log = r.log === undefined ? {} : { log: r.log };
    if (r.ok) return { ok: true as const, ...(r.value === undefined ? {} : { value: r.value }), ...(r.out === undefined ? {} : { out: r.out }), ...log };
    if (r.signal !== undefined && r.code !== undefined) return { ok: false as const, signal: r.signal, code: r.code, ...log };
    if (r.oops !== undefined) return { ok: false as const, oops: r.oops, ...log };
    // superRefine guarantees the errno; the fallback only satisfies the type.
    return { ok: false as const, errno: r.errno ?? 'EINVAL', ...log };
  });

/** Expected-texts for issues whose schema has no message of its own. */
function fallbackExpected(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      const t = String(iss.expected);
      return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
    }
    case 'invalid_value':
      return oneOf(iss.values.map((v) => (typeof v === 'bigint' || typeof v === 'symbol' || v === undefined ? String(v) : v)));
    default:
      return undefined;
  }
}

/**
 * Parse `input` with `schema`, turning the first zod issue into a FieldProblem.
 * An unknown field is reported before anything else: a misspelt field also
 * makes the real one look missing, and the misspelling is the useful news.
 */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input, { error: fallbackExpected });
  if (r.success) return r.data;
  const issues = r.error.issues;
  const first = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  if (first === undefined) throw new FieldProblem([], 'a valid event', 'an invalid one');
  const path = first.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (first.code === 'unrecognized_keys') {
    const key = first.keys[0] ?? '';
    throw new FieldProblem([...path, key], first.message, `an unknown field ${JSON.stringify(key)}`);
  }
  throw new FieldProblem(path, first.message, describeValue(valueAt(input, path)));
}
