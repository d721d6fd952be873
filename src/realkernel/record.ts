/**
 * `memhp kernel record`: a log's writes and reads performed on a real kernel
 * in a fresh guest, written back as the same log with each event's observed
 * result and the boot event of the machine the guest really is.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRNO_NAMES, isErrno } from '../kernel/errno.js';
import type { KernelVersion } from '../kernel/profile.js';
import type { BootEvent, LocatedEvent, LogEvent, Outcome, ReadEvent, WriteEvent } from '../log/events.js';
import { writeEvent } from '../log/writer.js';
import { hex } from '../util/u64.js';
import { summarize } from './facts.js';
import { CACHE_DIR, runGuest, VmError, type GuestRun, type KernelArtefacts } from './guest.js';
import { deriveBoot, matchMachine, shapeDifferences, type DerivedBoot, type MachineDef, type MachineName } from './machine.js';
import { oopsLine, programLine, programOutcome } from './program.js';
import { stripTimestamp, type GuestOp } from './protocol.js';

/** A log the harness cannot run as it is (exit 2): no machine matches its boot, or it has model-only events. */
export class RecordRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordRefused';
  }
}

/** The kernel did something a memhp log cannot say (an errno the model does not know, a short write). */
export class UnrecordableResult extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecordableResult';
  }
}

export type StepEventRW = WriteEvent | ReadEvent;

export interface RecordOptions {
  readonly artefacts: KernelArtefacts;
  /** Only this machine (--machine); by default the one the boot describes. */
  readonly machine?: MachineName | undefined;
  /** The model profile the recorded boot names; by default from the guest's kernel release. */
  readonly profile?: KernelVersion | undefined;
  /** Run files (console logs) go to DIR/NAME.*; default .cache/realkernel/runs. */
  readonly workDir?: string | undefined;
  readonly name?: string | undefined;
  readonly progress?: ((message: string) => void) | undefined;
  /** Extra kernel arguments (experiments: memory_hotplug.memmap_on_memory=1); the boot derived from the guest shows their effect. */
  readonly append?: string | undefined;
}

export interface Recording {
  readonly machine: MachineDef;
  readonly uname: string;
  readonly boot: DerivedBoot;
  /** The recorded log: the derived boot (with the input's variant and patches), then every step with its result. */
  readonly events: readonly LogEvent[];
  readonly seconds: number;
  /** Things the user should know: an inexact profile, where the log's boot and the machine differ. */
  readonly notes: readonly string[];
  readonly consoleLog: string;
}

// ---------------------------------------------------------------- the machine probe (unmovable boot blocks)

interface ProbeFacts {
  readonly uname: string;
  readonly unmovable: number[];
  /** Offline failures other than EBUSY, "id:errno" (for the record; the model derives those). */
  readonly others: string[];
}

const RUN_DIR = join(CACHE_DIR, 'realkernel', 'runs');

/**
 * Which boot blocks hold unmovable pages (boot.unmovable): a scratch guest
 * offlines each boot block and onlines it again; those whose offline fails
 * with EBUSY are the ones. With nokaslr that set is the same on every boot
 * of a kernel; it is cached per kernel and machine.
 */
