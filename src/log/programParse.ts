/**
 * Program events (log format version 2, SPEC §7) from their parsed JSON:
 * the schema, then the rules a schema cannot state (a write carries a value,
 * an access is one aligned 64-bit word, `fixed` names an address, no flag
 * twice), and across events the rule about process handles.
 */
import { describeValue, FieldProblem, LogError } from './errors.js';
import { parseWith } from './fields.js';
import type { LogEvent, SourceLocation } from './events.js';
import {
  isDmirrorIoctlCmd,
  MAX_PROGRAM_LENGTH,
  PROGRAM_SCHEMAS,
  type AccessEvent,
  type MapAddress,
  type OpenMode,
  type ProgramEvent,
  type ProgramEventType,
} from './programEvents.js';

function common(p: { seq?: number | undefined; result?: LogEvent['result'] }) {
  return { ...(p.seq === undefined ? {} : { seq: p.seq }), ...(p.result === undefined ? {} : { result: p.result }) };
}

function noDuplicates(flags: readonly string[], field: string): void {
  const seen = new Set<string>();
  flags.forEach((f, i) => {
    if (seen.has(f)) throw new FieldProblem([field, i], 'each flag at most once', JSON.stringify(f));
    seen.add(f);
  });
}

function bounded(v: bigint, field: string): bigint {
  if (v > MAX_PROGRAM_LENGTH) throw new FieldProblem([field], 'a length or offset of at most 2^62', `0x${v.toString(16)}`);
  return v;
}

function addr(a: { map: string; offset: bigint } | undefined): MapAddress | null {
  return a === undefined ? null : { map: a.map, offset: bounded(a.offset, 'addr') };
}

