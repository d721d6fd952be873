/**
 * The host side of the guest protocol (harness/guest/init, harness/guest/sysfs-op.c).
 *
 * The host hands the guest its operations in `/ops.txt`, one a line:
 *   `<seq> write|raw|read <hexpath> <hexvalue or ->`, `<seq> dump - -`,
 *   `<seq> sleep - <hex of seconds>`, `<seq> list <hexpath> -`;
 * paths and values travel hex-encoded, so any byte string survives the shell.
 * The guest answers on the serial console with lines starting `@@MEMHP `
 * (see the header of harness/guest/init); the helper's own line for each
 * operation is `RESULT ok [base64]`, `RESULT open-error ENAME`,
 * `RESULT write-error ENAME`, ...
 */

import { decodeProgramResult, type ProgramResult } from './program.js';

/** One operation the guest performs. `dump` re-reads every boot fact; `sleep` waits. */
export type GuestOp =
  | { readonly type: 'write'; readonly path: string; readonly value: string; readonly raw: boolean }
  | { readonly type: 'read'; readonly path: string }
  | { readonly type: 'dump' }
  | { readonly type: 'sleep'; readonly seconds: number }
  /** Every entry of a directory: `ls -l`'s mode string, a symlink's target, a readable file's content. */
  | { readonly type: 'list'; readonly path: string }
  /** A program event (log format 2), performed by harness/guest/ddx.c: the line src/realkernel/program.ts writes. */
  | { readonly type: 'program'; readonly line: string };

/** What the helper reported for one operation. */
export type OpResult =
  | { readonly kind: 'ok'; readonly value?: string }
  /** The syscall that failed (open, write, read, close; `call`: a program event's) and the errno name the guest printed. */
  | { readonly kind: 'error'; readonly stage: 'open' | 'write' | 'read' | 'close' | 'call'; readonly errno: string }
  /** ddx's answer to a program event: a word or address, a signal, or the process died (src/realkernel/program.ts). */
  | { readonly kind: 'program'; readonly result: ProgramResult }
  /** Anything else: a short write, a usage error, an unparsable line. */
  | { readonly kind: 'harness'; readonly message: string };

const hexOf = (s: string): string => (s === '' ? '-' : Buffer.from(s, 'utf8').toString('hex'));

/** `/ops.txt` for these operations, numbered from 1. */
export function opsText(ops: readonly GuestOp[]): string {
  const lines = ops.map((op, i) => {
    const seq = i + 1;
    switch (op.type) {
      case 'write':
        return `${seq} ${op.raw ? 'raw' : 'write'} ${hexOf(op.path)} ${hexOf(op.value)}`;
      case 'read':
        return `${seq} read ${hexOf(op.path)} -`;
      case 'dump':
        return `${seq} dump - -`;
      case 'sleep':
        return `${seq} sleep - ${hexOf(String(op.seconds))}`;
      case 'list':
        return `${seq} list ${hexOf(op.path)} -`;
      case 'program':
        return `${seq} ${op.line}`;
    }
  });
  return `${lines.join('\n')}\n`;
}

/** A newc cpio archive of small regular files (mode 0644, owner root), padded to 512 bytes. */
export function cpio(files: Readonly<Record<string, string | Buffer>>): Buffer {
  const parts: Buffer[] = [];
  let ino = 1000;
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name: string, data: Buffer, mode: number): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    const f = (v: number): string => v.toString(16).padStart(8, '0');
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
    const header = `070701${fields.map(f).join('')}`;
    parts.push(Buffer.from(header), nameBuf, pad4(110 + nameBuf.length), data, pad4(data.length));
  };
  for (const [name, content] of Object.entries(files)) entry(name, Buffer.from(content), 0o100644);
  entry('TRAILER!!!', Buffer.alloc(0), 0);
  const out = Buffer.concat(parts);
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}

/** The helper's `RESULT ...` line. */
export function decodeResult(line: string): OpResult {
  const m = /^RESULT (\S+)(?: (\S+))?(?: (\S+))?/.exec(line);
  if (m === null) return { kind: 'harness', message: `unparsable helper output: ${JSON.stringify(line)}` };
  const kind = m[1];
  const a = m[2];
  if (kind === 'ok') {
    if (a === undefined) return { kind: 'ok' };
    return { kind: 'ok', value: a === '=' ? '' : Buffer.from(a, 'base64').toString('utf8') };
  }
  if (kind === 'errno' && a !== undefined) return { kind: 'error', stage: 'call', errno: a };
  const program = decodeProgramResult(line);
  if (program !== null) return program.kind === 'bad' ? { kind: 'harness', message: program.message } : { kind: 'program', result: program };
  const stage = /^(open|write|read|close)-error$/.exec(kind ?? '')?.[1];
  if (stage !== undefined && a !== undefined) {
    return { kind: 'error', stage: stage as 'open' | 'write' | 'read' | 'close', errno: a };
  }
  if (kind === 'short-write') return { kind: 'harness', message: `short write: ${a ?? '?'} of ${m[3] ?? '?'} bytes` };
  return { kind: 'harness', message: line };
}

