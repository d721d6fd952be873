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

/**
 * `BUG: unable to handle page fault for address: ...` for a kernel access
 * through the direct map (page_address / kmap on x86-64) to `phys`, which
 * the direct map does not cover (a device-private page: memremap_pages adds
 * only its struct pages). PAGE_OFFSET without KASLR: 0xffff888000000000
 * with 4-level paging, 0xff11000000000000 with 5-level.
 */
export function directMapOops(fn: string, phys: bigint, physmemBits: 46 | 52): KernelOops {
  const base = physmemBits === 52 ? 0xff11000000000000n : 0xffff888000000000n;
  return new KernelOops(`BUG: unable to handle page fault for address: ${(base + phys).toString(16).padStart(16, '0')}`, fn);
}
