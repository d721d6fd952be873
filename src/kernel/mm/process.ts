/**
 * Processes and file references: the parts of kernel/fork.c, kernel/exit.c
 * and fs/file_table.c the model needs. A process is named by the log's pid
 * handle and exists from its first use; every struct file is reference
 * counted by the fds and vmas that hold it, and its last reference runs the
 * driver's ->release (__fput).
 */
import { IntMap } from '../../util/intMap.js';
import { execVmas } from './exec.js';
import { fopsOf } from '../fs/chrdev.js';
import type { Op } from '../op.js';
import { withMmState } from '../state.js';
import { withFileRefs, withFiles, withMm, withProcess, withProcs, type MmState, type OpenFile, type Process, type Vma } from './types.js';

/** The process a handle names before anything made it (read-only: no mm yet). */
export const NEW_PROCESS: Process = { fds: new Map(), maps: new Map(), vmas: [], pteTables: IntMap.empty(), pmdTables: IntMap.empty(), rssAnon: 0, mm: 0 };

/** A new process with an mm of its own (mm_alloc: a fresh identity) holding what exec of the helper maps (src/kernel/mm/exec.ts). */
export function newProcess(op: Op): Process {
  const mm = op.state.mm.nextMm;
  setMm(op, { nextMm: mm + 1 });
  return { ...NEW_PROCESS, mm, vmas: execVmas(op.state.config) };
}

export function setMm(op: Op, c: Partial<MmState>): void {
  op.state = withMmState(op.state, withMm(op.state.mm, c));
}

/** The process a handle names, created on first use. */
export function processOf(op: Op, pid: string): Process {
  return op.state.mm.procs.get(pid) ?? NEW_PROCESS;
}

/** The pid handle of the process whose mm is `mm` (Process.mm). */
export function pidOfMm(op: Op, mm: number): string {
  for (const [pid, p] of op.state.mm.procs) if (p.mm === mm) return pid;
  throw new Error(`model bug: no process has mm ${mm}`);
}

export function setProcess(op: Op, pid: string, p: Process): void {
  // Copied by a loop over the keys: new Map(map) goes through the iterator protocol and costs twice as much, and
  // a loop over the entries makes an array per entry (every fault copies).
  const old = op.state.mm.procs;
  const procs = new Map<string, Process>();
  for (const k of old.keys()) procs.set(k, old.get(k) as Process);
  procs.set(pid, p);
  op.state = withMmState(op.state, withProcs(op.state.mm, procs));
}

export function fileOf(op: Op, id: number): OpenFile {
  const f = op.state.mm.files.get(id);
  if (f === undefined) throw new Error(`model bug: no open file ${id}`);
  return f;
}

export function setFile(op: Op, id: number, f: OpenFile | null): void {
  // Copied by a loop (see setProcess).
  const files = new Map<number, OpenFile>();
  for (const k of op.state.mm.files.keys()) files.set(k, op.state.mm.files.get(k) as OpenFile);
  if (f === null) files.delete(id);
  else files.set(id, f);
  op.state = withMmState(op.state, withFiles(op.state.mm, files, op.state.mm.nextFile));
}

/** A new struct file with one reference; its id. */
export function installFile(op: Op, f: OpenFile): number {
  const id = op.state.mm.nextFile;
  const files = new Map<number, OpenFile>();
  for (const k of op.state.mm.files.keys()) files.set(k, op.state.mm.files.get(k) as OpenFile);
  files.set(id, f);
  op.state = withMmState(op.state, withFiles(op.state.mm, files, id + 1));
  return id;
}

/** @kernel get_file include/linux/fs.h */
export function getFile(op: Op, id: number, n = 1): void {
  const f = fileOf(op, id);
  setFile(op, id, withFileRefs(f, f.refs + n));
}

/** @kernel fput fs/file_table.c — the last reference runs __fput → ->release. */
export function fput(op: Op, id: number): void {
  const f = fileOf(op, id);
  if (f.refs > 1) {
    setFile(op, id, withFileRefs(f, f.refs - 1));
    return;
  }
  setFile(op, id, null);
  fopsOf(f).release(op, f);
}

/** The vma containing `addr`, with its index, or null (find_vma + the start check). */
export function vmaAt(p: Process, addr: bigint): { readonly vma: Vma; readonly index: number } | null {
  const index = vmaIndexAt(p, addr);
  return index < 0 ? null : { vma: p.vmas[index] as Vma, index };
}

/** The index in `p.vmas` of the vma containing `addr`, or -1 (vmaAt without an object: every access asks). */
export function vmaIndexAt(p: Process, addr: bigint): number {
  const vmas = p.vmas;
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid] as Vma;
    if (addr < v.start) hi = mid - 1;
    else if (addr >= v.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** The address a map handle names: where its last mmap/mremap put it, 0 when none did. */
export function mapAddress(p: Process, map: string): bigint {
  return p.maps.get(map) ?? 0n;
}

export function replaceVmas(p: Process, vmas: readonly Vma[]): Process {
  return withProcess(p, { vmas });
}

/** The vmas the log's program mapped, in address order: every vma but those exec made (src/kernel/mm/exec.ts). */
export function programVmas(p: Process): readonly Vma[] {
  return p.vmas.filter((v) => v.name === undefined);
}
