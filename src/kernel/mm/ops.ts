/**
 * The ops tables a driver plugs into the mm and VFS entry points with
 * (include/linux/fs.h struct file_operations, include/linux/mm.h struct
 * vm_operations_struct): the syscall layer and the fault chain call only
 * these, never a driver by name, so device-private memory and the kmem
 * block device land as new tables.
 */
import type { Ret } from '../errno.js';
import type { Op } from '../op.js';
import type { IoctlEvent, OpenMode } from '../../log/programEvents.js';
import type { Outcome } from '../../log/events.js';
import type { OpenFile, Pte, PteLevel, Vma } from './types.js';

/** What a fault handler returns: an entry installed, VM_FAULT_FALLBACK, or VM_FAULT_SIGBUS. */
export type FaultResult = { readonly kind: 'installed'; readonly pte: Pte } | { readonly kind: 'fallback' } | { readonly kind: 'sigbus' };

/** struct vm_fault, the parts a handler reads. */
export interface VmFault {
  readonly comm: string;
  readonly file: OpenFile;
  readonly vma: Vma;
  readonly address: bigint;
  readonly write: boolean;
}

export interface VmOperations {
  /** ->huge_fault(vmf, PE_SIZE_PUD/PMD) and ->fault (PTE). */
  readonly fault: (op: Op, vmf: VmFault, level: PteLevel) => FaultResult;
  /** ->may_split: may the vma be split at `addr`? */
  readonly maySplit: (op: Op, file: OpenFile, vma: Vma, addr: bigint) => Ret;
  /** ->pagesize: what smaps reports as KernelPageSize / MMUPageSize. */
  readonly pagesize: (op: Op, file: OpenFile) => bigint;
}

/** The mmap flags a driver sees (MAP_* as do_mmap passes them on). */
export interface MmapRequest {
  readonly comm: string;
  readonly file: OpenFile;
  /** The vma as do_mmap built it, before the driver's ->mmap adds its flags. */
  readonly vma: Vma;
}

export interface FileOperations {
  /** chrdev_open + ->open: the new struct file, or the errno. */
  /** `current`: the opener's mm (Process.mm; 0 for a kernel-internal open such as swapon's). */
  readonly open: (op: Op, dev: string, path: string, mode: OpenMode, sync: boolean, current: number) => Ret<OpenFile>;
  /** The last reference went (__fput → ->release). */
  readonly release: (op: Op, file: OpenFile) => void;
  /** ->mmap: the vma with the driver's flags, or the errno. */
  readonly mmap: (op: Op, req: MmapRequest) => Ret<Vma>;
  /** ->get_unmapped_area for a non-MAP_FIXED mmap or a moving mremap; `fallback` is the mm's own allocator (mm->get_unmapped_area). */
  readonly getUnmappedArea: (op: Op, file: OpenFile, addr: bigint, len: bigint, pgoff: bigint, fallback: (len: bigint) => Ret<bigint>) => Ret<bigint>;
  /** ->mmap_supported_flags includes MAP_SYNC. */
  readonly mapSync: boolean;
  readonly vmOps: VmOperations;
  /** ->read_iter (absent: vfs_read's -EINVAL); the outcome value is what was read. */
  readonly readIter?: (op: Op, file: OpenFile, offset: bigint, length: bigint) => Ret<string>;
  /** ->write_iter (absent: -EINVAL): `value` in every word of the range; the outcome value is the count written. */
  readonly writeIter?: (op: Op, file: OpenFile, offset: bigint, length: bigint, value: bigint) => Ret<string>;
  /**
   * ->unlocked_ioctl (absent: vfs_ioctl's -ENOTTY): the driver decides which
   * commands it knows; an outcome, so a command can answer output fields
   * (`out`, the dmirror commands' cpages and faults).
   */
  readonly ioctl?: (op: Op, file: OpenFile, e: IoctlEvent) => Outcome;
}
