/**
 * `memhp fuzz` options: commander parsers for each value (a bad one is a
 * usage error, exit 2, with commander's "option '--x <N>' argument 'v' is
 * invalid." and the reason), then the checks that need the whole set.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { PATCH_NAMES, type PatchName } from '../../kernel/patches.js';
import { KNOWN_SIGNATURES } from '../../../properties/findings.js';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { VARIANT_NAMES, type VariantName } from '../../kernel/profile.js';
import { UsageError } from '../context.js';

export const DEFAULT_SEED = 1;
export const DEFAULT_RUNS = 1000;
export const DEFAULT_STEPS = 30;
export const MAX_STEPS = 10_000;
export const DEFAULT_OUT = '.memhp/failures';
export const PROGRESS_MODES = ['auto', 'bar', 'plain', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** What commander hands the action (each value already parsed). */
export interface FuzzFlags {
  readonly seconds?: number;
  readonly runs?: number;
  readonly seed?: number;
  readonly steps?: number;
  readonly variant?: VariantName | null;
  readonly out?: string;
  readonly json?: boolean;
  readonly shard?: Shard;
  readonly junit?: string;
  readonly paranoid?: boolean;
  readonly progress?: ProgressMode;
  readonly patches?: readonly PatchName[];
  readonly known?: string;
  readonly coverage?: boolean;
}

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The validated configuration of one campaign. */
export interface FuzzConfig {
  readonly seed: number;
  /** Runs of this shard; null with --seconds alone. */
  readonly runs: number | null;
  readonly seconds: number | null;
  readonly steps: number;
  readonly variant: VariantName | null;
  readonly out: string;
  readonly shard: Shard;
  readonly paranoid: boolean;
  readonly json: boolean;
  readonly junit: string | null;
  readonly progress: ProgressMode;
  /** List missing coverage in the human summary (--coverage). */
  readonly coverage: boolean;
  readonly patches: readonly PatchName[];
  /** Signatures of the known findings not to fail on (SPEC §11). */
  readonly known: ReadonlySet<string>;
  /** Where the known list came from: "project", "none" or the file. */
  readonly knownFrom: string;
}

/** --patches a,b: patch series (SPEC §11) for every generated machine. */
export function parsePatches(value: string): PatchName[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.map((n) => {
    const hit = PATCH_NAMES.find((p) => p === n);
    if (hit === undefined) throw new InvalidArgumentError(`unknown patch series "${n}": expected a comma-separated list of ${PATCH_NAMES.join(', ')}.`);
    return hit;
  });
}

/**
 * --known FILE: the signatures (`invariant@function`) of known findings, a
 * JSON array of strings or of objects with "signatures"; "none" for none.
 * Default: the project's list (properties/findings.ts).
 */
export function loadKnown(value: string | undefined): { readonly set: ReadonlySet<string>; readonly from: string } {
  if (value === undefined) return { set: KNOWN_SIGNATURES, from: 'project' };
  if (value === 'none') return { set: new Set(), from: 'none' };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(value, 'utf8'));
  } catch (e) {
    throw new UsageError(`--known ${value}: cannot read a JSON list of finding signatures: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sigs: string[] = [];
  if (Array.isArray(doc)) {
    for (const [i, x] of doc.entries()) {
      if (typeof x === 'string') sigs.push(x);
      else if (typeof x === 'object' && x !== null && Array.isArray((x as { signatures?: unknown }).signatures) && (x as { signatures: unknown[] }).signatures.every((s) => typeof s === 'string')) sigs.push(...(x as { signatures: string[] }).signatures);
      else throw new UsageError(`--known ${value}: entry ${i}: expected a signature string ("invariant@function") or an object with "signatures"`);
    }
  } else throw new UsageError(`--known ${value}: expected a JSON array of signatures`);
  return { set: new Set(sigs), from: value };
}

function positiveInteger(value: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw new InvalidArgumentError(`expected ${what}: a whole number from 1 to ${max}.`);
  return n;
}

/** --runs N: runs of this shard. */
export const parseRuns = (v: string): number => positiveInteger(v, 'the number of runs');

/** --steps N: the most steps of one generated sequence. */
export const parseSteps = (v: string): number => positiveInteger(v, 'the most steps per run', MAX_STEPS);

/** --seconds N: a positive number of seconds (fractions allowed). */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value.trim()) || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive number of seconds (e.g. 600 or 0.5).');
  return n;
}

/**
 * --seed S: a 32-bit integer, from -2147483648 (fast-check's signed seeds,
 * as failure logs print them) to 4294967295.
 */
export function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^-?[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < -0x8000_0000 || n > 0xffff_ffff)
    throw new InvalidArgumentError('expected a whole number from -2147483648 to 4294967295.');
  return n;
}

/** --variant NAME: one of SPEC §6's bug variants, or "none" (the default, correct kernel). */
export function parseVariant(value: string): VariantName | null {
  if (value === 'none') return null;
  const hit = VARIANT_NAMES.find((v) => v === value);
  if (hit === undefined) throw new InvalidArgumentError(`unknown variant "${value}": expected one of none, ${VARIANT_NAMES.join(', ')}.`);
  return hit;
}

/** --shard I/N: this machine runs shard I (0 <= I < N) of N. */
export function parseShard(value: string): Shard {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count)
    throw new InvalidArgumentError('expected I/N with 0 <= I < N (e.g. 0/4 ... 3/4 for four machines).');
  return { index, count };
}

export function parseProgress(value: string): ProgressMode {
  const hit = PROGRESS_MODES.find((m) => m === value);
  if (hit === undefined) throw new InvalidArgumentError(`expected one of ${PROGRESS_MODES.join(', ')}.`);
  return hit;
}

/**
 * The checks that need more than one value or the file system. --seconds and
 * --runs together are allowed: the campaign stops at whichever limit comes
 * first (a CI job's time cap on a fixed budget). Neither: --runs 1000.
 */
export function fuzzConfig(flags: FuzzFlags): FuzzConfig {
  const out = flags.out ?? DEFAULT_OUT;
  if (out.trim() === '') throw new UsageError('--out: expected a directory name, got an empty string');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: not a directory (failures are written there as FILE.jsonl)`);
  const junit = flags.junit ?? null;
  if (junit !== null) {
    const dir = dirname(resolve(junit));
    if (junit.trim() === '' || !existsSync(dir) || !statSync(dir).isDirectory())
      throw new UsageError(`--junit ${junit}: the directory ${dir} does not exist (the report is written there at the end)`);
    if (existsSync(junit) && statSync(junit).isDirectory()) throw new UsageError(`--junit ${junit}: is a directory, expected a file name`);
  }
  const seconds = flags.seconds ?? null;
  const known = loadKnown(flags.known);
  return {
    seed: flags.seed ?? DEFAULT_SEED,
    runs: flags.runs ?? (seconds === null ? DEFAULT_RUNS : null),
    seconds,
    steps: flags.steps ?? DEFAULT_STEPS,
    variant: flags.variant ?? null,
    out,
    shard: flags.shard ?? { index: 0, count: 1 },
    paranoid: flags.paranoid === true,
    json: flags.json === true,
    junit,
    progress: flags.json === true ? 'none' : (flags.progress ?? 'auto'),
    patches: flags.patches ?? [],
    known: known.set,
    knownFrom: known.from,
    coverage: flags.coverage === true,
  };
}