/** One entry of a listed directory. */
export interface ListedEntry {
  /** `ls -l`'s mode string: "-rw-r--r--", "drwxr-xr-x", "lrwxrwxrwx". */
  readonly mode: string;
  readonly name: string;
  /** A symlink's target, as readlink prints it. */
  readonly target: string | null;
  /** A regular file with a read bit: what reading it gave (content or errno); otherwise null. */
  readonly read: OpResult | null;
}

/** Everything one guest run printed, by protocol tag. */
export interface ConsoleReport {
  uname: string | null;
  readonly modules: { name: string; rc: number; message: string }[];
  readonly setup: string[];
  /** Facts by tag ("boot", "op<seq>"), then path: the file's text, or the errno that reading it gave. */
  readonly facts: Record<string, Record<string, string | { error: string }>>;
  /** Symlinks by tag, then path: the link target. */
  readonly links: Record<string, Record<string, string>>;
  /** Directories reported present, by tag. */
  readonly has: Record<string, string[]>;
  /** Results by seq. */
  readonly results: Map<number, OpResult>;
  /** Kernel messages by seq (0: the boot, until the first operation). */
  readonly klog: Map<number, string[]>;
  /** Directory entries by seq (list operations), in the guest's glob order. */
  readonly listings: Map<number, ListedEntry[]>;
  /** The block devices the guest made for swapon/swapoff (SWAP lines): `area` when mkswap prepared it. */
  readonly swap: { readonly path: string; readonly area: boolean }[];
  begun: boolean;
  ended: boolean;
}

/** Parse the serial console of one run (noise between protocol lines is ignored). */
export function parseConsole(text: string): ConsoleReport {
  const res: ConsoleReport = {
    uname: null,
    modules: [],
    setup: [],
    facts: {},
    links: {},
    has: {},
    results: new Map(),
    klog: new Map(),
    listings: new Map(),
    swap: [],
    begun: false,
    ended: false,
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const at = line.indexOf('@@MEMHP ');
    if (at < 0) continue;
    const body = line.slice(at + 8);
    const sp = body.indexOf(' ');
    const tag = sp < 0 ? body : body.slice(0, sp);
    const rest = sp < 0 ? '' : body.slice(sp + 1);
    const words = rest.split(' ');
    switch (tag) {
      case 'BEGIN':
        res.begun = true;
        break;
      case 'END':
        res.ended = true;
        break;
      case 'UNAME':
        res.uname = rest;
        break;
      case 'MOD':
        res.modules.push({ name: words[0] ?? '', rc: Number(words[1]), message: words.slice(2).join(' ') });
        break;
      case 'SETUP':
        res.setup.push(rest);
        break;
      case 'FACT': {
        const [t, p] = words;
        if (t === undefined || p === undefined) break;
        const r = decodeResult(words.slice(2).join(' '));
        (res.facts[t] ??= {})[p] = r.kind === 'ok' ? (r.value ?? '') : { error: r.kind === 'error' ? r.errno : r.kind === 'harness' ? r.message : `unexpected ${r.kind} result` };
        break;
      }
      case 'LINK': {
        const [t, p, target] = words;
        if (t !== undefined && p !== undefined && target !== undefined) (res.links[t] ??= {})[p] = target;
        break;
      }
      case 'HAS': {
        const [t, p] = words;
        if (t !== undefined && p !== undefined) (res.has[t] ??= []).push(p);
        break;
      }
      case 'RES':
        res.results.set(Number(words[0]), decodeResult(words.slice(1).join(' ')));
        break;
      case 'LS': {
        const [seq, mode, name, target] = words;
        if (seq === undefined || mode === undefined || name === undefined || target === undefined) break;
        const rest = words.slice(4).join(' ');
        const list = res.listings.get(Number(seq)) ?? [];
        list.push({ mode, name, target: target === '-' ? null : target, read: rest === 'RESULT -' ? null : decodeResult(rest) });
        res.listings.set(Number(seq), list);
        break;
      }
      case 'SWAP': {
        const [path, what] = words;
        if (path !== undefined && (what === 'area' || what === 'blank')) res.swap.push({ path, area: what === 'area' });
        break;
      }
      case 'KLOG': {
        const seq = Number(words[0]);
        const list = res.klog.get(seq) ?? [];
        list.push(words.slice(1).join(' '));
        res.klog.set(seq, list);
        break;
      }
      default:
        break;
    }
  }
  return res;
}

/** A kernel message without dmesg's `[    3.473680] ` timestamp and trailing blanks. */
export function stripTimestamp(line: string): string {
  return line.replace(/^\[\s*\d+\.\d+\]\s?/, '').replace(/\s+$/, '');
}
