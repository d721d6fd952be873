/**
 * Program events as strace prints them (SPEC §7), with the log's handles in
 * place of the numbers the kernel picks:
 * `p1: mmap(NULL, 2M, PROT_READ|PROT_WRITE, MAP_SHARED, f1, 0) = m1`.
 */
import { sizeString } from '../util/u64.js';
import { isBlockIoctl, type MapAddress, type ProgramEvent, type Prot } from './programEvents.js';

const PROT: Readonly<Record<Prot, string>> = { none: 'PROT_NONE', r: 'PROT_READ', rw: 'PROT_READ|PROT_WRITE' };
const OPEN: Readonly<Record<string, string>> = { rdonly: 'O_RDONLY', wronly: 'O_WRONLY', rdwr: 'O_RDWR' };
const MAP: Readonly<Record<string, string>> = { shared: 'MAP_SHARED', private: 'MAP_PRIVATE', validate: 'MAP_SHARED_VALIDATE', sync: 'MAP_SYNC', populate: 'MAP_POPULATE', fixed: 'MAP_FIXED' };
const MADV: Readonly<Record<string, string>> = {
  hugepage: 'MADV_HUGEPAGE',
  nohugepage: 'MADV_NOHUGEPAGE',
  dontneed: 'MADV_DONTNEED',
  dontfork: 'MADV_DONTFORK',
  dofork: 'MADV_DOFORK',
  hwpoison: 'MADV_HWPOISON',
  soft_offline: 'MADV_SOFT_OFFLINE',
};

/** A size as the log would write it: "2M", "4K", or hex when it is no whole unit. */
function size(v: bigint): string {
  return sizeString(v);
}

function at(map: string, offset: bigint): string {
  return offset === 0n ? map : `${map}+${size(offset)}`;
}

function addr(a: MapAddress | null): string {
  return a === null ? 'NULL' : at(a.map, a.offset);
}

export function programCall(e: ProgramEvent): string {
  // swapon/swapoff name no process (SPEC §7): strace's line alone.
  if (e.type === 'swapon') return `swapon(${JSON.stringify(e.path)}, 0)`;
  if (e.type === 'swapoff') return `swapoff(${JSON.stringify(e.path)})`;
  // The shell command: kmod's modprobe (--first-time: a module already in the kernel is an error) and rmmod.
  if (e.type === 'modprobe') return `modprobe --first-time ${e.module}`;
  if (e.type === 'rmmod') return `rmmod ${e.module}`;
  const p = `${e.pid}: `;
  switch (e.type) {
    case 'open':
      return `${p}open(${JSON.stringify(e.path)}, ${OPEN[e.mode] ?? e.mode}${e.sync ? '|O_SYNC' : ''}) = ${e.fd}`;
    case 'close':
      return `${p}close(${e.fd})`;
    case 'mmap': {
      const flags = e.flags.length === 0 ? '0' : e.flags.map((f) => MAP[f] ?? f).join('|');
      // strace prints MAP_ANONYMOUS among the flags and -1 as the fd.
      if (e.fd === null) return `${p}mmap(${addr(e.addr)}, ${size(e.length)}, ${PROT[e.prot]}, ${flags}|MAP_ANONYMOUS, -1, ${size(e.offset)}) = ${e.map}`;
      return `${p}mmap(${addr(e.addr)}, ${size(e.length)}, ${PROT[e.prot]}, ${flags}, ${e.fd}, ${size(e.offset)}) = ${e.map}`;
    }
    case 'munmap':
      return `${p}munmap(${at(e.map, e.offset)}, ${size(e.length)})`;
    case 'mprotect':
      return `${p}mprotect(${at(e.map, e.offset)}, ${size(e.length)}, ${PROT[e.prot]})`;
    case 'madvise':
      return `${p}madvise(${at(e.map, e.offset)}, ${size(e.length)}, ${MADV[e.advice] ?? e.advice})`;
    case 'mremap': {
      const flags = e.flags.length === 0 ? '0' : e.flags.map((f) => (f === 'maymove' ? 'MREMAP_MAYMOVE' : 'MREMAP_FIXED')).join('|');
      const extra = e.addr === null ? '' : `, ${addr(e.addr)}`;
      return `${p}mremap(${at(e.map, e.offset)}, ${size(e.length)}, ${size(e.newLength)}, ${flags}${extra}) = ${e.map}`;
    }
    case 'access':
      return e.op === 'read' ? `${p}*(u64 *)(${at(e.map, e.offset)})` : `${p}*(u64 *)(${at(e.map, e.offset)}) = 0x${(e.value ?? 0n).toString(16)}`;
    case 'procmem':
      return e.op === 'read'
        ? `${p}pread(/proc/self/mem, 8, ${at(e.map, e.offset)})`
        : `${p}pwrite(/proc/self/mem, 0x${(e.value ?? 0n).toString(16)}, 8, ${at(e.map, e.offset)})`;
    case 'follow_pfn':
      // What the user's own call does with the address (model-only: no program issues it here).
      return e.user === 'kvm'
        ? `${p}[kvm] hva_to_pfn(${at(e.map, e.offset)}, ${e.op === 'write' ? 'write' : 'read'})`
        : `${p}ioctl(vfio, VFIO_IOMMU_MAP_DMA, {vaddr=${at(e.map, e.offset)}, size=4K, flags=VFIO_DMA_MAP_FLAG_READ${e.op === 'write' ? '|VFIO_DMA_MAP_FLAG_WRITE' : ''}})`;
    case 'fork':
      return `${p}fork() = ${e.child}`;
    case 'exit':
      return `${p}exit(0)`;
    case 'pread':
      return `${p}pread(${e.fd}, ${size(e.length)}, ${size(e.offset)})`;
    case 'pwrite':
      return `${p}pwrite(${e.fd}, 0x${(e.value ?? 0n).toString(16)}..., ${size(e.length)}, ${size(e.offset)})`;
    case 'ioctl': {
      if (isBlockIoctl(e)) return `${p}ioctl(${e.fd}, ${e.cmd}, [${size(e.args.start)}, ${size(e.args.length)}])`;
      const a = e.args;
      const ptr = a.ptr === null ? 'NULL' : at(a.ptr.map, a.ptr.offset);
      return `${p}ioctl(${e.fd}, ${e.cmd}, {addr=${at(a.addr.map, a.addr.offset)}, ptr=${ptr}, npages=${a.npages}})`;
    }
  }
}
