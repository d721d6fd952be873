/**
 * Differential fuzzing: generated sequences run on the real kernel and on
 * the model; every divergence (and every invariant the model breaks on a
 * real trace) is shrunk and written as a replayable recorded log.
 *
 * The kernel side is a KernelRunner, so the loop and the shrinker are tested
 * without QEMU; `memhp kernel fuzz` passes one that records in a guest.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomicWrite.js';
import { join } from 'node:path';
import type { KernelVersion } from '../kernel/profile.js';
import type { LogEvent, Outcome } from '../log/events.js';
import { decodeLogBytes, parseLogText } from '../log/reader.js';
import { writeEvent } from '../log/writer.js';
import { shellCommand } from '../log/shell.js';
import type { Checker } from '../replay/engine.js';
import { compareWithModel, describeDivergence, outcomeKey, type DivergenceDetail } from './diff.js';
import { generateSteps, Rng, shapeBoot } from './generate.js';
import { MACHINES, type MachineName } from './machine.js';

/** Record a log on the real kernel: the same events with results (and the guest's own boot). */
export type KernelRunner = (events: readonly LogEvent[], name: string) => Promise<readonly LogEvent[]>;

export interface FuzzOptions {
  readonly runs: number;
  readonly seed: number;
  readonly machines: readonly MachineName[];
  /** The model profile of the kernel under test: the generator aims its operations through it (default 6.1). */
  readonly kernel?: KernelVersion | undefined;
  readonly minSteps: number;
  readonly maxSteps: number;
  /** VM runs one divergence may spend on shrinking. */
  readonly shrinkRuns: number;
  /** Where divergences go (.memhp/kernel-divergences). */
  readonly outDir: string;
  /** Also keep every recorded sequence here (to grow the corpus). */
  readonly saveAllDir?: string | undefined;
  /** Guests run at once (each is one QEMU with -smp 1). */
  readonly jobs: number;
  readonly check?: Checker | undefined;
  /** Generate program events too (log format 2: processes mapping the device; src/realkernel/generateProgram.ts). */
  readonly programs?: boolean | undefined;
  /** test_hmm program events (src/realkernel/generateHmm.ts): a kernel that builds it, such as custom:hmm. */
  readonly hmm?: boolean | undefined;
  readonly runner: KernelRunner;
  readonly progress?: ((message: string) => void) | undefined;
}

export interface Finding {
  readonly run: number;
  readonly machine: MachineName;
  readonly kind: 'divergence' | 'violation';
  /** What kind of difference: "write .../state: kernel EBUSY, model ok". */
  readonly signature: string;
  readonly description: string;
  readonly file: string;
  readonly originalSteps: number;
  readonly shrunkSteps: number;
}

export interface FuzzResult {
  readonly runs: number;
  readonly steps: number;
  readonly seconds: number;
  readonly findings: readonly Finding[];
  /** Saved divergences from earlier runs that the model still disagrees with. */
  readonly stillFailing: readonly string[];
  readonly savedChecked: number;
  readonly errors: readonly string[];
}

/** A path with block and device numbers generalised, so the same kind of divergence groups together. */
function pathPattern(path: string): string {
  return path.replace(/memory\d+/g, 'memoryN').replace(/dax\d+\.\d+/g, 'daxX.Y');
}

export function signatureOf(d: DivergenceDetail): string {
  const e = d.event;
  const what = e.type === 'write' ? `write ${pathPattern(e.path)}=${JSON.stringify(e.value)}` : e.type === 'read' ? `read ${pathPattern(e.path)}` : e.type;
  return `${what}: kernel ${outcomeKey(d.recorded)}, model ${outcomeKey(d.model)}`;
}

/** The first divergence, and whether `candidate` still shows the same one on its last event. */
function sameDivergenceAtEnd(events: readonly LogEvent[], want: DivergenceDetail, check?: Checker): boolean {
  const c = compareWithModel(events, check);
  const first = c.divergences[0];
  if (first === undefined || first.index !== events.length - 1) return false;
  const same = (a: Outcome, b: Outcome): boolean => outcomeKey(a) === outcomeKey(b);
  return same(first.recorded, want.recorded) && same(first.model, want.model);
}

