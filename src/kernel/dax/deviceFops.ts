/**
 * Mirrors drivers/dax/device.c (Debian linux-source-6.1 6.1.192; unchanged
 * in the parts below up to 6.8 except where a switch says so): the
 * character device's file_operations (dax_open, dax_release, dax_mmap,
 * dax_get_unmapped_area) and vm_operations (dev_dax_huge_fault and its PTE /
 * PMD / PUD handlers, dev_dax_may_split, dev_dax_pagesize), with check_vma,
 * dax_pgoff_to_phys and dax_set_mapping, plus the chrdev_open rules of
 * fs/char_dev.c that decide whether dax_open runs at all.
 * Left out: MAP_SYNC's effect on writes (no modelled difference), the dev_dbg
 * lines (dyndbg off), memory_failure's use of page->mapping/index.
 */
import { hex } from '../../util/u64.js';
import { err, OK, type Ret } from '../errno.js';
import type { FileOperations, FaultResult, MmapRequest, VmFault, VmOperations } from '../mm/ops.js';
import { LEVEL_MASK, LEVEL_SIZE, PAGE_SHIFT, SZ_1G, SZ_2M, SZ_4K, withVma, type OpenFile, type PteLevel, type Vma } from '../mm/types.js';
import { nullDerefOops, unbackedPageOops } from '../oops.js';
import type { Op } from '../op.js';
import { deviceNamed, findRegion, replaceDevice, withDevice, type DaxDevice, type KernelState } from '../state.js';

/**
 * dax_is_pfn_special (the RFC, 7/10): the region's pfn_flags are
 * PFN_DEV|PFN_SPECIAL, which its dax_pmem sets for a map=none namespace (8/10).
 */
export function daxIsPfnSpecial(s: KernelState, dev: DaxDevice): boolean {
  return s.profile.devdaxMapNone && findRegion(s, dev.regionId)?.map === 'none';
}

/** dax_alive(dev_dax->dax_dev): set by run_dax in dev_dax_probe, cleared by kill_dax at unbind. */
function daxAlive(dev: DaxDevice): boolean {
  return dev.driver === 'device_dax';
}

/**
 * The dev_dax behind an open file: filp->private_data. A file opened while
 * the device was not alive holds NULL (bug B1), and the first dereference
 * oopses; `offset` is where in struct dev_dax the caller reads.
 */
function devDaxOf(op: Op, file: OpenFile, fn: string, offset: bigint): DaxDevice {
  if (!file.private) throw nullDerefOops(fn, offset);
  return deviceNamed(op.state, file.dev);
}

/** The cdev's kobject is released: its count reached 0 after the probe's cdev_init (bug B1; never under the fix). */
export function cdevReleased(s: KernelState, dev: DaxDevice): boolean {
  return !s.profile.daxCdevInitOnce && dev.driver === 'device_dax' && dev.cdevRefs <= 0;
}

/**
 * @kernel chrdev_open fs/char_dev.c, then dax_open drivers/dax/device.c.
 * chrdev_open takes the cdev through inode->i_cdev, which a file still open
 * from before an unbind keeps pointing at the device's embedded cdev (bug
 * B1: the open succeeds with private_data NULL), or else through kobj_lookup,
 * which finds it only while dev_dax_probe's cdev_add stands (bound to
 * device_dax); either way cdev_get's kobject_get_unless_zero fails on a
 * released kobject (ENXIO).
 */
