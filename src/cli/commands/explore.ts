/**
 * `memhp explore`: the exhaustive search (properties/explore.ts) over a
 * preset machine or a log's boot, every invariant and must-succeed property
 * after every step; each invariant's shortest counterexample is saved under
 * --out as a replayable log. With --cover, the conformance suite for the
 * states searched (properties/conformance.ts), written to --emit DIR.
 * Exit 0 clean, 1 a violation, 2 bad usage or input.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parsePatches } from '../fuzz/options.js';
import { PATCH_NAMES, type PatchName } from '../../kernel/patches.js';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_GENERATOR_NAMES, GENERATORS, GENERATOR_NAMES, generatorByName, type OperationGenerator } from '../../../properties/alphabet/index.js';
import { CoverTracker, chainedSuite, coverSuite, emitSuite } from '../../../properties/conformance.js';
import type { CoverageCount } from '../../../properties/coverage.js';
import { explore, type ExploreProgress, type ExploreResult } from '../../../properties/explore.js';
import { PRESETS, PRESET_NAMES, presetByName, withVariant, type Preset } from '../../../properties/presets.js';
import type { VariantName } from '../../kernel/profile.js';
import type { BootEvent } from '../../log/events.js';
import { parseLogText } from '../../log/index.js';
import { EXIT, UsageError, fail, type CliCommand, type CliContext, type Colors } from '../context.js';
import { DEFAULT_OUT, loadKnown, parseVariant } from '../fuzz/options.js';
import { replayCommand } from '../fuzz/report.js';

export const DEFAULT_PRESET = 'pmem-2blocks';
/** Enough for every small preset (the largest, hmem-hotremove, has ~52,000); a machine past it is reported not exhausted. */
export const DEFAULT_MAX_STATES = 500_000;

interface ExploreFlags {
  readonly machine?: string;
  readonly preset?: string;
  readonly depth?: number;
  readonly ops?: readonly string[];
  readonly patches?: readonly PatchName[];
  readonly variant?: VariantName | null;
  readonly json?: boolean;
  readonly out?: string;
  readonly symmetry?: boolean;
  readonly maxStates?: number;
  readonly cover?: boolean;
  readonly isolated?: boolean;
  readonly emit?: string;
  readonly paranoid?: boolean;
  readonly list?: boolean;
  readonly known?: string;
}

function wholeNumber(value: string, what: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected ${what}: a whole number from 1.`);
  return n;
}

/** --ops a,b: generator names (properties/alphabet/). */
export function parseOps(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) if (generatorByName(n) === undefined) throw new InvalidArgumentError(`unknown operation kind "${n}": expected a comma-separated list of ${GENERATOR_NAMES.join(', ')}.`);
  if (names.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${GENERATOR_NAMES.join(', ')}.`);
  return [...new Set(names)];
}

interface Machine {
  readonly name: string;
  readonly boot: BootEvent;
  readonly preset: Preset | null;
}

/** The machine to search: --machine FILE (its boot event) or --preset NAME (default pmem-2blocks). */
function machineOf(flags: ExploreFlags): Machine {
  if (flags.machine !== undefined && flags.preset !== undefined) throw new UsageError('--machine and --preset: give one machine, not both');
  if (flags.machine !== undefined) {
    const file = flags.machine;
    if (!existsSync(file) || statSync(file).isDirectory()) throw new UsageError(`--machine ${file}: no such file (expected a log whose first event is a boot)`);
    // The reader names file, line and field for a bad boot (LogError: exit 2); only the boot is used.
    const first = parseLogText(readFileSync(file, 'utf8'), file)[0];
    if (first === undefined || first.event.type !== 'boot') throw new UsageError(`--machine ${file}: the log has no boot event (its first event must be the machine's boot)`);
    return { name: file, boot: first.event, preset: null };
  }
  const name = flags.preset ?? DEFAULT_PRESET;
  const preset = presetByName(name);
  if (preset === undefined) throw new UsageError(`--preset ${name}: unknown preset; expected one of ${PRESET_NAMES.join(', ')} (memhp explore --list describes them)`);
  return { name, boot: preset.boot(), preset };
}

