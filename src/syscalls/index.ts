/**
 * The entry layer for what programs do (SPEC §7), beside src/sysfs/: one
 * function per system call, turning a program event into the kernel call
 * chain it stands for (ksys_mmap_pgoff, do_munmap, do_mprotect_pkey,
 * do_madvise, mremap, do_user_addr_fault, mem_rw, copy_process, do_exit,
 * do_sys_open, close_fd, sys_swapon, sys_swapoff, finit_module and delete_module for test_hmm), and the model-only follow_pfn users (KVM's
 * hva_to_pfn, VFIO type1's vaddr_get_pfns). Handles are the log's names: a map handle is the
 * address its last mmap returned (0 if none), plus the event's offset.
 * A KernelOops thrown below becomes the oops outcome and kills the machine.
 */
import type { Outcome } from '../log/events.js';
import type { BlockIoEvent, IoctlEvent, ProgramEvent } from '../log/programEvents.js';
import { fopsOf } from '../kernel/fs/chrdev.js';
import type { Ret } from '../kernel/errno.js';
import { userAccess, procMemAccess } from '../kernel/mm/access.js';
import { closeFd, doExit, doFork, doOpen } from '../kernel/mm/fork.js';
import { doMadvise } from '../kernel/mm/madvise.js';
import { doMmap, doMprotect } from '../kernel/mm/mmap.js';
import { doMremap } from '../kernel/mm/mremap.js';
import { mapAddress, newProcess, processOf, setProcess } from '../kernel/mm/process.js';
import { doMunmap, releaseVmas } from '../kernel/mm/vma.js';
import { hvaToPfn } from '../kernel/kvm/hvaToPfn.js';
import { KernelOops } from '../kernel/oops.js';
import { vaddrGetPfns } from '../kernel/vfio/type1.js';
import { sysSwapoff, sysSwapon } from '../kernel/mm/swapfile.js';
import { modprobeTestHmm, rmmodTestHmm } from '../kernel/hmm/testHmm.js';
import type { Op } from '../kernel/op.js';
import { withState } from '../kernel/state.js';

function outcomeOf(rc: Ret<unknown>): Outcome {
  return rc.ok ? { ok: true } : { ok: false, errno: rc.errno };
}

/** The user address `map + offset` names in process `pid`. */
function addressOf(op: Op, pid: string, map: string, offset: bigint): bigint {
  return mapAddress(processOf(op, pid), map) + offset;
}

type ProcessEvent = Exclude<ProgramEvent, { type: 'swapon' | 'swapoff' | 'modprobe' | 'rmmod' }>;

function dispatch(op: Op, e: ProcessEvent): Outcome {
  // The process name the kernel's messages print (current->comm).
  const comm = e.pid;
  switch (e.type) {
    case 'open':
      return outcomeOf(doOpen(op, e.pid, e.fd, e.path, e.mode, e.sync));
    case 'close':
      return outcomeOf(closeFd(op, e.pid, e.fd));
    case 'mmap': {
      const addr = e.addr === null ? null : addressOf(op, e.pid, e.addr.map, e.addr.offset);
      const rc = doMmap(op, { comm, pid: e.pid, map: e.map, fd: e.fd, addr, length: e.length, offset: e.offset, prot: e.prot, flags: e.flags });
      return rc.ok ? { ok: true, value: `0x${rc.value.toString(16)}` } : { ok: false, errno: rc.errno };
    }
    case 'munmap': {
      const un = doMunmap(op, processOf(op, e.pid), addressOf(op, e.pid, e.map, e.offset), e.length);
      setProcess(op, e.pid, un.proc);
      releaseVmas(op, un.removed);
      if (un.errno !== null) op.branch('do_munmap', un.errno);
      return un.errno === null ? { ok: true } : { ok: false, errno: un.errno };
    }
    case 'mprotect':
      return outcomeOf(doMprotect(op, e.pid, addressOf(op, e.pid, e.map, e.offset), e.length, e.prot));
    case 'madvise':
      return outcomeOf(doMadvise(op, e.pid, addressOf(op, e.pid, e.map, e.offset), e.length, e.advice));
    case 'mremap': {
      const newAddr = e.addr === null ? null : addressOf(op, e.pid, e.addr.map, e.addr.offset);
      const rc = doMremap(op, { pid: e.pid, map: e.map, addr: addressOf(op, e.pid, e.map, e.offset), oldLen: e.length, newLen: e.newLength, flags: e.flags, newAddr, offset: e.offset });
      return rc.ok ? { ok: true, value: `0x${rc.value.toString(16)}` } : { ok: false, errno: rc.errno };
    }
    case 'access': {
      // The process looked up once for the address and the access (most events of a program log are accesses).
      const p = processOf(op, e.pid);
      return userAccess(op, comm, e.pid, p, mapAddress(p, e.map) + e.offset, e.op === 'write', e.value);
    }
    case 'procmem':
      return procMemAccess(op, comm, e.pid, addressOf(op, e.pid, e.map, e.offset), e.op === 'write', e.value);
    case 'follow_pfn': {
      const addr = addressOf(op, e.pid, e.map, e.offset);
      return e.user === 'kvm' ? hvaToPfn(op, comm, e.pid, addr, e.op === 'write') : vaddrGetPfns(op, comm, e.pid, addr, e.op === 'write');
    }
    case 'fork':
      return outcomeOf(doFork(op, e.pid, e.child));
    case 'exit':
      return outcomeOf(doExit(op, e.pid));
    case 'pread':
    case 'pwrite':
    case 'ioctl':
      return fileIo(op, e);
  }
}