export async function probeMachine(def: MachineDef, artefacts: KernelArtefacts, progress?: (m: string) => void): Promise<ProbeFacts & { run: GuestRun | null }> {
  const dir = join(CACHE_DIR, 'realkernel', 'machines', artefacts.key);
  const file = join(dir, `${def.name}.probe.json`);
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as ProbeFacts), run: null };
  progress?.(`probing ${def.name} for unmovable boot blocks (once per kernel)`);
  const ids = [...def.shape.ramBlocks.keys()].sort((a, b) => a - b);
  const ops: GuestOp[] = ids.flatMap((id) => [
    { type: 'write' as const, path: `/sys/devices/system/memory/memory${id}/state`, value: 'offline', raw: false },
    { type: 'write' as const, path: `/sys/devices/system/memory/memory${id}/state`, value: 'online', raw: false },
  ]);
  mkdirSync(RUN_DIR, { recursive: true });
  const run = await runGuest({ machine: def, ops, artefacts, prefix: join(RUN_DIR, `probe-${def.name}`) });
  const unmovable: number[] = [];
  const others: string[] = [];
  ids.forEach((id, i) => {
    const r = run.report.results.get(2 * i + 1);
    if (r?.kind === 'error' && r.errno === 'EBUSY') unmovable.push(id);
    else if (r?.kind === 'error' && r.errno !== 'ENOENT') others.push(`${id}:${r.errno}`);
  });
  const facts: ProbeFacts = { uname: run.report.uname ?? '?', unmovable, others };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(facts, null, 1)}\n`);
  return { ...facts, run };
}

/** The boot event the guest's boot facts describe. */
export function bootFromRun(run: GuestRun, unmovable: readonly number[], profile?: KernelVersion): DerivedBoot {
  const r = run.report;
  const files = r.facts['boot'] ?? {};
  const links = r.links['boot'] ?? {};
  const facts = summarize(r.uname ?? '?', files, links);
  const has = r.has['boot'] ?? [];
  const under = (dir: string) => has.filter((p) => p.startsWith(dir)).map((p) => p.slice(dir.length));
  const daxDrivers = under('/sys/bus/dax/drivers/');
  const memoryFiles = under('/sys/devices/system/memory/');
  const kallsyms = has.filter((p) => p.startsWith('kallsyms:')).map((p) => p.slice('kallsyms:'.length));
  return deriveBoot(facts, { unmovable, daxDrivers, memoryFiles, kallsyms, swap: r.swap, ...(profile === undefined ? {} : { profile }) });
}

/** `memhp kernel machine NAME`: boot the machine (and probe it) and derive its boot event. */
export async function machineBoot(def: MachineDef, artefacts: KernelArtefacts, opts: { profile?: KernelVersion | undefined; progress?: ((m: string) => void) | undefined } = {}): Promise<{ boot: DerivedBoot; uname: string }> {
  const probe = await probeMachine(def, artefacts, opts.progress);
  let run = probe.run;
  if (run === null) {
    mkdirSync(RUN_DIR, { recursive: true });
    run = await runGuest({ machine: def, ops: [], artefacts, prefix: join(RUN_DIR, `machine-${def.name}`) });
  }
  const boot = bootFromRun(run, probe.unmovable, opts.profile);
  checkGuestIsMachine(boot.event, def, run);
  return { boot, uname: run.report.uname ?? '?' };
}

// ---------------------------------------------------------------- recording

/** The guest must have come up as the machine (a kernel without DEV_DAX_HMEM, say, has no dax0.0). */
export function checkGuestIsMachine(real: BootEvent, def: MachineDef, run: GuestRun): void {
  const diffs = shapeDifferences(real, def);
  if (diffs.length === 0) return;
  const mods = run.report.modules.filter((m) => m.rc !== 0).map((m) => `${m.name}: ${m.message || `insmod status ${m.rc}`}`);
  const setup = run.report.setup.length > 0 ? `\nmachine set-up said: ${run.report.setup.slice(0, 5).join(' / ')}` : '';
  throw new VmError(
    `the guest did not come up as machine ${def.name}:\n${diffs.map((d) => `  - ${d}`).join('\n')}` +
      (mods.length > 0 ? `\nmodules that failed to load: ${mods.join('; ')}` : '') +
      setup +
      `\n(the kernel needs DAX, DEV_DAX, DEV_DAX_KMEM, DEV_DAX_HMEM with EFI_SOFT_RESERVE for hmem, LIBNVDIMM, X86_PMEM_LEGACY, DEV_DAX_PMEM for pmem, built in or given with --modules; console: ${run.consoleLog})`,
    run.consoleLog,
  );
}

/** The operations a log asks for; refuses model-only events. */
export function guestOps(steps: readonly LogEvent[]): GuestOp[] {
  return steps.map((e, i) => {
    switch (e.type) {
      case 'write':
        return { type: 'write', path: e.path, value: e.value, raw: e.raw };
      case 'read':
        return { type: 'read', path: e.path };
      case 'inject':
        throw new RecordRefused(`event ${e.seq ?? i + 1} is an inject (${e.site}): fault injection is model-only, a real kernel cannot fail on demand`);
      case 'boot':
        throw new RecordRefused('a second boot event');
      case 'follow_pfn':
        throw new RecordRefused(`event ${e.seq ?? i + 1} is a follow_pfn (${e.user}): KVM and VFIO users are model-only, the guest has neither a VM nor an IOMMU`);
      case 'reboot':
        throw new RecordRefused(`event ${e.seq ?? i + 1} is a reboot: the harness runs a log in one boot (harness/run-kmem-persist.sh reboots by booting twice)`);
      default:
        return { type: 'program', line: programLine(e) };
    }
  });
}

/** True for the first step without a result when the guest's kernel oopsed there and hung (no later step ran). */
function oopsedHere(i: number, run: GuestRun): boolean {
  return run.oops !== undefined && run.oops !== null && !run.report.ended && [...run.report.results.keys()].every((k) => k <= i);
}

function outcomeOf(e: LogEvent, i: number, run: GuestRun): Outcome {
  const seq = i + 1;
  const r = run.report.results.get(seq);
  const log = (run.report.klog.get(seq) ?? []).map(stripTimestamp).filter((l) => l !== '');
  const withLog = log.length === 0 ? {} : { log };
  const what = `event ${e.seq ?? seq} (${e.type} ${e.type === 'write' || e.type === 'read' ? e.path : ''})`;
  if (r === undefined && oopsedHere(i, run)) return { ok: false, oops: run.oops ?? '', ...withLog };
  if (r === undefined) throw new UnrecordableResult(`${what}: the guest reported no result; console: ${run.consoleLog}`);
  if (r.kind === 'harness') throw new UnrecordableResult(`${what}: ${r.message}`);
  if (r.kind === 'program') {
    const o = programOutcome(r.result, oopsLine(run.report.klog.get(seq) ?? []) ?? run.oops ?? null);
    if ('unrecordable' in o) throw new UnrecordableResult(`${what}: ${o.unrecordable}; console: ${run.consoleLog}`);
    return { ...o, ...withLog };
  }
  if (r.kind === 'error') {
    if (!isErrno(r.errno))
      throw new UnrecordableResult(`${what}: the kernel returned ${r.errno} at ${r.stage}(2), which is not an errno the log format knows (${ERRNO_NAMES.join(', ')}; src/kernel/errno.ts)`);
    return { ok: false, errno: r.errno, ...withLog };
  }
  if (e.type === 'read') return { ok: true, value: r.value ?? '', ...withLog };
  return { ok: true, ...withLog };
}

/** A step with its recorded result (the event's own shape kept). */
function withResult(e: LogEvent, extra: { seq?: number; result: Outcome }): LogEvent {
  return { ...e, ...extra };
}

/** How the log's boot differs from the machine's, beyond the shape matchMachine compared. */
function bootNotes(given: BootEvent, real: BootEvent): string[] {
  const notes: string[] = [];
  if (given.kernel !== real.kernel) notes.push(`the log's boot says kernel ${given.kernel}; the recording uses the guest's profile ${real.kernel}`);
  for (const k of Object.keys(real.config) as (keyof BootEvent['config'])[]) {
    if (given.config[k] !== real.config[k]) notes.push(`the log's config.${k} is ${String(given.config[k])}; the guest has ${String(real.config[k])}`);
  }
  if (given.unmovable.join() !== real.unmovable.join()) notes.push(`the log's unmovable is [${given.unmovable.join(', ')}]; the guest's is [${real.unmovable.join(', ')}]`);
  if (given.reservedKiB !== real.reservedKiB) notes.push(`the log's reservedKiB is ${given.reservedKiB}; the guest's is ${real.reservedKiB}`);
  const drivers = (b: BootEvent) => b.daxRegions.flatMap((r) => r.devices.map((d) => `${d.name}:${String(d.driver)}`)).join(' ');
  if (drivers(given) !== drivers(real)) notes.push(`the log's boot binds ${drivers(given)}; the guest's ${drivers(real)}`);
  const iomem = (b: BootEvent) => b.iomem.map((e) => `${hex(e.start)}-${hex(e.end)} ${e.name}`).join('|');
  if (iomem(given) !== iomem(real)) notes.push(`the log's iomem[] differs from the guest's /proc/iomem (${given.iomem.length} vs ${real.iomem.length} entries)`);
  return notes;
}

