/**
 * The address space every process starts with: what exec of the guest
 * helper /bin/ddx (harness/guest/ddx.c, a static non-PIE binary run with
 * ASLR off) leaves, as the recorded /proc/PID/smaps show it on 6.1 and
 * 6.12. Mirrors fs/binfmt_elf.c load_elf_binary (the PT_LOAD segments),
 * fs/exec.c setup_arg_pages (the [stack]) and arch/x86/entry/vdso/vma.c
 * map_vdso (v6.1 = v6.12: [vvar] then [vdso], placed by get_unmapped_area
 * with no hint, i.e. the top pages below mmap_base).
 * Left out: the brk heap (its end is wherever the helper's malloc moved it:
 * 0x516000 in most recordings, 0x538000 in others) and the .bss vma below it
 * (named [heap] on 6.1, unnamed on 6.12). Nothing in a log reaches them (a
 * log names addresses relative to its own mappings, all far above), and
 * nothing is placed near them (placement is top-down from mmap_base), so
 * leaving them out changes no outcome; src/replay/compare.ts skips them.
 */
import { PageTable } from './pageTable.js';
import { archGetUnmappedAreaTopdown } from './getUnmappedArea.js';
import type { BootConfig } from '../config.js';
import { NEW_PROCESS } from './process.js';
import { PAGE_SHIFT, type ExecVmaName, type Process, type Vma, type VmFlags } from './types.js';
import type { Prot } from '../../log/programEvents.js';
import { TASK_SIZE } from './vma.js';

const NONE: VmFlags = { mayshare: false, maywrite: false, hugepage: false, nohugepage: false, dontcopy: false, sync: false, pfnmap: false, account: false, exec: false, mayexec: false, io: false, dontexpand: false, dontdump: false, growsdown: false, softdirty: false };

function execVma(name: ExecVmaName, start: bigint, end: bigint, pgoff: bigint, prot: Prot, flags: Partial<VmFlags>): Vma {
  return { start, end, pgoff, file: null, prot, flags: { ...NONE, ...flags }, mmapAlign: 4096n, grown: false, ptes: PageTable.empty(), name };
}

/**
 * /bin/ddx's PT_LOAD segments as elf_map maps them (MAP_PRIVATE of the
 * file: VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC, soft-dirty), identical in every
 * recording (the same binary): [start, end, file offset, prot, VM_EXEC,
 * VM_ACCOUNT]. The last two are written (RELRO and .data), hence charged.
 */
const DDX_SEGMENTS: ReadonlyArray<readonly [bigint, bigint, bigint, Prot, boolean, boolean]> = [
  [0x400000n, 0x401000n, 0x0n, 'r', false, false],
  [0x401000n, 0x49a000n, 0x1000n, 'r', true, false],
  [0x49a000n, 0x4c4000n, 0x9a000n, 'r', false, false],
  [0x4c4000n, 0x4c8000n, 0xc4000n, 'r', false, true],
  [0x4c8000n, 0x4cb000n, 0xc8000n, 'rw', false, true],
];

/**
 * @kernel setup_arg_pages fs/exec.c — the stack vma after exec: 132 KiB
 * below the top of the 47-bit window (STACK_TOP with no randomisation less
 * the page the kernel keeps; its size is what the helper's environment and
 * stack use, 0x21000 in every recording). VM_GROWSDOWN, VM_ACCOUNT, no
 * soft-dirty bit.
 */
const STACK_START = 0x7ffffffden << 12n;

/**
 * The vDSO image's size in pages (vdso_image_64.size): arch/x86/entry/vdso/Makefile
 * links vsgx.o (__vdso_sgx_enter_enclave) into it only with CONFIG_X86_SGX,
 * which Debian's cloud configs of 6.1 and 6.12 set (2 pages, as their smaps
 * show) and the harness's minimal builds (harness/build-kernel.sh) do not
 * (1 page, as the custom hmm kernel's smaps show). The boot description has
 * no SGX field, so the model tells the two apart by CONFIG_ARCH_MEMORY_PROBE
 * (the guest's memory/probe file), which only the harness's builds set: a
 * stand-in, right for every kernel the harness boots, wrong for another
 * build that sets one option and not the other.
 */
function vdsoImagePages(c: BootConfig): bigint {
  return c.archMemoryProbe ? 1n : 2n;
}

/** -image->sym_vvar_start: the vvar area, 4 pages (vvar, pvclock, hvclock, timens) on 6.1 and 6.12. */
const VVAR_PAGES = 4n;

/**
 * @kernel map_vdso arch/x86/entry/vdso/vma.c — get_unmapped_area(NULL, 0,
 * image size + vvar size): the top of the search below mmap_base; the
 * [vdso] text above the [vvar] pages. Both are special mappings
 * (__install_special_mapping adds VM_DONTEXPAND|VM_SOFTDIRTY): [vdso]
 * VM_READ|VM_EXEC|VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC, [vvar]
 * VM_READ|VM_MAYREAD|VM_IO|VM_DONTDUMP|VM_PFNMAP (smaps "rd mr pf io de dd sd").
 */
function mapVdso(p: Process, c: BootConfig): Vma[] {
  const size = (vdsoImagePages(c) + VVAR_PAGES) << PAGE_SHIFT;
  const got = archGetUnmappedAreaTopdown(p, 0n, size, 0n);
  if (!got.ok) throw new Error('model bug: no room for the vdso in a new process');
  const text = got.value + (VVAR_PAGES << PAGE_SHIFT);
  return [
    execVma('[vvar]', got.value, text, 0n, 'r', { io: true, dontdump: true, pfnmap: true, dontexpand: true, softdirty: true }),
    execVma('[vdso]', text, got.value + size, 0n, 'r', { exec: true, maywrite: true, mayexec: true, dontexpand: true, softdirty: true }),
  ];
}

/** @kernel load_elf_binary fs/binfmt_elf.c — the vmas of a process just exec'd: the ELF segments, the stack, the vDSO. */
export function execVmas(c: BootConfig): readonly Vma[] {
  const segments = DDX_SEGMENTS.map(([start, end, off, prot, exec, account]) => execVma('/bin/ddx', start, end, off >> PAGE_SHIFT, prot, { exec, account, maywrite: true, mayexec: true, softdirty: true }));
  const stack = execVma('[stack]', STACK_START, TASK_SIZE, STACK_START >> PAGE_SHIFT, 'rw', { maywrite: true, mayexec: true, growsdown: true, account: true });
  const before: Process = { ...NEW_PROCESS, vmas: [...segments, stack] };
  return [...segments, ...mapVdso(before, c), stack];
}
