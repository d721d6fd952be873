/**
 * Booting a guest: the kernel and initramfs to use (harness/setup.sh's
 * Debian kernel, or a developer's own with --kernel / --modules), one QEMU
 * run per sequence (TCG, -smp 1: faster than -smp 2 on a 2-core host, and
 * there is no KVM), and the console it printed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { COMMON_APPEND, type MachineDef } from './machine.js';
import { oopsLine } from './program.js';
import { cpio, opsText, parseConsole, type ConsoleReport, type GuestOp } from './protocol.js';

/** The package root, found from this file (src/realkernel/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HARNESS_DIR = join(PACKAGE_ROOT, 'harness');
export const CACHE_DIR = join(PACKAGE_ROOT, '.cache');
const BUILD_DIR = join(CACHE_DIR, 'build');
const SETUP_HINT = 'run `bash harness/setup.sh` (as root: it installs qemu-system-x86, busybox-static, cpio, kmod, gcc and ndctl from Debian and fetches the 6.1 and 6.12 kernels)';

/** The harness cannot run here (not set up, no QEMU, a bad --kernel or --modules). */
export class HarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarnessError';
  }
}

/** A guest that did not boot, died, or did not finish its operations. */
export class VmError extends Error {
  constructor(
    message: string,
    readonly consoleLog: string,
  ) {
    super(message);
    this.name = 'VmError';
  }
}

/** What a guest boots: a kernel image and the initramfs holding its modules. */
export interface KernelArtefacts {
  readonly kernel: string;
  readonly initramfs: string;
  /** Identifies the pair (content hashes), for caches of per-kernel facts. */
  readonly key: string;
  /** For messages: "Debian linux-image-6.1.0-56-cloud-amd64" or the paths given. */
  readonly label: string;
}

function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The lib/modules/<release> directory under `dir` (the one holding modules.dep or modules.order). */
function modulesDir(dir: string): string {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new HarnessError(`--modules ${dir}: not a directory`);
  const isTree = (d: string): boolean => existsSync(join(d, 'modules.dep')) || existsSync(join(d, 'modules.order'));
  if (isTree(abs)) return abs;
  const lm = join(abs, 'lib', 'modules');
  if (existsSync(lm)) {
    const trees = readdirSync(lm).map((r) => join(lm, r)).filter(isTree);
    if (trees.length === 1 && trees[0] !== undefined) return trees[0];
    if (trees.length > 1) throw new HarnessError(`--modules ${dir}: several kernels under lib/modules (${trees.join(', ')}); name one`);
  }
  throw new HarnessError(
    `--modules ${dir}: no modules.dep here or under lib/modules/<release> (install them with \`make modules_install INSTALL_MOD_PATH=${dir}\`)`,
  );
}

/**
 * The Debian kernels harness/setup.sh installs, one per series, each under
 * .cache/build/SERIES/ (vmlinuz, initramfs.cpio.gz, PACKAGE, VERSION): 6.1
 * (bookworm's linux-image-cloud-amd64) and 6.12 (linux-image-6.12-cloud-amd64).
 */
export const HARNESS_KERNELS = ['6.1', '6.12'] as const;
export type HarnessKernel = (typeof HARNESS_KERNELS)[number];
/** The series a run boots when neither --kernel-version nor the log's boot.kernel names one. */
export const DEFAULT_HARNESS_KERNEL: HarnessKernel = '6.12';

export function isHarnessKernel(s: string): s is HarnessKernel {
  return (HARNESS_KERNELS as readonly string[]).includes(s);
}

/**
 * The series to boot for a log whose boot names model profile `profile`: that
 * series when the harness has it, else the default (the recording then names
 * the guest's own profile, and a note says so).
 */
export function harnessKernelFor(profile: string | undefined): HarnessKernel {
  return profile !== undefined && isHarnessKernel(profile) ? profile : DEFAULT_HARNESS_KERNEL;
}