export function daxOpen(op: Op, name: string, path: string, mode: OpenFile['mode'], sync: boolean): Ret<OpenFile> {
  const dev = deviceNamed(op.state, name);
  const fixed = op.state.profile.daxCdevInitOnce;
  const file = (priv: boolean): Ret<OpenFile> => {
    // cdev_get: one kobject reference per struct file.
    if (!fixed) op.state = replaceDevice(op.state, withDevice(dev, { cdevRefs: dev.cdevRefs + 1 }));
    return { ok: true, value: { driver: 'dax', path, dev: name, mode, sync, private: priv, gen: dev.cdevGen, refs: 1 } };
  };
  const pinned = !fixed && [...op.state.mm.files.values()].some((f) => f.driver === 'dax' && f.dev === name);
  if (!daxAlive(dev) && !pinned) {
    op.branch('chrdev_open', 'ENXIO');
    return err('ENXIO');
  }
  if (!fixed && dev.cdevRefs <= 0) {
    op.branch('chrdev_open', 'ENXIO(released-cdev)');
    return err('ENXIO');
  }
  if (daxAlive(dev)) return file(true);
  // dax_open: dax_get_private() returns NULL for a dax_dev that is not alive.
  op.branch('chrdev_open', 'stale-i_cdev');
  return file(false);
}

/**
 * @kernel kobject_put lib/kobject.c on the cdev's kobject (cdev_put, cdev_del):
 * the count may already be 0, which refcount_t reports.
 */
export function cdevPut(op: Op, name: string): void {
  const dev = deviceNamed(op.state, name);
  if (dev.cdevRefs <= 0) op.print('refcount_t: underflow; use-after-free.');
  else if (dev.cdevRefs === 1 && dev.driver === 'device_dax') op.branch('cdev_put', 'released-while-bound');
  op.state = replaceDevice(op.state, withDevice(dev, { cdevRefs: dev.cdevRefs - 1 }));
}

/**
 * @kernel dax_release drivers/dax/device.c (nothing of its own), then
 * cdev_put on the file's last fput: a file of an earlier bind drops a
 * reference the re-initialised kobject never took (bug B1).
 */
export function daxRelease(op: Op, file: OpenFile): void {
  if (!op.state.profile.daxCdevInitOnce) cdevPut(op, file.dev);
}

/** @kernel check_vma drivers/dax/device.c — `func` names the caller in the message, as the kernel does. */
export function checkVma(op: Op, comm: string, dev: DaxDevice, vma: Vma, func: string): Ret {
  if (!daxAlive(dev)) return err('ENXIO');
  if (!vma.flags.mayshare) {
    op.print(`dax ${dev.name}: ${comm}: ${func}: fail, attempted private mapping`);
    return err('EINVAL');
  }
  const mask = dev.align - 1n;
  if ((vma.start & mask) !== 0n || (vma.end & mask) !== 0n) {
    op.print(`dax ${dev.name}: ${comm}: ${func}: fail, unaligned vma (${hex(vma.start)} - ${hex(vma.end)}, ${hex(mask)})`);
    return err('EINVAL');
  }
  if (op.state.profile.daxCheckVmaPgoff && ((vma.pgoff << PAGE_SHIFT) & mask) !== 0n) {
    op.print(`dax ${dev.name}: ${comm}: ${func}: fail, unaligned file offset (${hex(vma.pgoff << PAGE_SHIFT)}, ${hex(mask)})`);
    return err('EINVAL');
  }
  return OK;
}

/** @kernel dax_mmap drivers/dax/device.c — check_vma, then vm_ops and VM_HUGEPAGE. */
export function daxMmap(op: Op, req: MmapRequest): Ret<Vma> {
  // check_vma reads dev_dax->dax_dev first.
  const dev = devDaxOf(op, req.file, 'check_vma', 0x2a8n);
  const rc = checkVma(op, req.comm, dev, req.vma, 'dax_mmap');
  if (!rc.ok) {
    op.branch('dax_mmap', rc.errno);
    return err(rc.errno);
  }
  // The RFC (7/10): a special region's vmas are VM_PFNMAP.
  const pfnmap = daxIsPfnSpecial(op.state, dev);
  return { ok: true, value: withVma(req.vma, { flags: { ...req.vma.flags, hugepage: true, pfnmap }, mmapAlign: dev.align }) };
}

/**
 * @kernel dax_get_unmapped_area drivers/dax/device.c — without a hint, and
 * when [round_up(off, align), off + len) holds a whole align unit, ask for
 * len + align and return the address congruent to the file offset modulo
 * align; otherwise the plain allocator.
 */