const stripResult = (e: LogEvent): LogEvent => {
  const { result: _drop, ...rest } = e;
  return rest as LogEvent;
};

/**
 * Shrink a recorded log whose first divergence is at `d.index`: cut what
 * follows it, drop the reads before it (a read changes neither the kernel nor
 * the model), then drop chunks of the remaining writes, halving the chunk
 * size, keeping a removal when a fresh recording still diverges the same way
 * on its last event. Each attempt is one VM run; at most `budget` of them.
 */
export async function shrink(recorded: readonly LogEvent[], d: DivergenceDetail, budget: number, runner: KernelRunner, name: string, check?: Checker): Promise<{ events: readonly LogEvent[]; runs: number }> {
  const [boot, ...rest] = recorded.slice(0, d.index + 1);
  if (boot === undefined) return { events: recorded, runs: 0 };
  const target = rest[rest.length - 1];
  if (target === undefined) return { events: recorded, runs: 0 };
  let best: readonly LogEvent[] = recorded.slice(0, d.index + 1);
  let prefix: readonly LogEvent[] = rest.slice(0, -1).filter((e) => e.type !== 'read');
  let runs = 0;
  const attempt = async (cand: readonly LogEvent[]): Promise<readonly LogEvent[] | null> => {
    runs++;
    const got = await runner([boot, ...cand, target].map(stripResult), `${name}-shrink${runs}`);
    return sameDivergenceAtEnd(got, d, check) ? got : null;
  };
  // Without the reads: usually the same run, but confirm it (reads are cheap to keep if it is not).
  if (prefix.length < rest.length - 1 && runs < budget) {
    const got = await attempt(prefix);
    if (got !== null) best = got;
    else prefix = rest.slice(0, -1);
  }
  let chunk = Math.max(1, Math.ceil(prefix.length / 2));
  while (prefix.length > 0 && runs < budget) {
    let i = 0;
    while (i < prefix.length && runs < budget) {
      const cand = [...prefix.slice(0, i), ...prefix.slice(i + chunk)];
      const got = await attempt(cand);
      if (got !== null) {
        prefix = cand;
        best = got;
      } else i += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.max(1, Math.floor(chunk / 2));
  }
  return { events: best, runs };
}

/** Renumber seqs 1..n (after shrinking they have gaps). */
function renumber(events: readonly LogEvent[]): LogEvent[] {
  let n = 0;
  return events.map((e) => (e.type === 'boot' ? e : { ...e, seq: ++n }));
}

/** Replay every saved divergence against the current model; the files that still diverge. */
export function recheckSaved(dir: string, check?: Checker): { checked: number; failing: string[] } {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    return { checked: 0, failing: [] };
  }
  const failing: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const events = parseLogText(decodeLogBytes(readFileSync(path), path), path).map((l) => l.event);
    const c = compareWithModel(events, check);
    if (c.divergences.length + c.violations.length > 0) failing.push(path);
  }
  return { checked: files.length, failing };
}

/** pmem guests take ~3x as long (ndctl create-namespace): with both machines, pmem gets a third of the runs. */
function machineFor(machines: readonly MachineName[], g: Rng): MachineName {
  const only = machines[0];
  if (machines.length === 1 && only !== undefined) return only;
  return g.next() < 2 / 3 ? 'hmem' : 'pmem';
}