export interface ExploreDocument {
  readonly config: {
    readonly machine: string;
    readonly kernel: string;
    readonly variant: string | null;
    readonly ops: readonly string[];
    readonly symmetry: boolean;
    readonly depth: number | null;
    readonly maxStates: number;
    readonly out: string;
  };
  readonly states: number;
  readonly transitions: number;
  readonly depth: number;
  readonly exhausted: boolean;
  readonly failures: ReadonlyArray<{ readonly invariant: string; readonly message: string; readonly length: number; readonly file: string | null; readonly replay: string | null }>;
  /** Known findings met (SPEC §11): reported, not failures; each with the length of its shortest log. */
  readonly knownFindings: ReadonlyArray<{ readonly id: string | null; readonly signature: string; readonly message: string; readonly length: number }>;
  readonly coverage: ExploreResult['coverage'];
  readonly cover: { readonly targets: number; readonly sequences: number; readonly operations: number; readonly files: readonly string[] } | null;
  readonly timing: { readonly elapsedMs: number; readonly statesPerSecond: number; readonly transitionsPerSecond: number };
}

const rate = (n: number, ms: number): number => (ms <= 0 ? 0 : Math.round((n / ms) * 1000));

function coverageLine(name: string, c: CoverageCount, colors: Colors): string[] {
  const head = `  ${name.padEnd(12)} ${c.reached}/${c.total}`;
  return c.missing.length === 0 ? [`${head} ${colors.green('(all)')}`] : [`${head}, not reached:`, ...c.missing.map((m) => `    ${colors.yellow(m)}`)];
}

function renderHuman(doc: ExploreDocument, c: Colors): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const cfg = doc.config;
  const out = [
    `memhp explore: ${cfg.machine} (kernel ${cfg.kernel}, variant ${cfg.variant ?? 'none'}), ops ${cfg.ops.join(',')}, symmetry ${cfg.symmetry ? 'on' : 'off'}${cfg.depth === null ? '' : `, depth <= ${cfg.depth}`}`,
    `states:      ${n(doc.states)} distinct, ${n(doc.transitions)} transitions, depth ${doc.depth}, ${doc.exhausted ? c.green('exhausted') : c.yellow('not exhausted (depth or state limit)')}`,
    `speed:       ${n(doc.timing.statesPerSecond)} states/s, ${n(doc.timing.transitionsPerSecond)} transitions/s (${(doc.timing.elapsedMs / 1000).toFixed(1)} s)`,
    'coverage:',
    ...coverageLine('transitions', doc.coverage.transitions, c),
    ...coverageLine('errnos', doc.coverage.errnos, c),
    ...coverageLine('branches', doc.coverage.branches, c),
  ];
  const goals = Object.entries(doc.coverage.goals);
  out.push(`  ${'goals'.padEnd(12)} ${goals.filter(([, h]) => h > 0).length}/${goals.length} reached`);
  for (const [g, h] of goals) if (h === 0) out.push(`    ${c.yellow('never reached')}  ${g}`);
  if (doc.cover !== null) {
    out.push(`cover:       ${doc.cover.targets} targets in ${doc.cover.sequences} sequence${doc.cover.sequences === 1 ? '' : 's'} (${doc.cover.operations} operations)`);
    for (const f of doc.cover.files) out.push(`  ${f}`);
  }
  if (doc.knownFindings.length > 0) {
    out.push(`known:       ${doc.knownFindings.length} known finding${doc.knownFindings.length === 1 ? '' : 's'} met (not failures; properties/findings.ts)`);
    for (const k of doc.knownFindings) out.push(`  ${c.yellow(k.id ?? 'known')} ${k.signature} in ${k.length} events: ${k.message}`);
  }
  out.push(`failures:    ${doc.failures.length === 0 ? c.green('0') : c.red(String(doc.failures.length))} (a shortest counterexample per invariant)`);
  doc.failures.forEach((f, i) => {
    out.push(`  ${i + 1}. ${c.red(f.invariant)} in ${f.length} events: ${f.message}`);
    if (f.file !== null && f.replay !== null) out.push(`     saved: ${f.file}`, `     replay: ${c.bold(f.replay)}`);
  });
  out.push(doc.failures.length === 0 ? c.green('OK: no invariant violated') : c.red(`FAILED: ${doc.failures.length} invariant${doc.failures.length === 1 ? '' : 's'} violated`));
  return `${out.join('\n')}\n`;
}