export function daxGetUnmappedArea(op: Op, file: OpenFile, addr: bigint, len: bigint, pgoff: bigint, fallback: (len: bigint) => Ret<bigint>): Ret<bigint> {
  if (!file.private || addr !== 0n) return fallback(len);
  const align = deviceNamed(op.state, file.dev).align;
  const off = pgoff << PAGE_SHIFT;
  const offEnd = off + len;
  const offAlign = (off + align - 1n) & ~(align - 1n);
  if (offEnd <= offAlign || offEnd - offAlign < align) return fallback(len);
  const a = fallback(len + align);
  if (!a.ok) return fallback(len);
  // addr_align += (off - addr_align) & (align - 1): the first address in the padded range congruent to the offset.
  return { ok: true, value: a.value + ((off - a.value) & (align - 1n)) };
}

/**
 * @kernel dax_pgoff_to_phys drivers/dax/device.c — the range holding `pgoff`,
 * and only if the whole `size` unit lies inside that range; -1 (null) otherwise.
 */
export function daxPgoffToPhys(dev: DaxDevice, pgoff: bigint, size: bigint): bigint | null {
  let rangePgoff = 0n;
  for (const r of dev.ranges) {
    const pages = (r.end - r.start + 1n) >> PAGE_SHIFT;
    const pgoffEnd = rangePgoff + pages - 1n;
    if (pgoff >= rangePgoff && pgoff <= pgoffEnd) {
      const phys = ((pgoff - rangePgoff) << PAGE_SHIFT) + r.start;
      return phys + size - 1n <= r.end ? phys : null;
    }
    rangePgoff += pages;
  }
  return null;
}

/**
 * @kernel dax_set_mapping drivers/dax/device.c — writes page->mapping and
 * index of the unit's (head) page: a frame the probe's pgmap does not cover
 * has no memmap behind it (bug B2) and the compound_head read oopses.
 */
function daxSetMapping(dev: DaxDevice, phys: bigint): void {
  if (!pgmapCovers(dev, phys)) throw unbackedPageOops('dax_set_mapping', phys, 8n);
}

/** Whether the ranges the device's probe mapped (devm_memremap_pages: its pgmap) hold `phys`: a struct page is there. */
export function pgmapCovers(dev: DaxDevice, phys: bigint): boolean {
  if (dev.mapped === null) return false;
  for (const r of dev.mapped) if (r.start <= phys && phys <= r.end) return true;
  return false;
}

/** linear_page_index(vma, addr): the file page `addr` maps. */
function linearPageIndex(vma: Vma, addr: bigint): bigint {
  return ((addr - vma.start) >> PAGE_SHIFT) + vma.pgoff;
}

/** The common tail of the three handlers: translate, set the mapping, insert. */
function serve(dev: DaxDevice, vma: Vma, unit: bigint, level: PteLevel, op: Op): FaultResult {
  const size = LEVEL_SIZE[level];
  const phys = daxPgoffToPhys(dev, linearPageIndex(vma, unit), size);
  if (phys === null) {
    op.branch(`__dev_dax_${level}_fault`, 'SIGBUS(pgoff_to_phys)');
    return { kind: 'sigbus' };
  }
  // The RFC (7/10): page->mapping/index only for PFN_MAP regions; a special entry has no struct page to touch.
  const special = daxIsPfnSpecial(op.state, dev);
  if (!special) daxSetMapping(dev, phys);
  return { kind: 'installed', pte: { level, phys, special } };
}

/** @kernel __dev_dax_pte_fault drivers/dax/device.c */
function devDaxPteFault(op: Op, dev: DaxDevice, vmf: VmFault): FaultResult {
  if (!checkVma(op, vmf.comm, dev, vmf.vma, '__dev_dax_pte_fault').ok) return sigbus(op, 'pte', 'check_vma');
  if (dev.align > SZ_4K && !op.state.profile.daxPteFaultIgnoresAlign) {
    op.print(`dax ${dev.name}: alignment (${hex(dev.align)}) > fault size (0x1000)`);
    return sigbus(op, 'pte', 'align');
  }
  return serve(dev, vmf.vma, vmf.address & LEVEL_MASK.pte, 'pte', op);
}