/** What a log asks of the harness: the machine its boot describes and the guest operations. Throws RecordRefused. */
export function planRecord(events: readonly LogEvent[], machine?: MachineName): { def: MachineDef; boot: BootEvent; steps: readonly LogEvent[]; ops: GuestOp[] } {
  const [boot, ...steps] = events;
  if (boot === undefined || boot.type !== 'boot') throw new RecordRefused('the log does not start with a boot event');
  const match = matchMachine(boot, machine);
  if (!match.ok) throw new RecordRefused(match.message);
  return { def: match.machine, boot, steps, ops: guestOps(steps) };
}

/** Record a parsed log on the real kernel. */
export async function record(events: readonly LogEvent[], opts: RecordOptions): Promise<Recording> {
  const { def, boot, steps, ops } = planRecord(events, opts.machine);
  const probe = await probeMachine(def, opts.artefacts, opts.progress);
  const dir = opts.workDir ?? RUN_DIR;
  mkdirSync(dir, { recursive: true });
  opts.progress?.(`running ${ops.length} operations on ${def.name} (${opts.artefacts.label})`);
  const program = ops.some((op) => op.type === 'program');
  // A log with program events may oops the guest, which can then hang: a short timeout, and an oops is a result.
  const run = await runGuest({
    machine: def,
    ops,
    artefacts: opts.artefacts,
    prefix: join(dir, opts.name ?? 'record'),
    ...(program ? { tolerateOops: true, timeoutSeconds: 60 + 2 * ops.length } : {}),
    ...(opts.append === undefined ? {} : { append: opts.append }),
  });
  const derived = bootFromRun(run, probe.unmovable, opts.profile);
  checkGuestIsMachine(derived.event, def, run);
  // The input's variant and patch series stay: they say what the kernel under test is (a custom kernel built with
  // a series, e.g. kmem-persist, reports nothing of it in the facts the boot is derived from).
  const realBoot: BootEvent = { ...derived.event, variant: boot.variant, patches: boot.patches, ...(boot.seq === undefined ? {} : { seq: boot.seq }) };
  const recorded: LogEvent[] = [realBoot];
  // A log without seqs gets 1, 2, ... so that divergences and reports can name each step.
  const numbered = steps.every((e) => e.seq === undefined);
  for (const [i, e] of steps.entries()) {
    const result = outcomeOf(e, i, run);
    const seq = numbered ? { seq: i + 1 } : {};
    if (e.type !== 'boot' && e.type !== 'inject') recorded.push(withResult(e, { ...seq, result }));
    // After an oops the machine is dead (SPEC §7): nothing after it ran, and the recording ends there.
    if (!result.ok && 'oops' in result) break;
  }
  return {
    machine: def,
    uname: run.report.uname ?? '?',
    boot: derived,
    events: recorded,
    seconds: run.seconds,
    notes: [...derived.notes, ...bootNotes(boot, realBoot)],
    consoleLog: run.consoleLog,
  };
}

/** The `//` comment lines written before each event of a log text (by event index). */
export function commentsByEvent(text: string, located: readonly LocatedEvent[]): string[][] {
  const lines = text.split(/\r\n|\r|\n/);
  const out: string[][] = [];
  let from = 0;
  for (const { at } of located) {
    const here: string[] = [];
    for (let l = from; l < at.line - 1; l++) {
      const t = (lines[l] ?? '').trim();
      if (t.startsWith('//')) here.push(t);
    }
    out.push(here);
    from = at.line;
  }
  return out;
}

/** A recording as log text: a header comment, the input's comments kept before their events. */
export function renderRecording(rec: Recording, comments: readonly (readonly string[])[] = [], header: readonly string[] = []): string {
  const out: string[] = [...header.map((h) => `// ${h}`)];
  out.push(`// recorded on Linux ${rec.uname} by memhp kernel record (machine ${rec.machine.name}) in ${rec.seconds.toFixed(1)} s under QEMU`);
  rec.events.forEach((e, i) => {
    out.push(...(comments[i] ?? []).filter((c) => !c.startsWith('// recorded on Linux ')));
    out.push(writeEvent(e));
  });
  return `${out.join('\n')}\n`;
}
