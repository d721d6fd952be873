/**
 * One event's JSON value to a LogEvent: dispatch on "type", the schema, then
 * (for boot) the defaults and the self-consistency checks. Throws FieldProblem.
 */
import type { BootEvent, InjectEvent, LogEvent, ReadEvent, RebootEvent, WriteEvent } from './events.js';
import { describeValue, FieldProblem } from './errors.js';
import { oneOf, parseWith } from './fields.js';
import { bootSchema, EVENT_TYPES, injectSchema, readSchema, rebootSchema, writeSchema } from './schema.js';
import { toBootEvent } from './boot.js';
import { checkBoot } from './bootCheck.js';
import { isProgramEventType, MAP_FLAGS, MAX_PROGRAM_LENGTH, PROGRAM_EVENT_TYPES, type AccessEvent, type MapFlag, type MmapEvent } from './programEvents.js';
import { parseU64 } from '../util/u64.js';
import { parseProgramEvent } from './programParse.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Drops absent optional keys, so parsed events compare equal to hand-built ones. */
function common(p: { seq?: number | undefined; result?: LogEvent['result'] }) {
  return { ...(p.seq === undefined ? {} : { seq: p.seq }), ...(p.result === undefined ? {} : { result: p.result }) };
}

export function parseBoot(raw: unknown): BootEvent {
  const { boot, singleRange } = toBootEvent(parseWith(bootSchema, raw));
  checkBoot(boot, singleRange);
  return boot;
}

// Direct comparisons: a Set lookup per key costs more than these few compares.
function writeKey(k: string): boolean {
  return k === 'type' || k === 'path' || k === 'value' || k === 'seq' || k === 'raw';
}
function readKey(k: string): boolean {
  return k === 'type' || k === 'path' || k === 'seq';
}
function accessKey(k: string): boolean {
  return k === 'type' || k === 'pid' || k === 'map' || k === 'offset' || k === 'op' || k === 'value' || k === 'seq';
}

/**
 * The hottest program events, a CPU access or a /proc/PID/mem access
 * without a recorded result, checked directly by the rules of their schema
 * and parseProgramEvent (strict keys, non-empty handles, an 8-aligned offset
 * up to 2^62, a value below 2^64 exactly for writes); anything doubtful goes
 * through the schemas.
 */
function accessFastPath(raw: Record<string, unknown>, type: 'access' | 'procmem', seq: number | undefined): LogEvent | null {
  const pid = raw['pid'];
  const map = raw['map'];
  const op = raw['op'];
  if (typeof pid !== 'string' || pid === '' || typeof map !== 'string' || map === '' || (op !== 'read' && op !== 'write')) return null;
  for (const k in raw) if (!accessKey(k)) return null;
  const off = parseU64(raw['offset']);
  if (!off.ok || off.value % 8n !== 0n || off.value > MAX_PROGRAM_LENGTH) return null;
  let value: bigint | null = null;
  if (op === 'write') {
    const v = parseU64(raw['value']);
    if (!v.ok || v.value > 0xffff_ffff_ffff_ffffn) return null;
    value = v.value;
  } else if (raw['value'] !== undefined) return null;
  const ev: AccessEvent = seq === undefined ? { type, pid, map, offset: off.value, op, value } : { type, pid, map, offset: off.value, op, value, seq };
  return ev;
}

function munmapKey(k: string): boolean {
  return k === 'type' || k === 'pid' || k === 'map' || k === 'offset' || k === 'length' || k === 'seq';
}
function forkKey(k: string): boolean {
  return k === 'type' || k === 'pid' || k === 'child' || k === 'seq';
}
function exitKey(k: string): boolean {
  return k === 'type' || k === 'pid' || k === 'seq';
}