/** @kernel ksys_pread64 / ksys_pwrite64 fs/read_write.c, do_vfs_ioctl fs/ioctl.c: the file's ops, or the VFS's errno. */
function fileIo(op: Op, e: BlockIoEvent | IoctlEvent): Outcome {
  const id = processOf(op, e.pid).fds.get(e.fd);
  const file = id === undefined ? undefined : op.state.mm.files.get(id);
  if (file === undefined) {
    op.branch(e.type === 'ioctl' ? 'ksys_ioctl' : `ksys_${e.type}64`, 'EBADF');
    return { ok: false, errno: 'EBADF' };
  }
  const fops = fopsOf(file);
  if (e.type === 'ioctl') {
    if (fops.ioctl === undefined) {
      op.branch('vfs_ioctl', 'ENOTTY');
      return { ok: false, errno: 'ENOTTY' };
    }
    return fops.ioctl(op, file, e);
  }
  const rc = e.type === 'pread' ? fops.readIter?.(op, file, e.offset, e.length) : fops.writeIter?.(op, file, e.offset, e.length, e.value ?? 0n);
  if (rc === undefined) {
    op.branch(e.type === 'pread' ? 'vfs_read' : 'vfs_write', 'EINVAL');
    return { ok: false, errno: 'EINVAL' };
  }
  return rc.ok ? { ok: true, value: rc.value } : { ok: false, errno: rc.errno };
}

/** Apply one program event; an oops marks the machine dead. */
export function applyProgramEvent(op: Op, e: ProgramEvent): Outcome {
  // swapon/swapoff name no process (SPEC §7) and cannot oops.
  if (e.type === 'swapon') return outcomeOf(sysSwapon(op, e.path));
  if (e.type === 'swapoff') return outcomeOf(sysSwapoff(op, e.path));
  // The module syscalls name no process either (SPEC §9); test_hmm is the only module.
  if (e.type === 'modprobe') return outcomeOf(modprobeTestHmm(op));
  if (e.type === 'rmmod') return outcomeOf(rmmodTestHmm(op));
  // A process exists from its first use (SPEC §7), whatever that first system call returns:
  // /proc/<pid>/ is there even if its first open failed (the guest helper's process is).
  if (!op.state.mm.procs.has(e.pid)) setProcess(op, e.pid, newProcess(op));
  try {
    return dispatch(op, e);
  } catch (x) {
    if (!(x instanceof KernelOops)) throw x;
    op.print(x.line);
    op.branch('oops', x.fn);
    op.state = withState(op.state, { oops: x.line });
    return { ok: false, oops: x.line };
  }
}
