/**
 * A modelled kernel crash. A mirror throws KernelOops where the kernel it
 * mirrors dereferences what it must not (a NULL private_data, a struct page
 * no memmap backs); the syscall entry layer turns it into the outcome
 * `{"ok":false,"oops":...}` and marks the machine dead (SPEC §7: replay
 * stops there, invariant no-oops). Never thrown for a user error.
 */
export class KernelOops extends Error {
  /**
   * @param line the oops' first line, as the kernel prints it
   * @param fn the kernel function that crashed (the finding's signature)
   */
  constructor(
    readonly line: string,
    readonly fn: string,
  ) {
    super(line);
  }
}

/** Where x86-64's vmemmap starts with 4-level paging and no KASLR (Documentation/x86/x86_64/mm.rst). */
export const VMEMMAP_BASE = 0xffffea0000000000n;

/** `BUG: unable to handle page fault for address: ...` for a struct page access at `phys`'s page, `offset` bytes in. */
export function unbackedPageOops(fn: string, phys: bigint, offset: bigint): KernelOops {
  const addr = VMEMMAP_BASE + (phys >> 12n) * 64n + offset;
  return new KernelOops(`BUG: unable to handle page fault for address: ${addr.toString(16).padStart(16, '0')}`, fn);
}

/** `BUG: kernel NULL pointer dereference, address: ...` at `offset` bytes into a NULL struct. */
export function nullDerefOops(fn: string, offset: bigint): KernelOops {
  return new KernelOops(`BUG: kernel NULL pointer dereference, address: ${offset.toString(16).padStart(16, '0')}`, fn);
}
