/**
 * Program events (log format 2, SPEC §7) on the real kernel: how a program
 * event travels to the guest helper harness/guest/ddx.c (one line of
 * /ops.txt) and how the helper's answer becomes a recorded outcome. The
 * helper performs every event of a log in one process tree: each pid handle
 * is a real process, so fds and mappings live across the sysfs writes in
 * between (see the header of ddx.c).
 */
import type { Outcome } from '../log/events.js';
import { SIGNALS, SIGNAL_CODES, type SignalCode, type SignalName } from '../log/events.js';
import { isBlockIoctl, type MapAddress, type ProgramEvent } from '../log/programEvents.js';

const hexOf = (s: string): string => (s === '' ? '-' : Buffer.from(s, 'utf8').toString('hex'));
const n = (v: bigint): string => v.toString();
const addr = (a: MapAddress | null): string => (a === null ? '- 0' : `${hexOf(a.map)} ${n(a.offset)}`);
const list = (l: readonly string[]): string => (l.length === 0 ? '-' : l.join(','));

/** The words after `<seq>` of one /ops.txt line for ddx (strings hex-encoded, numbers decimal). */
export function programLine(e: ProgramEvent): string {
  // No process: ddx's coordinator makes the call (harness/guest/ddx.c).
  if (e.type === 'swapon' || e.type === 'swapoff') return `${e.type} ${hexOf(e.path)}`;
  // MODEL_ONLY_PROGRAM_EVENTS: the harness refuses a log with these before any line is built.
  if (e.type === 'modprobe' || e.type === 'rmmod') throw new Error(`${e.type} has no guest helper command (MODEL_ONLY_PROGRAM_EVENTS)`);
  const p = hexOf(e.pid);
  switch (e.type) {
    case 'open':
      return `open ${p} ${hexOf(e.fd)} ${hexOf(e.path)} ${e.mode}${e.sync ? '+sync' : ''}`;
    case 'close':
      return `close ${p} ${hexOf(e.fd)}`;
    case 'mmap':
      // An anonymous mapping's fd is "-" (ddx maps it MAP_ANONYMOUS).
      return `mmap ${p} ${hexOf(e.map)} ${e.fd === null ? '-' : hexOf(e.fd)} ${n(e.length)} ${n(e.offset)} ${e.prot} ${list(e.flags)} ${addr(e.addr)}`;
    case 'munmap':
      return `munmap ${p} ${hexOf(e.map)} ${n(e.offset)} ${n(e.length)}`;
    case 'mprotect':
      return `mprotect ${p} ${hexOf(e.map)} ${n(e.offset)} ${n(e.length)} ${e.prot}`;
    case 'madvise':
      return `madvise ${p} ${hexOf(e.map)} ${n(e.offset)} ${n(e.length)} ${e.advice}`;
    case 'mremap':
      return `mremap ${p} ${hexOf(e.map)} ${n(e.offset)} ${n(e.length)} ${n(e.newLength)} ${list(e.flags)} ${addr(e.addr)}`;
    case 'access':
    case 'procmem':
      return `${e.type} ${p} ${hexOf(e.map)} ${n(e.offset)} ${e.op} ${n(e.value ?? 0n)}`;
    case 'follow_pfn':
      // guestOps refuses model-only events before any line is written.
      throw new Error('model bug: a follow_pfn event reached the guest helper');
    case 'pread':
      return `pread ${p} ${hexOf(e.fd)} ${n(e.offset)} ${n(e.length)}`;
    case 'pwrite':
      return `pwrite ${p} ${hexOf(e.fd)} ${n(e.offset)} ${n(e.length)} ${n(e.value ?? 0n)}`;
    case 'ioctl': {
      if (isBlockIoctl(e)) return `ioctl ${p} ${hexOf(e.fd)} ${e.cmd} ${n(e.args.start)} ${n(e.args.length)}`;
      // struct hmm_dmirror_cmd: addr and ptr as mapping handle + offset (ptr "-": NULL), npages.
      return `dmirror ${p} ${hexOf(e.fd)} ${e.cmd} ${addr(e.args.addr)} ${addr(e.args.ptr)} ${n(e.args.npages)}`;
    }
    case 'fork':
      return `fork ${p} ${hexOf(e.child)}`;
    case 'exit':
      return `exit ${p}`;
  }
}