function handleOk(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/**
 * The other program events a replay of a program meets every few steps —
 * munmap, fork, exit without a recorded result — by the rules of their
 * schemas and parseProgramEvent (strict keys, non-empty handles, offset
 * defaulting to 0, offset and length up to 2^62, a child other than its
 * parent); anything doubtful goes through the schemas.
 */
function programFastPath(raw: Record<string, unknown>, type: 'munmap' | 'fork' | 'exit', seq: number | undefined): LogEvent | null {
  const pid = raw['pid'];
  if (!handleOk(pid)) return null;
  if (type === 'exit') {
    for (const k in raw) if (!exitKey(k)) return null;
    return seq === undefined ? { type, pid } : { type, pid, seq };
  }
  if (type === 'fork') {
    const child = raw['child'];
    if (!handleOk(child) || child === pid) return null;
    for (const k in raw) if (!forkKey(k)) return null;
    return seq === undefined ? { type, pid, child } : { type, pid, child, seq };
  }
  const map = raw['map'];
  if (!handleOk(map)) return null;
  for (const k in raw) if (!munmapKey(k)) return null;
  const off = raw['offset'] === undefined ? { ok: true as const, value: 0n } : parseU64(raw['offset']);
  const len = parseU64(raw['length']);
  if (!off.ok || !len.ok || off.value > MAX_PROGRAM_LENGTH || len.value > MAX_PROGRAM_LENGTH) return null;
  return seq === undefined ? { type, pid, map, offset: off.value, length: len.value } : { type, pid, map, offset: off.value, length: len.value, seq };
}

function mmapKey(k: string): boolean {
  return k === 'type' || k === 'pid' || k === 'map' || k === 'fd' || k === 'length' || k === 'offset' || k === 'prot' || k === 'flags' || k === 'seq';
}

/**
 * An mmap without an address or a recorded result, by the rules of its
 * schema and parseProgramEvent (strict keys, handles, fd a handle or null,
 * offset defaulting to 0, length and offset up to 2^62, a known prot, known
 * flags each once); anything doubtful, and every case parseProgramEvent
 * refuses (MAP_FIXED, which needs an address; a shared anonymous mapping),
 * goes through the schemas.
 */
function mmapFastPath(raw: Record<string, unknown>, seq: number | undefined): LogEvent | null {
  const pid = raw['pid'];
  const map = raw['map'];
  const fd = raw['fd'];
  const prot = raw['prot'];
  const flags = raw['flags'];
  if (!handleOk(pid) || !handleOk(map) || (fd !== null && !handleOk(fd))) return null;
  if (prot !== 'none' && prot !== 'r' && prot !== 'rw') return null;
  if (!Array.isArray(flags)) return null;
  for (const k in raw) if (!mmapKey(k)) return null;
  const out: MapFlag[] = [];
  for (const f of flags as unknown[]) {
    if (typeof f !== 'string' || !(MAP_FLAGS as readonly string[]).includes(f) || f === 'fixed' || out.includes(f as MapFlag)) return null;
    out.push(f as MapFlag);
  }
  if (fd === null && out.includes('shared') && !out.includes('private') && !out.includes('validate')) return null;
  const off = raw['offset'] === undefined ? { ok: true as const, value: 0n } : parseU64(raw['offset']);
  const len = parseU64(raw['length']);
  if (!off.ok || !len.ok || off.value > MAX_PROGRAM_LENGTH || len.value > MAX_PROGRAM_LENGTH) return null;
  const ev: MmapEvent = { type: 'mmap', pid, map, fd, length: len.value, offset: off.value, prot, flags: out, addr: null };
  return seq === undefined ? ev : { ...ev, seq };
}

/**
 * The two shapes that make up almost every log line — a write or a read
 * without a recorded result — checked directly: the same rules as
 * writeSchema / readSchema (strict keys, absolute path, string value,
 * boolean raw, positive safe-integer seq). Anything else, or anything these
 * checks doubt, goes through the schemas, which also word the errors.
 */
function fastPath(raw: Record<string, unknown>): LogEvent | null {
  const type = raw['type'];
  const path = raw['path'];
  const seq = raw['seq'];
  if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1)) return null;
  if (type === 'access' || type === 'procmem') return accessFastPath(raw, type, seq);
  if (type === 'munmap' || type === 'fork' || type === 'exit') return programFastPath(raw, type, seq);
  if (type === 'mmap') return mmapFastPath(raw, seq);
  if (typeof path !== 'string' || path.charCodeAt(0) !== 47 /* '/' */) return null;
  if (type === 'write') {
    const value = raw['value'];
    const r = raw['raw'];
    if (typeof value !== 'string' || (r !== undefined && typeof r !== 'boolean')) return null;
    for (const k in raw) if (!writeKey(k)) return null;
    const ev: WriteEvent = seq === undefined ? { type: 'write', path, value, raw: r === true } : { type: 'write', path, value, raw: r === true, seq };
    return ev;
  }
  if (type === 'read') {
    for (const k in raw) if (!readKey(k)) return null;
    const ev: ReadEvent = seq === undefined ? { type: 'read', path } : { type: 'read', path, seq };
    return ev;
  }
  return null;
}

/**
 * Validate one event's parsed JSON.
 * @example parseEvent({ type: 'read', path: '/proc/iomem' }) // { type: 'read', path: '/proc/iomem' }
 */
export function parseEvent(raw: unknown): LogEvent {
  if (!isRecord(raw)) throw new FieldProblem([], 'a JSON object (one event a line)', describeValue(raw));
  const fast = fastPath(raw);
  if (fast !== null) return fast;
  return parseWithSchemas(raw);
}

/** The schema route for every event (exported for the test that checks the fast path agrees with it). */
export function parseWithSchemas(raw: Record<string, unknown>): LogEvent {
  const type = raw['type'];
  switch (type) {
    case 'boot':
      return parseBoot(raw);
    case 'write': {
      const w = parseWith(writeSchema, raw);
      const ev: WriteEvent = { type: 'write', path: w.path, value: w.value, raw: w.raw, ...common(w) };
      return ev;
    }
    case 'read': {
      const r = parseWith(readSchema, raw);
      const ev: ReadEvent = { type: 'read', path: r.path, ...common(r) };
      return ev;
    }
    case 'reboot': {
      const r = parseWith(rebootSchema, raw);
      const ev: RebootEvent = { type: 'reboot', ...common(r) };
      return ev;
    }
    case 'inject': {
      const j = parseWith(injectSchema, raw);
      const ev: InjectEvent = { type: 'inject', site: j.site, errno: j.errno, nth: j.nth, ...common(j) };
      return ev;
    }
    default:
      if (isProgramEventType(type)) return parseProgramEvent(type, raw);
      throw new FieldProblem(['type'], `an event type, ${oneOf([...EVENT_TYPES, ...PROGRAM_EVENT_TYPES])}`, describeValue(type));
  }
}