/** @kernel __dev_dax_pmd_fault drivers/dax/device.c */
function devDaxPmdFault(op: Op, dev: DaxDevice, vmf: VmFault): FaultResult {
  if (!checkVma(op, vmf.comm, dev, vmf.vma, '__dev_dax_pmd_fault').ok) return sigbus(op, 'pmd', 'check_vma');
  if (dev.align > SZ_2M) return sigbus(op, 'pmd', 'align');
  if (dev.align < SZ_2M) return FALLBACK;
  const pmdAddr = vmf.address & LEVEL_MASK.pmd;
  if (pmdAddr < vmf.vma.start || pmdAddr + SZ_2M > vmf.vma.end) return sigbus(op, 'pmd', 'outside-vma');
  return serve(dev, vmf.vma, pmdAddr, 'pmd', op);
}

/** @kernel __dev_dax_pud_fault drivers/dax/device.c (CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD=y on x86-64) */
function devDaxPudFault(op: Op, dev: DaxDevice, vmf: VmFault): FaultResult {
  if (!checkVma(op, vmf.comm, dev, vmf.vma, '__dev_dax_pud_fault').ok) return sigbus(op, 'pud', 'check_vma');
  if (dev.align > SZ_1G) return sigbus(op, 'pud', 'align');
  if (dev.align < SZ_1G) return FALLBACK;
  const pudAddr = vmf.address & LEVEL_MASK.pud;
  if (pudAddr < vmf.vma.start || pudAddr + SZ_1G > vmf.vma.end) return sigbus(op, 'pud', 'outside-vma');
  return serve(dev, vmf.vma, pudAddr, 'pud', op);
}

/** VM_FAULT_FALLBACK: one frozen answer (a 2 MiB device's every fault is first refused at PUD size). */
const FALLBACK: FaultResult = Object.freeze({ kind: 'fallback' });

function sigbus(op: Op, level: PteLevel, why: string): FaultResult {
  op.branch(`__dev_dax_${level}_fault`, `SIGBUS(${why})`);
  return { kind: 'sigbus' };
}

/** @kernel dev_dax_huge_fault drivers/dax/device.c (dev_dax_fault is the PTE case) */
export function devDaxHugeFault(op: Op, vmf: VmFault, level: PteLevel): FaultResult {
  const dev = devDaxOf(op, vmf.file, 'check_vma', 0x2a8n);
  switch (level) {
    case 'pte':
      return devDaxPteFault(op, dev, vmf);
    case 'pmd':
      return devDaxPmdFault(op, dev, vmf);
    case 'pud':
      return devDaxPudFault(op, dev, vmf);
  }
}

/** @kernel dev_dax_may_split drivers/dax/device.c — only at a multiple of the device's (current) align. */
export function devDaxMaySplit(op: Op, file: OpenFile, _vma: Vma, addr: bigint): Ret {
  const dev = devDaxOf(op, file, 'dev_dax_may_split', 0x2a0n);
  return (addr & (dev.align - 1n)) === 0n ? OK : err('EINVAL');
}

/** @kernel dev_dax_pagesize drivers/dax/device.c */
export function devDaxPagesize(op: Op, file: OpenFile): bigint {
  return devDaxOf(op, file, 'dev_dax_pagesize', 0x2a0n).align;
}

export const daxVmOps: VmOperations = { fault: devDaxHugeFault, maySplit: devDaxMaySplit, pagesize: devDaxPagesize };

/** dax_fops: .mmap_supported_flags = MAP_SYNC. */
export const daxFops: FileOperations = {
  open: daxOpen,
  release: daxRelease,
  mmap: daxMmap,
  getUnmappedArea: daxGetUnmappedArea,
  mapSync: true,
  vmOps: daxVmOps,
};