/** What ddx reported for a program event (the `RESULT ...` line after the sysfs-op kinds). */
export type ProgramResult =
  | { readonly kind: 'word'; readonly value: string }
  /** A dmirror command's output fields (`RESULT out cpages=N faults=M`). */
  | { readonly kind: 'out'; readonly out: Readonly<Record<string, number>> }
  | { readonly kind: 'signal'; readonly signal: SignalName; readonly code: SignalCode }
  /** The process died inside the system call (a kernel oops killed it): `status` is its wait status. */
  | { readonly kind: 'died'; readonly status: number };

/** ddx's `RESULT value|signal|died ...` line; null for any other line (sysfs-op's kinds, errno, garbage). */
export function decodeProgramResult(line: string): ProgramResult | { readonly kind: 'bad'; readonly message: string } | null {
  const w = line.trim().split(' ');
  if (w[0] !== 'RESULT') return null;
  switch (w[1]) {
    case 'value':
      // A word or an address; a block read's runs ("0x1*512,0x0*512"), or "-" for no bytes (readValue's "").
      if (w[2] === '-') return { kind: 'word', value: '' };
      return w[2] !== undefined && /^0x[0-9a-f]+(\*\d+)?(,0x[0-9a-f]+\*\d+)*$/.test(w[2]) ? { kind: 'word', value: w[2] } : { kind: 'bad', message: line };
    case 'signal': {
      const sig = SIGNALS.find((s) => s === w[2]);
      const code = SIGNAL_CODES.find((c) => c === w[3]);
      return sig !== undefined && code !== undefined ? { kind: 'signal', signal: sig, code } : { kind: 'bad', message: `a signal the log format cannot hold: ${line}` };
    }
    case 'died':
      return { kind: 'died', status: Number(w[2]) };
    case 'out': {
      const out: Record<string, number> = {};
      for (const f of w.slice(2)) {
        const m = /^([a-z]+)=(\d+)$/.exec(f);
        if (m?.[1] === undefined || m[2] === undefined || !Number.isSafeInteger(Number(m[2]))) return { kind: 'bad', message: line };
        out[m[1]] = Number(m[2]);
      }
      return { kind: 'out', out };
    }
    default:
      return null;
  }
}

/**
 * The first line of a kernel oops in the kernel's messages: the line an
 * oops report begins with ("BUG: kernel NULL pointer dereference, address:
 * ...", "BUG: unable to handle page fault for address: ...", "general
 * protection fault, ...", "kernel BUG at ..."), timestamps stripped.
 */
export function oopsLine(lines: readonly string[]): string | null {
  for (const raw of lines) {
    const l = raw.replace(/^.*?\[\s*\d+\.\d+\]\s?/, '').replace(/\s+$/, '');
    if (/^(BUG: |general protection fault|kernel BUG at |Oops: )/.test(l)) return l;
  }
  return null;
}

/** An outcome for a program event's result (errno failures come through the sysfs-op `error` kind). */
export function programOutcome(r: ProgramResult, oops: string | null): Outcome | { readonly unrecordable: string } {
  switch (r.kind) {
    case 'word':
      return { ok: true, value: r.value };
    case 'out':
      return { ok: true, out: r.out };
    case 'signal':
      return { ok: false, signal: r.signal, code: r.code };
    case 'died':
      return oops === null
        ? { unrecordable: `the process died (${r.status === -1 ? 'no answer within 20 s, or no wait status' : `wait status ${r.status}`}) and the kernel printed no oops` }
        : { ok: false, oops };
  }
}