/** Run the fuzzer. */
export async function fuzz(o: FuzzOptions): Promise<FuzzResult> {
  const t0 = Date.now();
  mkdirSync(o.outDir, { recursive: true });
  const saved = recheckSaved(o.outDir, o.check);
  if (saved.checked > 0) o.progress?.(`${saved.checked} saved divergence(s) replayed: ${saved.failing.length} still diverge`);
  const findings: Finding[] = [];
  const errors: string[] = [];
  let steps = 0;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const run = next++;
      if (run >= o.runs) return;
      // Each run has its own generator, so run i is the same whatever the job count.
      const runSeed = (o.seed + Math.imul(run, 0x9e3779b1)) >>> 0;
      const g = new Rng(runSeed);
      const machine = machineFor(o.machines, g);
      const n = g.int(o.minSteps, o.maxSteps);
      const events: LogEvent[] = [shapeBoot(MACHINES[machine], o.kernel, o.hmm === true), ...generateSteps(g, machine, n, o.kernel, { programs: o.programs === true, hmm: o.hmm === true })];
      const name = `fuzz-${o.seed}-${run}`;
      let recorded: readonly LogEvent[];
      try {
        recorded = await o.runner(events, name);
      } catch (e) {
        errors.push(`run ${run} (${machine}, seed ${runSeed}): ${e instanceof Error ? e.message : String(e)}`);
        o.progress?.(`run ${run}: ${errors[errors.length - 1] ?? ''}`);
        continue;
      }
      steps += n;
      if (o.saveAllDir !== undefined) {
        mkdirSync(o.saveAllDir, { recursive: true });
        const header = `// generated by memhp kernel fuzz: seed ${o.seed}, run ${run} (run seed ${runSeed}), machine ${machine}, ${n} operations`;
        writeFileAtomic(join(o.saveAllDir, `${machine}-gen-${o.seed}-${run}.jsonl`), `${header}\n${recorded.map((e) => writeEvent(e)).join('\n')}\n`);
      }
      const c = compareWithModel(recorded, o.check);
      const first = c.divergences[0];
      if (first !== undefined) {
        o.progress?.(`run ${run} (${machine}): divergence at seq ${first.seq ?? first.index}: ${signatureOf(first)}; shrinking`);
        let shrunk: { events: readonly LogEvent[]; runs: number };
        try {
          shrunk = await shrink(recorded, first, o.shrinkRuns, o.runner, name, o.check);
        } catch (e) {
          errors.push(`run ${run} shrink: ${e instanceof Error ? e.message : String(e)}`);
          shrunk = { events: recorded.slice(0, first.index + 1), runs: 0 };
        }
        const final = renumber(shrunk.events);
        const fc = compareWithModel(final, o.check);
        const fd = fc.divergences[fc.divergences.length - 1] ?? first;
        const file = join(o.outDir, `${machine}-seed${o.seed}-run${run}.jsonl`);
        const header = [
          `// memhp kernel fuzz: seed ${o.seed}, run ${run} (run seed ${runSeed}), machine ${machine}`,
          `// divergence: ${signatureOf(fd)} (shrunk from ${n} to ${final.length - 1} operations in ${shrunk.runs} VM runs)`,
          `// replay: memhp check ${file}`,
        ];
        writeFileAtomic(file, `${header.join('\n')}\n${final.map((e) => writeEvent(e)).join('\n')}\n`);
        findings.push({ run, machine, kind: 'divergence', signature: signatureOf(fd), description: describeDivergence(fd), file, originalSteps: n, shrunkSteps: final.length - 1 });
      } else if (c.violations.length > 0) {
        const v = c.violations[0];
        const file = join(o.outDir, `${machine}-seed${o.seed}-run${run}-violation.jsonl`);
        const cut = recorded.slice(0, (v?.index ?? recorded.length - 1) + 1);
        writeFileAtomic(file, `// memhp kernel fuzz: seed ${o.seed}, run ${run}: invariant ${v?.invariant ?? '?'} broken on a real trace\n${cut.map((e) => writeEvent(e)).join('\n')}\n`);
        const ev = cut[cut.length - 1];
        findings.push({
          run,
          machine,
          kind: 'violation',
          signature: `invariant ${v?.invariant ?? '?'}`,
          description: `seq ${v?.seq ?? '?'}: ${ev === undefined ? '' : shellCommand(ev)}: ${v?.message ?? ''}`,
          file,
          originalSteps: n,
          shrunkSteps: cut.length - 1,
        });
      }
      done++;
      if (done % 10 === 0) o.progress?.(`${done}/${o.runs} runs, ${findings.length} finding(s), ${((Date.now() - t0) / 1000 / done).toFixed(1)} s/run`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, () => worker()));
  return { runs: done, steps, seconds: (Date.now() - t0) / 1000, findings, stillFailing: saved.failing, savedChecked: saved.checked, errors };
}
