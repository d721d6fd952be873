/**
 * Program events (SPEC §7) back to JSON: fixed key order, numbers as
 * lower-case hex, optional fields only when they differ from the default,
 * so reading the output gives the same events back.
 */
import { hex } from '../util/u64.js';
import { isBlockIoctl, type MapAddress, type ProgramEvent } from './programEvents.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function addr(a: MapAddress | null): JsonObject {
  return a === null ? {} : { addr: { map: a.map, offset: hex(a.offset) } };
}

export function programEventFields(e: ProgramEvent): JsonObject {
  switch (e.type) {
    case 'open':
      return { pid: e.pid, fd: e.fd, path: e.path, flags: e.sync ? `${e.mode}+sync` : e.mode };
    case 'close':
      return { pid: e.pid, fd: e.fd };
    case 'mmap':
      return { pid: e.pid, map: e.map, fd: e.fd, length: hex(e.length), offset: hex(e.offset), prot: e.prot, flags: [...e.flags], ...addr(e.addr) };
    case 'munmap':
      return { pid: e.pid, map: e.map, offset: hex(e.offset), length: hex(e.length) };
    case 'mprotect':
      return { pid: e.pid, map: e.map, offset: hex(e.offset), length: hex(e.length), prot: e.prot };
    case 'madvise':
      return { pid: e.pid, map: e.map, offset: hex(e.offset), length: hex(e.length), advice: e.advice };
    case 'mremap':
      return { pid: e.pid, map: e.map, offset: hex(e.offset), length: hex(e.length), newLength: hex(e.newLength), flags: [...e.flags], ...addr(e.addr) };
    case 'access':
    case 'procmem':
      return e.value === null ? { pid: e.pid, map: e.map, offset: hex(e.offset), op: e.op } : { pid: e.pid, map: e.map, offset: hex(e.offset), op: e.op, value: hex(e.value) };
    case 'follow_pfn':
      return { pid: e.pid, map: e.map, offset: hex(e.offset), op: e.op, user: e.user };
    case 'fork':
      return { pid: e.pid, child: e.child };
    case 'exit':
      return { pid: e.pid };
    case 'swapon':
    case 'swapoff':
      return { path: e.path };
    case 'modprobe':
    case 'rmmod':
      return { module: e.module };
    case 'pread':
      return { pid: e.pid, fd: e.fd, offset: hex(e.offset), length: hex(e.length) };
    case 'pwrite':
      return { pid: e.pid, fd: e.fd, offset: hex(e.offset), length: hex(e.length), value: hex(e.value ?? 0n) };
    case 'ioctl': {
      if (isBlockIoctl(e)) return { pid: e.pid, fd: e.fd, cmd: e.cmd, args: { start: hex(e.args.start), length: hex(e.args.length) } };
      const a = e.args;
      const args: JsonObject = { addr: { map: a.addr.map, offset: hex(a.addr.offset) }, npages: hex(a.npages) };
      if (a.ptr !== null) args['ptr'] = { map: a.ptr.map, offset: hex(a.ptr.offset) };
      return { pid: e.pid, fd: e.fd, cmd: e.cmd, args };
    }
  }
}