/**
 * The kernel and initramfs a run boots. By default harness/setup.sh's Debian
 * kernel of series `kernelVersion` (default DEFAULT_HARNESS_KERNEL); `kernel`
 * (a bzImage) and `modules` (a lib/modules/<release> tree, or a directory
 * holding one) point at a developer's own. Their initramfs is built once by
 * harness/build-initramfs.sh and cached under .cache/realkernel.
 */
export function resolveArtefacts(
  opts: { kernel?: string | undefined; modules?: string | undefined; kernelVersion?: HarnessKernel | undefined } = {},
): KernelArtefacts {
  const series = opts.kernelVersion ?? DEFAULT_HARNESS_KERNEL;
  const seriesDir = join(BUILD_DIR, series);
  const defaultKernel = join(seriesDir, 'vmlinuz');
  const defaultInitramfs = join(seriesDir, 'initramfs.cpio.gz');
  if (opts.kernel === undefined && opts.modules === undefined) {
    if (!existsSync(defaultKernel) || !existsSync(defaultInitramfs)) throw new HarnessError(`the harness's ${series} kernel is not set up: ${SETUP_HINT}`);
    const pkg = existsSync(join(seriesDir, 'PACKAGE')) ? readFileSync(join(seriesDir, 'PACKAGE'), 'utf8').trim() : `${series} kernel`;
    const key = createHash('sha256').update(fileHash(defaultKernel)).update(fileHash(defaultInitramfs)).digest('hex').slice(0, 16);
    return { kernel: realpathSync(defaultKernel), initramfs: defaultInitramfs, key, label: `Debian ${pkg}` };
  }
  const custom = opts.kernel === undefined ? null : customKernel(opts.kernel);
  const kernel = opts.kernel === undefined ? defaultKernel : (custom ?? resolve(opts.kernel));
  if (!existsSync(kernel)) {
    throw new HarnessError(opts.kernel === undefined ? `the harness is not set up: ${SETUP_HINT}` : `--kernel ${opts.kernel}: no such file`);
  }
  const md = opts.modules === undefined ? null : modulesDir(opts.modules);
  const helper = join(BUILD_DIR, 'sysfs-op');
  if (!existsSync(helper)) throw new HarnessError(`the guest helper is not built: ${SETUP_HINT}`);
  const inputs = createHash('sha256');
  inputs.update(md ?? 'no-modules');
  if (md !== null) {
    for (const f of ['modules.dep', 'modules.order']) {
      const p = join(md, f);
      if (existsSync(p)) inputs.update(`${f}:${statSync(p).mtimeMs}`);
    }
  }
  // ddx too: the initramfs carries it (a changed ddx.c must not boot the old helper).
  const ddx = join(BUILD_DIR, 'ddx');
  for (const f of [join(HARNESS_DIR, 'guest', 'init'), join(HARNESS_DIR, 'build-initramfs.sh'), helper, ...(existsSync(ddx) ? [ddx] : [])]) inputs.update(fileHash(f));
  const dir = join(CACHE_DIR, 'realkernel', 'initramfs');
  const initramfs = join(dir, `${inputs.digest('hex').slice(0, 16)}.cpio.gz`);
  if (!existsSync(initramfs)) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('bash', [join(HARNESS_DIR, 'build-initramfs.sh'), initramfs, ...(md === null ? [] : [md])], { encoding: 'utf8' });
    if (r.status !== 0) throw new HarnessError(`building the initramfs failed:\n${r.stderr}`);
  }
  const key = createHash('sha256').update(fileHash(kernel)).update(fileHash(initramfs)).digest('hex').slice(0, 16);
  const what = custom === null ? kernel : `custom kernel ${opts.kernel?.slice('custom:'.length) ?? ''} (${kernel})`;
  return { kernel, initramfs, key, label: `${what}${md === null ? ' (no modules)' : ` with modules from ${md}`}` };
}

/**
 * `--kernel custom:NAME`: the bzImage harness/build-kernel.sh builds from
 * harness/kernels/NAME/ (Debian's linux-source-6.1, tinyconfig + NAME's
 * fragment and patches, everything built in). The script is run every time:
 * it answers from its cache in about a second, and builds (minutes) only when
 * the fragment, the patches or the Debian source changed. Null for a path.
 */
