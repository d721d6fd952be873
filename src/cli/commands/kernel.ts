/**
 * `memhp kernel ...`: the model checked against a real Linux kernel under
 * QEMU (src/realkernel/, harness/).
 *
 *   memhp kernel record LOG --out RECORDED   perform the log's writes and reads in a fresh guest
 *   memhp kernel diff LOG                    record, then replay against the model
 *   memhp kernel machine hmem|pmem           the boot event of a harness machine
 *   memhp kernel fuzz --runs N [--seed S]    generated sequences on both; divergences saved
 *
 * Exit status: 0 agreement; 1 a divergence or a violated invariant; 2 bad
 * input (a log no machine can run, an unknown option) or a harness that is
 * not set up; 3 the guest failed (did not boot, died, or the kernel returned
 * something a log cannot record).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { KERNEL_VERSIONS, type KernelVersion } from '../../kernel/profile.js';
import { decodeLogBytes, parseLogText } from '../../log/index.js';
import type { LogEvent } from '../../log/events.js';
import { writeEvent } from '../../log/writer.js';
import { compareWithModel, describeDivergence } from '../../realkernel/diff.js';
import { fuzz, type KernelRunner } from '../../realkernel/fuzz.js';
import {
  DEFAULT_HARNESS_KERNEL,
  HARNESS_KERNELS,
  harnessKernelFor,
  HarnessError,
  isHarnessKernel,
  PACKAGE_ROOT,
  resolveArtefacts,
  VmError,
  type HarnessKernel,
  type KernelArtefacts,
} from '../../realkernel/guest.js';
import { isMachineName, MACHINE_NAMES, MACHINES, type MachineName } from '../../realkernel/machine.js';
import { commentsByEvent, machineBoot, planRecord, record, RecordRefused, renderRecording, UnrecordableResult, type Recording } from '../../realkernel/record.js';
import { EXIT, fail, UsageError, type CliCommand, type CliContext } from '../context.js';

/** The guest failed: it did not boot, died, or reported something a log cannot hold. */
export const EXIT_GUEST = 3;

interface KernelFlags {
  readonly kernel?: string;
  readonly modules?: string;
  readonly machine?: MachineName;
  readonly profile?: KernelVersion;
  readonly kernelVersion?: HarnessKernel;
  readonly json?: boolean;
}

function parseKernelVersion(v: string): HarnessKernel {
  if (!isHarnessKernel(v)) throw new UsageError(`--kernel-version: expected ${HARNESS_KERNELS.join(' or ')} (the Debian kernels harness/setup.sh installs), got ${JSON.stringify(v)}`);
  return v;
}

function parseMachine(v: string): MachineName {
  if (!isMachineName(v)) throw new UsageError(`--machine: expected ${MACHINE_NAMES.join(' or ')}, got ${JSON.stringify(v)}`);
  return v;
}

function parseProfile(v: string): KernelVersion {
  if (!(KERNEL_VERSIONS as readonly string[]).includes(v)) throw new UsageError(`--profile: expected one of ${KERNEL_VERSIONS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as KernelVersion;
}

function positiveInt(what: string) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v) || Number(v) < 1) throw new UsageError(`${what}: expected a positive integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

function nonNegativeInt(what: string) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${what}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

function addKernelOptions(cmd: Command): Command {
  return cmd
    .option(
      '--kernel-version <SERIES>',
      `which of harness/setup.sh's Debian kernels to boot (${HARNESS_KERNELS.join(', ')}); default: the log's boot.kernel when it is one of them, else ${DEFAULT_HARNESS_KERNEL}`,
      parseKernelVersion,
    )
    .option('--kernel <BZIMAGE>', 'boot this kernel image instead of harness/setup.sh\'s Debian one; custom:NAME = harness/build-kernel.sh NAME\'s (built if needed)')
    .option('--modules <DIR>', 'its modules: a lib/modules/<release> directory, or a directory holding lib/modules/<release> (make modules_install INSTALL_MOD_PATH=DIR)')
    .option('--profile <VERSION>', `the model profile to replay with (${KERNEL_VERSIONS.join(', ')}); default: the newest not newer than the guest's kernel`, parseProfile)
    .option('--json', 'print one JSON document');
}

/** Run `body`, turning the harness's errors into messages and exit statuses. */
async function guarded(ctx: CliContext, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof RecordRefused) throw new UsageError(e.message);
    if (e instanceof HarnessError) {
      ctx.io.stderr(`${ctx.errColor.red(`memhp: ${e.message}`)}\n`);
      fail(ctx, EXIT.usage);
      return;
    }
    if (e instanceof VmError || e instanceof UnrecordableResult) {
      ctx.io.stderr(`${ctx.errColor.red(`memhp: the real kernel run failed: ${e.message}`)}\n`);
      fail(ctx, EXIT_GUEST);
      return;
    }
    throw e;
  }
}