function listPresets(ctx: CliContext): void {
  const lines = ['presets (memhp explore --preset NAME):', ...PRESETS.map((p) => `  ${p.name.padEnd(16)} ${p.summary}`), '', 'operation kinds (--ops a,b,...):', ...GENERATORS.map((g) => `  ${g.name.padEnd(16)} ${g.summary}${g.onRealKernel ? '' : ' (model only)'}${g.byDefault === false ? ' (opt-in: name it in --ops)' : ''}`)];
  ctx.io.stdout(`${lines.join('\n')}\n`);
}

export function runExplore(ctx: CliContext, flags: ExploreFlags): void {
  if (flags.list === true) {
    listPresets(ctx);
    return;
  }
  if (flags.emit !== undefined && flags.cover !== true) throw new UsageError('--emit DIR needs --cover (it writes the conformance suite)');
  if (flags.isolated === true && flags.cover !== true) throw new UsageError('--isolated needs --cover (it chooses how the suite is cut into sequences)');
  const out = flags.out ?? DEFAULT_OUT;
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: not a directory (failures are written there as FILE.jsonl)`);
  if (flags.emit !== undefined && existsSync(flags.emit) && !statSync(flags.emit).isDirectory()) throw new UsageError(`--emit ${flags.emit}: not a directory (the suite is written there as cover-NN.jsonl)`);
  const m = machineOf(flags);
  const variant = flags.variant ?? null;
  // --patches: the series (SPEC §11) on top of whatever the machine's boot already applies.
  const patches = flags.patches ?? [];
  const withV = withVariant(m.boot, variant);
  const boot = patches.length === 0 ? withV : { ...withV, patches: [...new Set([...withV.patches, ...patches])] };
  const names = flags.ops ?? m.preset?.ops ?? DEFAULT_GENERATOR_NAMES;
  const generators = names.map((n) => generatorByName(n) as OperationGenerator);
  if (flags.emit !== undefined) {
    const modelOnly = generators.filter((g) => !g.onRealKernel).map((g) => g.name);
    if (modelOnly.length > 0) throw new UsageError(`--emit: the operation kinds ${modelOnly.join(', ')} are model only (a real kernel cannot run them); leave them out of --ops`);
  }
  const tracker = flags.cover === true ? new CoverTracker() : null;
  const maxStates = flags.maxStates ?? DEFAULT_MAX_STATES;
  const known = loadKnown(flags.known);
  const r = explore({
    known: known.set,
    boot,
    machineName: m.name,
    generators,
    bootBlocks: m.preset?.bootBlocks ?? [],
    hotBlockLimit: m.preset?.hotBlockLimit ?? Infinity,
    ...(flags.depth === undefined ? {} : { depth: flags.depth }),
    maxStates,
    symmetry: flags.symmetry !== false,
    paranoid: flags.paranoid === true,
    outDir: out,
    ...(tracker === null ? {} : { onTransition: tracker.observe }),
    // A search of tens of thousands of states takes seconds to minutes: a line on a terminal's standard error
    // (never on stdout, which stays the same bytes for the same input).
    ...(flags.json !== true && process.stderr.isTTY === true ? { onProgress: (p: ExploreProgress) => ctx.io.stderr(`\r${p.states.toLocaleString('en-US')} states, ${p.transitions.toLocaleString('en-US')} transitions, depth ${p.depth}, ${(p.elapsedMs / 1000).toFixed(0)} s `) } : {}),
  });
  if (flags.json !== true && process.stderr.isTTY === true) ctx.io.stderr('\r\x1b[K');
  let cover: ExploreDocument['cover'] = null;
  if (tracker !== null) {
    const suite = flags.isolated === true ? coverSuite(boot, r, tracker) : chainedSuite(boot, r, tracker);
    const files = flags.emit === undefined ? [] : emitSuite(flags.emit, m.name, suite);
    cover = { targets: suite.targets.length, sequences: suite.sequences.length, operations: suite.sequences.reduce((a, s) => a + s.operations, 0), files };
  }
  const doc: ExploreDocument = {
    config: { machine: m.name, kernel: boot.kernel, variant, ops: r.ops, symmetry: r.symmetry, depth: flags.depth ?? null, maxStates, out },
    states: r.states,
    transitions: r.transitions,
    depth: r.depth,
    exhausted: r.exhausted,
    failures: r.failures.map((f) => ({ invariant: f.invariant, message: f.message, length: f.length, file: f.file, replay: f.file === null ? null : replayCommand(f.file) })),
    knownFindings: r.known.map((k) => ({ id: k.id, signature: k.signature, message: k.message, length: k.length })),
    coverage: r.coverage,
    cover,
    timing: { elapsedMs: r.elapsedMs, statesPerSecond: rate(r.states, r.elapsedMs), transitionsPerSecond: rate(r.transitions, r.elapsedMs) },
  };
  ctx.io.stdout(flags.json === true ? `${JSON.stringify(doc, null, 2)}\n` : renderHuman(doc, ctx.color));
  if (doc.failures.length > 0) fail(ctx, EXIT.failed);
}

export const exploreCommand: CliCommand = {
  name: 'explore',
  register(program, ctx) {
    program
      .command('explore')
      .description(
        'breadth-first search over every sequence of operations on a small machine, every invariant after every step; states deduplicated by fingerprint, interchangeable devices merged; the shortest counterexample of each invariant saved as a replayable log under --out',
      )
      .option('--machine <FILE>', 'search the machine of this log\'s boot event')
      .option('--preset <NAME>', `search a preset machine (default ${DEFAULT_PRESET}; --list shows them)`)
      .option('--depth <N>', 'most operations after boot (default: until every state is expanded)', (v) => wholeNumber(v, 'a depth'))
      .option('--ops <LIST>', `operation kinds, comma-separated: ${GENERATOR_NAMES.join(', ')} (default: the preset's, else all but program)`, parseOps)
      .option('--patches <LIST>', `proposed patch series to apply (SPEC §11), comma-separated: ${PATCH_NAMES.join(', ')}`, parsePatches)
      .option('--variant <NAME>', 'model a bug variant (SPEC §6) on its kernel and config, or none (default)', parseVariant)
      .option('--out <DIR>', `where counterexamples are saved (default ${DEFAULT_OUT})`)
      .option('--no-symmetry', 'do not merge states that differ only by interchangeable devices')
      .option('--max-states <N>', `stop after N distinct states (default ${DEFAULT_MAX_STATES})`, (v) => wholeNumber(v, 'a number of states'))
      .option('--cover', 'pick a small set of sequences reaching every transition and (path, errno) pair reached')
      .option('--emit <DIR>', 'with --cover: write the sequences as logs for memhp kernel record / diff')
      .option('--isolated', 'with --cover: one short sequence per group of targets (a divergence names its behaviour) instead of the fewest chained sequences')
      .option('--paranoid', 're-check every invariant on the whole state after every step (slower)')
      .option('--known <FILE>', 'known findings reported but not failed on: a JSON list of signatures, or none (default: the project\'s list, properties/findings.ts)')
      .option('--list', 'list the presets and operation kinds')
      .option('--json', 'print one JSON document (clock-dependent values under "timing", the last key)')
      .action((flags: ExploreFlags) => runExplore(ctx, flags));
  },
};