function customKernel(spec: string): string | null {
  const m = /^custom:([A-Za-z0-9_.-]+)$/.exec(spec);
  if (m === null) return null;
  const name = m[1] ?? '';
  if (!existsSync(join(HARNESS_DIR, 'kernels', name, 'config'))) {
    const have = existsSync(join(HARNESS_DIR, 'kernels')) ? readdirSync(join(HARNESS_DIR, 'kernels')).filter((d) => existsSync(join(HARNESS_DIR, 'kernels', d, 'config'))) : [];
    throw new HarnessError(`--kernel ${spec}: no harness/kernels/${name}/config (custom kernels: ${have.join(', ') || 'none'})`);
  }
  const r = spawnSync('bash', [join(HARNESS_DIR, 'build-kernel.sh'), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || dir === '') throw new HarnessError(`--kernel ${spec}: harness/build-kernel.sh ${name} failed (status ${String(r.status)})`);
  return join(dir, 'bzImage');
}

/**
 * The guest's swap areas for a log with swapon/swapoff events: brd ramdisks
 * /dev/ram0..ram31 (brd.ko rd_nr=32, or brd.rd_nr=32 for a built-in brd), the
 * first 30 prepared with mkswap and the last two left blank (swapon: EINVAL).
 * 30 is above MAX_SWAPFILES of every harness kernel (27 on Debian 6.1 and
 * 6.12, 23 on the custom hmm kernel), so a log can fill every type with real
 * swap areas and still have one for EPERM.
 */
export const HARNESS_RAMDISKS = 32;
export const HARNESS_SWAP_AREAS = 30;

/** Whether these operations need the swap areas (a swapon or swapoff event). */
export function needsSwapAreas(ops: readonly GuestOp[]): boolean {
  return ops.some((op) => op.type === 'program' && /^swapo(n|ff) /.test(op.line));
}

export interface GuestRunOptions {
  readonly machine: MachineDef;
  readonly ops: readonly GuestOp[];
  readonly artefacts: KernelArtefacts;
  /** Where the console log is written (PREFIX.console.log). */
  readonly prefix: string;
  /** Seconds for the whole run; default 120 plus 5 per operation. */
  readonly timeoutSeconds?: number;
  /** Seconds before one operation is interrupted (SIGALRM in the helper → EINTR). */
  readonly opTimeoutSeconds?: number;
  /** Extra kernel arguments. */
  readonly append?: string;
  /**
   * A guest whose kernel oopsed may hang before it finishes: with this set, a
   * run that did not finish but whose console shows an oops is returned (with
   * `oops`) instead of failing. Runs with program events set it.
   */
  readonly tolerateOops?: boolean;
}

export interface GuestRun {
  readonly report: ConsoleReport;
  readonly seconds: number;
  readonly consoleLog: string;
  readonly qemuArgs: readonly string[];
  /** The first line of a kernel oops the console or the kernel's messages show, if any. */
  readonly oops?: string | null;
}

/** The QEMU binary and accelerator (MEMHP_QEMU, MEMHP_QEMU_ACCEL=kvm where KVM exists). */
function qemuCommand(): { bin: string; accel: string } {
  return { bin: process.env['MEMHP_QEMU'] ?? 'qemu-system-x86_64', accel: process.env['MEMHP_QEMU_ACCEL'] ?? 'tcg' };
}

function tail(text: string, lines: number): string {
  return text.split('\n').filter((l) => !l.includes('@@MEMHP FACT')).slice(-lines).join('\n');
}

/** Boot the machine, run the operations, power off; the console as parsed. */
export async function runGuest(o: GuestRunOptions): Promise<GuestRun> {
  const { bin, accel } = qemuCommand();
  mkdirSync(join(o.prefix, '..'), { recursive: true });
  const initrd = `${o.prefix}.initrd`;
  const protoLog = `${o.prefix}.proto.log`;
  rmSync(protoLog, { force: true });
  // DDX=1: the log has program events, which harness/guest/ddx.c performs (with the sysfs events) in one process tree.
  const ddx = o.ops.some((op) => op.type === 'program') ? 'DDX=1\n' : '';
  const swap = needsSwapAreas(o.ops);
  const swapConf = swap ? `RAMDISKS=${HARNESS_RAMDISKS}\nSWAP=${HARNESS_SWAP_AREAS}\n` : '';
  const extra = cpio({ 'ops.txt': opsText(o.ops), 'run.conf': `MACHINE=${o.machine.name}\nOP_TIMEOUT=${o.opTimeoutSeconds ?? 30}\n${ddx}${swapConf}` });
  writeFileSync(initrd, Buffer.concat([readFileSync(o.artefacts.initramfs), gzipSync(extra)]));
  const args = [
    '-accel', accel, '-smp', '1', '-m', o.machine.memory, ...o.machine.qemuArgs,
    // ttyS0: the console (kernel messages); ttyS1: the protocol lines alone (see harness/guest/init).
    '-nodefaults', '-display', 'none', '-serial', 'stdio', '-serial', `file:${protoLog}`, '-monitor', 'none', '-no-reboot',
    '-kernel', o.artefacts.kernel, '-initrd', initrd,
    // A built-in brd (the custom kernels) takes its disk count from the command line; Debian's module ignores it.
    '-append', `${COMMON_APPEND} ${o.machine.append}${swap ? ` brd.rd_nr=${HARNESS_RAMDISKS}` : ''} ${o.append ?? ''}`.trim(),
  ];
  const timeout = o.timeoutSeconds ?? 120 + 5 * o.ops.length;
  const t0 = Date.now();
  const chunks: Buffer[] = [];
  let timedOut = false;
  const exit = await new Promise<string>((done, failed) => {
    const q = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      q.kill('SIGKILL');
    }, timeout * 1000);
    q.stdout.on('data', (d: Buffer) => chunks.push(d));
    q.stderr.on('data', (d: Buffer) => chunks.push(d));
    q.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      failed(e.code === 'ENOENT' ? new HarnessError(`${bin} not found: ${SETUP_HINT}`) : e);
    });
    q.on('close', (code, sig) => {
      clearTimeout(timer);
      done(code === null ? `signal ${sig ?? '?'}` : `status ${code}`);
    });
  });
  const seconds = (Date.now() - t0) / 1000;
  rmSync(initrd, { force: true });
  const consoleText = Buffer.concat(chunks).toString('utf8');
  const proto = existsSync(protoLog) ? readFileSync(protoLog, 'utf8') : '';
  rmSync(protoLog, { force: true });
  const consoleLog = `${o.prefix}.console.log`;
  // One file for a person to read: the console (ttyS0), then the protocol lines (ttyS1).
  writeFileSync(`${consoleLog}.tmp`, proto === '' ? consoleText : `${consoleText}\n==== protocol (ttyS1) ====\n${proto}`);
  renameSync(`${consoleLog}.tmp`, consoleLog);
  // A guest without a second serial port writes the protocol on the console.
  const report = parseConsole(proto.includes('@@MEMHP BEGIN') ? proto : consoleText);
  const why = timedOut ? `timed out after ${timeout} s` : `QEMU exited with ${exit}`;
  if (!report.begun) throw new VmError(`the guest never reached the harness's /init (${why}); console: ${consoleLog}\n${tail(consoleText, 15)}`, consoleLog);
  const oops = oopsLine([...report.klog.values()].flat()) ?? oopsLine(consoleText.split('\n'));
  if (!report.ended && o.tolerateOops === true && oops !== null) return { report, seconds, consoleLog, qemuArgs: args, oops };
  if (!report.ended) throw new VmError(`the guest did not finish its operations (${why}); console: ${consoleLog}\n${tail(consoleText, 15)}`, consoleLog);
  return { report, seconds, consoleLog, qemuArgs: args, oops };
}