function readEvents(path: string): { events: LogEvent[]; comments: string[][] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = decodeLogBytes(bytes, path);
  const located = parseLogText(text, path);
  return { events: located.map((l) => l.event), comments: commentsByEvent(text, located) };
}

/** The kernel to boot: --kernel/--modules, else the --kernel-version series, else the one the log's boot names (`logKernel`). */
function artefacts(flags: KernelFlags, logKernel?: string): KernelArtefacts {
  if (flags.kernelVersion !== undefined && (flags.kernel !== undefined || flags.modules !== undefined))
    throw new UsageError('--kernel-version chooses one of harness/setup.sh\'s Debian kernels; --kernel / --modules boot your own: give one or the other');
  return resolveArtefacts({ kernel: flags.kernel, modules: flags.modules, kernelVersion: flags.kernelVersion ?? harnessKernelFor(logKernel) });
}

async function doRecord(ctx: CliContext, log: string, flags: KernelFlags, progress: (m: string) => void): Promise<{ rec: Recording; comments: string[][] }> {
  const { events, comments } = readEvents(log);
  // Refuse a log no machine can run before looking for the harness: that answer needs no QEMU.
  planRecord(events, flags.machine);
  const boot = events[0];
  const rec = await record(events, {
    artefacts: artefacts(flags, boot?.type === 'boot' ? boot.kernel : undefined),
    machine: flags.machine,
    profile: flags.profile,
    name: log.replace(/^.*\//, '').replace(/\.jsonl?$/, ''),
    progress,
  });
  for (const n of rec.notes) ctx.io.stderr(`${ctx.errColor.dim(`note: ${n}`)}\n`);
  return { rec, comments };
}

export const kernelCommand: CliCommand = {
  name: 'kernel',
  register(program, ctx) {
    const kernel = program
      .command('kernel')
      .description('check the model against a real Linux kernel under QEMU (run harness/setup.sh once first)');
    const progress = (m: string): void => ctx.io.stderr(`${ctx.errColor.dim(`[kernel] ${m}`)}\n`);

    addKernelOptions(
      kernel
        .command('record')
        .description("perform a log's writes and reads on the real kernel in a fresh guest; write the log back with every result and the guest's boot")
        .argument('<LOG>', 'event log (JSON Lines) whose boot is a harness machine (memhp kernel machine hmem|pmem)')
        .requiredOption('--out <RECORDED>', 'where the recorded log goes')
        .option('--machine <NAME>', `run on this machine only (${MACHINE_NAMES.join(', ')})`, parseMachine),
    ).action(async (log: string, flags: KernelFlags & { out: string }) => {
      await guarded(ctx, async () => {
        const { rec, comments } = await doRecord(ctx, log, flags, progress);
        writeFileSync(flags.out, renderRecording(rec, comments));
        const steps = rec.events.length - 1;
        if (flags.json === true) ctx.io.stdout(`${JSON.stringify({ out: flags.out, machine: rec.machine.name, kernel: rec.uname, steps, seconds: rec.seconds, notes: rec.notes })}\n`);
        else ctx.io.stdout(`${flags.out}: ${steps} operations recorded on ${rec.machine.name}, Linux ${rec.uname}, ${rec.seconds.toFixed(1)} s\n`);
      });
    });

    addKernelOptions(
      kernel
        .command('diff')
        .description('record a log on the real kernel, then replay the recording against the model and report every divergence')
        .argument('<LOG>', 'event log (JSON Lines) whose boot is a harness machine')
        .option('--out <RECORDED>', 'also keep the recorded log here')
        .option('--machine <NAME>', `run on this machine only (${MACHINE_NAMES.join(', ')})`, parseMachine),
    ).action(async (log: string, flags: KernelFlags & { out?: string }) => {
      await guarded(ctx, async () => {
        const { rec, comments } = await doRecord(ctx, log, flags, progress);
        if (flags.out !== undefined) writeFileSync(flags.out, renderRecording(rec, comments));
        const c = compareWithModel(rec.events, ctx.check);
        if (flags.json === true) {
          ctx.io.stdout(
            `${JSON.stringify({
              machine: rec.machine.name,
              kernel: rec.uname,
              steps: c.steps - 1,
              seconds: rec.seconds,
              divergences: c.divergences.map((d) => ({ seq: d.seq ?? d.index, event: JSON.parse(writeEvent(d.event, d.recorded)) as unknown, model: d.model })),
              violations: c.violations,
              notes: rec.notes,
            })}\n`,
          );
        } else {
          const col = ctx.color;
          for (const d of c.divergences) ctx.io.stdout(`${col.red('✗ divergence')} ${describeDivergence(d)}\n`);
          for (const v of c.violations) ctx.io.stdout(`${col.red('✗ violation')} at seq ${v.seq ?? v.index}: ${v.invariant}: ${v.message}\n`);
          const summary = `${c.steps - 1} operations on ${rec.machine.name} (Linux ${rec.uname}, ${rec.seconds.toFixed(1)} s): ${c.divergences.length} divergence(s), ${c.violations.length} violation(s)`;
          ctx.io.stdout(`${c.divergences.length + c.violations.length > 0 ? col.red(`FAILED: ${summary}`) : `${col.green('OK')}: ${summary}`}\n`);
        }
        if (c.divergences.length + c.violations.length > 0) fail(ctx, EXIT.failed);
      });
    });

    addKernelOptions(
      kernel
        .command('machine')
        .description('boot a harness machine and print its memhp boot event, computed from what the guest reports')
        .argument('<NAME>', `${MACHINE_NAMES.join(' or ')}`),
    ).action(async (name: string, flags: KernelFlags) => {
      if (!isMachineName(name)) throw new UsageError(`machine: expected ${MACHINE_NAMES.join(' or ')}, got ${JSON.stringify(name)}`);
      await guarded(ctx, async () => {
        const { boot, uname } = await machineBoot(MACHINES[name], artefacts(flags), { profile: flags.profile, progress });
        if (flags.json === true) ctx.io.stdout(`${JSON.stringify({ machine: name, kernel: uname, boot: boot.json, notes: boot.notes })}\n`);
        else {
          for (const n of boot.notes) ctx.io.stderr(`note: ${n}\n`);
          ctx.io.stdout(`// machine ${name} (${MACHINES[name].summary}) on Linux ${uname}\n${writeEvent(boot.event)}\n`);
        }
      });
    });

    addKernelOptions(
      kernel
        .command('fuzz')
        .description('generated sequences on the real kernel and the model; each divergence shrunk and saved as a replayable log')
        .requiredOption('--runs <N>', 'sequences to run', positiveInt('--runs'))
        .option('--seed <S>', 'seed (default: from the clock; printed)', nonNegativeInt('--seed'))
        .option('--machine <NAME>', `only this machine (default: both, hmem twice as often)`, parseMachine)
        .option('--steps <MIN-MAX>', 'operations per sequence', '10-40')
        .option('--shrink-runs <N>', 'VM runs one divergence may spend on shrinking', nonNegativeInt('--shrink-runs'), 16)
        .option('--jobs <N>', 'guests at once (one QEMU -smp 1 each)', positiveInt('--jobs'), 1)
        .option('--out <DIR>', 'where divergences go', '.memhp/kernel-divergences')
        .option('--save-all <DIR>', 'also keep every recorded sequence here (to grow the corpus)')
        .option('--programs', 'also generate program events (open/mmap/access/fork... on /dev/dax0.0, log format 2)')
        .option('--hmm', 'also generate test_hmm program events (anonymous buffers and the dmirror commands on /dev/hmm_dmirror0/1; a kernel that builds test_hmm: --kernel custom:hmm)'),
    ).action(async (flags: KernelFlags & { runs: number; seed?: number; steps: string; shrinkRuns: number; jobs: number; out: string; saveAll?: string; programs?: boolean; hmm?: boolean }) => {
      const m = /^(\d+)-(\d+)$/.exec(flags.steps);
      const minSteps = Number(m?.[1]);
      const maxSteps = Number(m?.[2]);
      if (m === null || minSteps < 1 || maxSteps < minSteps) throw new UsageError(`--steps: expected MIN-MAX (e.g. 10-40), got ${JSON.stringify(flags.steps)}`);
      await guarded(ctx, async () => {
        const art = artefacts(flags);
        const seed = flags.seed ?? Date.now() % 1_000_000_000;
        const workDir = join(PACKAGE_ROOT, '.cache', 'realkernel', 'fuzz');
        const runner: KernelRunner = async (events, name) => {
          const rec = await record(events, { artefacts: art, profile: flags.profile, workDir, name });
          // A run that worked needs no console log (a failed one keeps it: VmError names it).
          rmSync(rec.consoleLog, { force: true });
          return rec.events;
        };
        progress(`seed ${seed}, ${flags.runs} runs on ${flags.machine ?? 'hmem and pmem'} (${art.label})`);
        const r = await fuzz({
          runs: flags.runs,
          seed,
          machines: flags.machine === undefined ? MACHINE_NAMES : [flags.machine],
          // The generator aims through the model of the kernel under test (a harness series is also a profile).
          kernel: flags.profile ?? flags.kernelVersion ?? DEFAULT_HARNESS_KERNEL,
          minSteps,
          maxSteps,
          shrinkRuns: flags.shrinkRuns,
          outDir: resolve(flags.out),
          saveAllDir: flags.saveAll === undefined ? undefined : resolve(flags.saveAll),
          jobs: flags.jobs,
          check: ctx.check,
          programs: flags.programs === true,
          hmm: flags.hmm === true,
          runner,
          progress,
        });
        const perRun = r.runs === 0 ? 0 : r.seconds / r.runs;
        if (flags.json === true) ctx.io.stdout(`${JSON.stringify({ seed, ...r, secondsPerRun: perRun })}\n`);
        else {
          const col = ctx.color;
          for (const f of r.findings) ctx.io.stdout(`${col.red(`✗ ${f.kind}`)} run ${f.run} (${f.machine}), ${f.originalSteps} → ${f.shrunkSteps} operations: ${f.file}\n${f.description.replace(/^/gm, '    ')}\n`);
          for (const f of r.stillFailing) ctx.io.stdout(`${col.red('✗ saved divergence still diverges:')} ${f}\n`);
          for (const e of r.errors) ctx.io.stdout(`${col.yellow('! guest failure:')} ${e}\n`);
          const groups = new Map<string, number>();
          for (const f of r.findings) groups.set(f.signature, (groups.get(f.signature) ?? 0) + 1);
          for (const [sig, n] of groups) ctx.io.stdout(`  ${n} × ${sig}\n`);
          const summary = `seed ${seed}: ${r.runs} sequences, ${r.steps} operations, ${r.seconds.toFixed(0)} s (${perRun.toFixed(1)} s per sequence): ${r.findings.length} finding(s), ${r.errors.length} guest failure(s)`;
          ctx.io.stdout(`${r.findings.length + r.stillFailing.length > 0 ? col.red(`FAILED: ${summary}`) : `${col.green('OK')}: ${summary}`}\n`);
        }
        if (r.findings.length + r.stillFailing.length > 0) fail(ctx, EXIT.failed);
        if (r.errors.length > 0) fail(ctx, EXIT_GUEST);
      });
    });
  },
};