/** Validate one program event's JSON (its `type` is already known to be a program event type). */
export function parseProgramEvent(type: ProgramEventType, raw: Record<string, unknown>): ProgramEvent {
  switch (type) {
    case 'open': {
      const e = parseWith(PROGRAM_SCHEMAS.open, raw);
      const [mode, sync] = e.flags.split('+') as [OpenMode, string | undefined];
      return { type: 'open', pid: e.pid, fd: e.fd, path: e.path, mode, sync: sync !== undefined, ...common(e) };
    }
    case 'close': {
      const e = parseWith(PROGRAM_SCHEMAS.close, raw);
      return { type: 'close', pid: e.pid, fd: e.fd, ...common(e) };
    }
    case 'mmap': {
      const e = parseWith(PROGRAM_SCHEMAS.mmap, raw);
      noDuplicates(e.flags, 'flags');
      // MAP_SHARED|MAP_ANONYMOUS is a shmem mapping (shmem_zero_setup), which the model leaves out (src/kernel/mm/mmap.ts).
      if (e.fd === null && e.flags.includes('shared') && !e.flags.includes('private') && !e.flags.includes('validate'))
        throw new FieldProblem(['flags'], 'private for an anonymous mapping (fd null): shared anonymous (shmem) mappings are not modelled', 'shared');
      if (e.flags.includes('fixed') && e.addr === undefined) throw new FieldProblem(['addr'], 'an address {"map","offset"} with the "fixed" flag', 'no addr');
      return {
        type: 'mmap',
        pid: e.pid,
        map: e.map,
        fd: e.fd,
        length: bounded(e.length, 'length'),
        offset: bounded(e.offset, 'offset'),
        prot: e.prot,
        flags: e.flags,
        addr: addr(e.addr),
        ...common(e),
      };
    }
    case 'munmap': {
      const e = parseWith(PROGRAM_SCHEMAS.munmap, raw);
      return { type: 'munmap', pid: e.pid, map: e.map, offset: bounded(e.offset, 'offset'), length: bounded(e.length, 'length'), ...common(e) };
    }
    case 'mprotect': {
      const e = parseWith(PROGRAM_SCHEMAS.mprotect, raw);
      return { type: 'mprotect', pid: e.pid, map: e.map, offset: bounded(e.offset, 'offset'), length: bounded(e.length, 'length'), prot: e.prot, ...common(e) };
    }
    case 'madvise': {
      const e = parseWith(PROGRAM_SCHEMAS.madvise, raw);
      return { type: 'madvise', pid: e.pid, map: e.map, offset: bounded(e.offset, 'offset'), length: bounded(e.length, 'length'), advice: e.advice, ...common(e) };
    }
    case 'mremap': {
      const e = parseWith(PROGRAM_SCHEMAS.mremap, raw);
      noDuplicates(e.flags, 'flags');
      if (e.flags.includes('fixed') && (e.addr === undefined || !e.flags.includes('maymove')))
        throw new FieldProblem(['flags'], '"fixed" only with "maymove" and an addr {"map","offset"} (MREMAP_FIXED needs MREMAP_MAYMOVE)', JSON.stringify(e.flags));
      return {
        type: 'mremap',
        pid: e.pid,
        map: e.map,
        offset: bounded(e.offset, 'offset'),
        length: bounded(e.length, 'length'),
        newLength: bounded(e.newLength, 'newLength'),
        flags: e.flags,
        addr: addr(e.addr),
        ...common(e),
      };
    }
    case 'access':
    case 'procmem': {
      const e = parseWith(PROGRAM_SCHEMAS[type], raw);
      if (e.offset % 8n !== 0n) throw new FieldProblem(['offset'], 'an offset that is a multiple of 8 (one aligned 64-bit word)', `0x${e.offset.toString(16)}`);
      if (e.op === 'write' && e.value === undefined) throw new FieldProblem(['value'], 'a 64-bit word to write ("0x...")', 'no value');
      if (e.op === 'read' && e.value !== undefined) throw new FieldProblem(['value'], 'no value for a read', describeValue(raw['value']));
      if (e.value !== undefined && e.value > 0xffff_ffff_ffff_ffffn) throw new FieldProblem(['value'], 'a 64-bit word (below 2^64)', `0x${e.value.toString(16)}`);
      const ev: AccessEvent = { type, pid: e.pid, map: e.map, offset: bounded(e.offset, 'offset'), op: e.op, value: e.value ?? null, ...common(e) };
      return ev;
    }
    case 'follow_pfn': {
      const e = parseWith(PROGRAM_SCHEMAS.follow_pfn, raw);
      // One page is resolved; the offset names it, so any byte of it will do, as for the kernel's users.
      return { type: 'follow_pfn', pid: e.pid, map: e.map, offset: bounded(e.offset, 'offset'), op: e.op, user: e.user, ...common(e) };
    }
    case 'fork': {
      const e = parseWith(PROGRAM_SCHEMAS.fork, raw);
      if (e.child === e.pid) throw new FieldProblem(['child'], 'a pid handle other than the parent', JSON.stringify(e.child));
      return { type: 'fork', pid: e.pid, child: e.child, ...common(e) };
    }
    case 'exit': {
      const e = parseWith(PROGRAM_SCHEMAS.exit, raw);
      return { type: 'exit', pid: e.pid, ...common(e) };
    }
    case 'swapon': {
      const e = parseWith(PROGRAM_SCHEMAS.swapon, raw);
      return { type: 'swapon', path: e.path, ...common(e) };
    }
    case 'swapoff': {
      const e = parseWith(PROGRAM_SCHEMAS.swapoff, raw);
      return { type: 'swapoff', path: e.path, ...common(e) };
    }
    case 'modprobe':
    case 'rmmod': {
      const e = parseWith(PROGRAM_SCHEMAS[type], raw);
      return { type, module: e.module, ...common(e) };
    }
    case 'pread': {
      const e = parseWith(PROGRAM_SCHEMAS.pread, raw);
      return { type: 'pread', pid: e.pid, fd: e.fd, offset: bounded(e.offset, 'offset'), length: bounded(e.length, 'length'), value: null, ...common(e) };
    }
    case 'pwrite': {
      const e = parseWith(PROGRAM_SCHEMAS.pwrite, raw);
      if (e.value > 0xffff_ffff_ffff_ffffn) throw new FieldProblem(['value'], 'a 64-bit word (below 2^64)', `0x${e.value.toString(16)}`);
      return { type: 'pwrite', pid: e.pid, fd: e.fd, offset: bounded(e.offset, 'offset'), length: bounded(e.length, 'length'), value: e.value, ...common(e) };
    }
    case 'ioctl': {
      if (isDmirrorIoctlCmd(raw['cmd'])) {
        const d = parseWith(PROGRAM_SCHEMAS.dmirrorIoctl, raw);
        const ptr = d.args.ptr === null ? null : { map: d.args.ptr.map, offset: d.args.ptr.offset };
        return { type: 'ioctl', pid: d.pid, fd: d.fd, cmd: d.cmd, args: { addr: { map: d.args.addr.map, offset: bounded(d.args.addr.offset, 'args') }, npages: d.args.npages, ptr: ptr === null ? null : { map: ptr.map, offset: bounded(ptr.offset, 'args') } }, ...common(d) };
      }
      const e = parseWith(PROGRAM_SCHEMAS.ioctl, raw);
      // A dmirror command took the branch above; what is left is a block command.
      const cmd = e.cmd;
      if (isDmirrorIoctlCmd(cmd)) throw new Error(`model bug: ${cmd} reached the block ioctl schema`);
      return { type: 'ioctl', pid: e.pid, fd: e.fd, cmd, args: { start: bounded(e.args.start, 'args'), length: bounded(e.args.length, 'args') }, ...common(e) };
    }
  }
}

/**
 * Process handles across a log: a process lives from its first use or the
 * fork that names it until its exit. Whether a fork succeeds does not depend
 * on the machine the log describes, so a fork into a handle that names a
 * live process is a mistake in the log, found when it is read.
 */
export class ProcessHandles {
  /** Live handle → the line that brought it to life. */
  private readonly live = new Map<string, number>();

  check(event: LogEvent, at: SourceLocation): void {
    if (event.type === 'boot' || !('pid' in event)) return;
    if (!this.live.has(event.pid)) this.live.set(event.pid, at.line);
    if (event.type === 'fork') {
      const since = this.live.get(event.child);
      if (since !== undefined) throw new LogError(at, 'child', `a pid handle not in use (${event.child} is alive since line ${since})`, JSON.stringify(event.child));
      this.live.set(event.child, at.line);
    }
    if (event.type === 'exit') this.live.delete(event.pid);
  }
}
