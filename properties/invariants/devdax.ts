/**
 * Invariants of device-dax mappings (KERNEL-FACTS-DEVDAX §5.1), over the
 * processes, files and entries of SPEC §7. Each names the kernel code that
 * makes it true; the 6.1 kernel breaks three of them (findings B1-B3).
 * They look only at processes and devices the step changed (what a step
 * changed, and which entries a verdict finds broken: devdaxStep.ts).
 */
import { cdevReleased, daxIsPfnSpecial, daxPgoffToPhys, pgmapCovers } from '../../src/kernel/dax/deviceFops.js';
import { LEVEL_SIZE, type OpenFile, type PteLevel } from '../../src/kernel/mm/types.js';
import { findDevice, type DaxDevice, type DaxRange } from '../../src/kernel/state.js';
import { isBusy, type Resource } from '../../src/kernel/resource.js';
import type { Invariant } from './types.js';
import { brokenEntries, entryAddress, eventPath, handlerOf, messagesOf, NO_MESSAGES, stepDaxVmas, type DaxVma, type Verdict } from './devdaxStep.js';
import { hex } from '../../src/util/u64.js';

/** dax-liveness: no installed entry maps a device that is not alive. */
export const daxLiveness: Invariant = {
  name: 'dax-liveness',
  inputs: ['mm', 'devices', 'iomem'],
  summary: 'no page-table entry maps a dax device that is not bound to device_dax: unbind zaps every mapping',
  kernel: 'kill_dev_dax → unmap_mapping_range(inode->i_mapping, 0, 0, 1) (drivers/dax/bus.c), run by dev_dax_remove\'s devm actions; faults refuse a dead device (check_vma → dax_alive)',
  culprit: (ctx) => (ctx.step.event.type === 'write' ? 'kill_dev_dax' : 'check_vma'),
  check: (ctx) => {
    // Lists made on the first violation (here and below): a fault, which breaks nothing, allocates none.
    let out: string[] | null = null;
    const devicesChanged = ctx.before === null || ctx.before.devices !== ctx.after.devices;
    const vmas = stepDaxVmas(ctx, !devicesChanged);
    // Indexed loops over the step's lists (here and below): a for-of showed up as an iterator per step in a program replay's allocations.
    for (let i = 0; i < vmas.length; i++) {
      const { pid, vma, dev } = vmas[i] as DaxVma;
      if (dev.driver !== 'device_dax' && vma.ptes.size > 0) (out ??= []).push(`${pid} still has ${vma.ptes.size} entr${vma.ptes.size === 1 ? 'y' : 'ies'} of ${dev.name} at ${hex(vma.start)} although it is ${dev.driver === null ? 'unbound' : `bound to ${dev.driver}`}`);
    }
    return out ?? NO_MESSAGES;
  },
};

const granularity: Verdict = (_s, pid, vma, dev, pte, key) =>
  LEVEL_SIZE[pte.level] === dev.align ? NO_MESSAGES : [`${pid}: a ${pte.level} entry (${LEVEL_SIZE[pte.level] / 1024n} KiB) at ${hex(entryAddress(vma, key))} maps ${dev.name}, whose pages are ${dev.align / 1024n} KiB`];

/** dax-granularity (+ reported page size): each entry is exactly the device's align, which smaps reports. */
export const daxGranularity: Invariant = {
  name: 'dax-granularity',
  inputs: ['mm', 'devices', 'iomem'],
  summary: 'every installed entry of a dax vma has the size the vma reports as its page size (dev_dax_pagesize = align)',
  kernel: '__dev_dax_{pte,pmd,pud}_fault serve only fault_size == dev_dax->align and return SIGBUS or VM_FAULT_FALLBACK otherwise (drivers/dax/device.c)',
  culprit: (ctx) => handlerOf(ctx, granularity),
  check: (ctx) => messagesOf(brokenEntries(ctx, granularity)),
};

/** Bytes per entry at each level, as doubles. */
const LEVEL_BYTES: Readonly<Record<PteLevel, number>> = { pte: 4096, pmd: 2 * 1024 * 1024, pud: 1024 * 1024 * 1024 };

/**
 * A device's ranges as doubles, four per range: its first file page, its
 * last, its first byte and its last (exact: physical addresses are below
 * 2^52), made once per ranges list. Every fault is judged against them: in
 * BigInt, dax_pgoff_to_phys's dozen operations allocate a number each.
 */
const RANGES = new WeakMap<readonly DaxRange[], Float64Array>();

function rangesOf(dev: DaxDevice): Float64Array {
  let t = RANGES.get(dev.ranges);
  if (t === undefined) {
    t = new Float64Array(dev.ranges.length * 4);
    let first = 0;
    dev.ranges.forEach((r, i) => {
      const pages = Number((r.end - r.start + 1n) >> 12n);
      (t as Float64Array).set([first, first + pages - 1, Number(r.start), Number(r.end)], i * 4);
      first += pages;
    });
    RANGES.set(dev.ranges, t);
  }
  return t;
}

/**
 * dax_pgoff_to_phys in doubles, for the check only (the model's own
 * daxPgoffToPhys words the message): the range holding `pgoff`, and the
 * whole `size` unit inside it; -1 otherwise.
 */
function pgoffToPhys(dev: DaxDevice, pgoff: number, size: number): number {
  const t = rangesOf(dev);
  for (let i = 0; i < t.length; i += 4) {
    if (pgoff < (t[i] as number) || pgoff > (t[i + 1] as number)) continue;
    const phys = (pgoff - (t[i] as number)) * 4096 + (t[i + 2] as number);
    return phys + size - 1 <= (t[i + 3] as number) ? phys : -1;
  }
  return -1;
}

/** The entry holds another frame than its file page's: unaligned, or not dax_pgoff_to_phys of its page. */
const mistranslated: Verdict = (st, pid, vma, dev, pte, key) => {
  // Judged in doubles (exact below 2^53); a broken entry is worded below in the kernel's u64 arithmetic.
  const bytes = LEVEL_BYTES[pte.level];
  const at = Number(pte.phys);
  if (at - Math.floor(at / bytes) * bytes === 0 && pgoffToPhys(dev, Number(vma.pgoff) + key, bytes) === at) return NO_MESSAGES;
  return mistranslatedWords(st, pid, vma, dev, pte, key);
};

const mistranslatedWords: Verdict = (_st, pid, vma, dev, pte, key) => {
  const size = LEVEL_SIZE[pte.level];
  // The entry's key is its page index from the vma's start: linear_page_index without the address arithmetic.
  const page = vma.pgoff + BigInt(key);
  const unaligned = (pte.phys & (size - 1n)) !== 0n;
  const want = daxPgoffToPhys(dev, page, size);
  if (!unaligned && want === pte.phys) return NO_MESSAGES;
  // Worded only for a broken entry: formatting addresses costs more than the checks (this runs on every fault).
  const out: string[] = [];
  const where = `${pid}: the ${pte.level} entry at ${hex(entryAddress(vma, key))} (${dev.name})`;
  if (unaligned) out.push(`${where} holds ${hex(pte.phys)}, not aligned to its ${size / 1024n} KiB: the MMU maps ${hex(pte.phys & ~(size - 1n))} instead`);
  if (want !== pte.phys) out.push(`${where} holds ${hex(pte.phys)}, but file page ${hex(page)} is ${want === null ? 'outside the device' : hex(want)}`);
  return out;
};


/**
 * The BUSY resources named `name` in the tree under `root`, as [start, end]
 * pairs, found once per tree and name: the iomem tree changes only with
 * sysfs writes, while every fault asks.
 */
const busyByTree = new WeakMap<Resource, Map<string, Float64Array>>();

/** As start, end pairs of doubles (exact: physical addresses are below 2^52). */
function busyNamed(root: Resource, name: string): Float64Array {
  let byName = busyByTree.get(root);
  if (byName === undefined) busyByTree.set(root, (byName = new Map()));
  let found = byName.get(name);
  if (found === undefined) {
    const out: number[] = [];
    collectBusyNamed(root, name, out);
    byName.set(name, (found = Float64Array.from(out)));
  }
  return found;
}

function collectBusyNamed(node: Resource, name: string, out: number[]): void {
  for (const c of node.children) {
    if (c.name === name && isBusy(c)) out.push(Number(c.start), Number(c.end));
    collectBusyNamed(c, name, out);
  }
}

/** The right frame, but no BUSY resource of the device reserves it (any more). */
const unreserved: Verdict = (st, pid, vma, dev, pte, key) => {
  // In doubles, as mistranslated.
  const first = Number(pte.phys);
  const last = first + LEVEL_BYTES[pte.level] - 1;
  const busy = busyNamed(st.iomem, dev.name);
  for (let i = 0; i < busy.length; i += 2) if ((busy[i] as number) <= first && last <= (busy[i + 1] as number)) return NO_MESSAGES;
  const end = pte.phys + LEVEL_SIZE[pte.level] - 1n;
  return [`${pid}: the ${pte.level} entry at ${hex(entryAddress(vma, key))} (${dev.name}) maps ${hex(pte.phys)}-${hex(end)}, which no BUSY ${dev.name} resource covers`];
};

const translation: Verdict = (st, pid, vma, dev, pte, key) => {
  const wrong = mistranslated(st, pid, vma, dev, pte, key);
  return wrong.length > 0 ? wrong : unreserved(st, pid, vma, dev, pte, key);
};

/** dax-translation: an entry maps the device's own memory, aligned, inside one range and its reserved iomem node. */
export const daxTranslation: Invariant = {
  name: 'dax-translation',
  inputs: ['mm', 'devices', 'iomem'],
  summary: 'every entry maps dax_pgoff_to_phys of its file page: an align-aligned unit inside one range of the device, below its size, inside a BUSY iomem node of the device',
  kernel: 'dax_pgoff_to_phys (the whole unit within one range) and linear_page_index in the fault handlers; dev_dax_probe reserves each range (drivers/dax/device.c)',
  culprit: (ctx) => {
    const fault = handlerOf(ctx, mistranslated);
    // No entry translated wrongly: an entry outlived its iomem reservation, released by a sysfs write (unbind's dev_dax_remove).
    return fault === 'dev_dax_huge_fault' && ctx.step.event.type === 'write' ? 'dev_dax_remove' : fault;
  },
  check: (ctx) => messagesOf(brokenEntries(ctx, translation)),
};

/** dax-shared-only and dax-split-rule: shared vmas whose boundaries are multiples of the align they were made with. */
export const daxVmaShape: Invariant = {
  name: 'dax-vma-shape',
  inputs: ['mm', 'devices', 'iomem'],
  summary: "every dax vma is shared and starts and ends on a multiple of the align dax_mmap accepted it with, or of the device's align now when that is smaller (a split at any other address is refused)",
  kernel: 'check_vma refuses private mappings and unaligned vmas (dax_mmap); dev_dax_may_split refuses unaligned splits (__split_vma, and move_vma since 73d5e0629919); mremap growing a vma in place asks no driver, so such an end is exempt',
  culprit: (ctx) => {
    if (ctx.step.event.type === 'mmap') return 'dax_mmap';
    if (ctx.step.event.type !== 'mremap') return '__split_vma';
    // A part moved although its old range could not be split (H1), or the whole vma moved to where
    // dax_get_unmapped_area put it: congruent to a file offset check_vma never checked (B3's root).
    return ctx.step.branches.some((b) => b.startsWith('move_vma:unmap-failed-ignored')) ? 'move_vma' : 'dax_get_unmapped_area';
  },
  check: (ctx) => {
    let out: string[] | null = null;
    const e = ctx.step.event;
    const vmas = stepDaxVmas(ctx, true);
    for (let i = 0; i < vmas.length; i++) {
      const { pid, vma, dev, was } = vmas[i] as DaxVma;
      // A fork child's vmas are dup_mmap's copies of the parent's, whose shape was judged by the step that made it.
      if (e.type === 'fork' && pid === e.child) continue;
      // may_split asks the device's align now: after an unbind and an align change, splits at the new align are the kernel's own.
      const a = vma.mmapAlign < dev.align ? vma.mmapAlign : dev.align;
      if (!vma.flags.mayshare) (out ??= []).push(`${pid}: a private vma maps ${dev.name} at ${hex(vma.start)}`);
      // A boundary this step made (no vma of the process had it before): one already off its align is reported by the step that made it.
      const badStart = (vma.start & (a - 1n)) !== 0n && was?.vmas.some((o) => o.start === vma.start) !== true;
      const badEnd = !vma.grown && (vma.end & (a - 1n)) !== 0n && was?.vmas.some((o) => o.end === vma.end) !== true;
      if (badStart || badEnd) (out ??= []).push(`${pid}: the ${dev.name} vma ${hex(vma.start)}-${hex(vma.end)} is not on ${a / 1024n} KiB boundaries (the align it was mapped with, or the device's now if smaller)`);
    }
    return out ?? NO_MESSAGES;
  },
};

/** dax-config-while-bound: a bound device's ranges are the ones its probe reserved and covered with struct pages. */
export const daxConfigWhileBound: Invariant = {
  name: 'dax-config-while-bound',
  inputs: ['devices'],
  summary: 'while device_dax is bound, the ranges faults translate through are the ranges its probe reserved in iomem and covered with its pgmap',
  kernel: 'size_store and align_store refuse a bound device with -EBUSY (drivers/dax/bus.c); mapping_store does not (finding B2)',
  culprit: (ctx) => {
    const file = eventPath(ctx).split('/').pop() ?? '';
    return ['mapping', 'size', 'align'].includes(file) ? `${file}_store` : 'dev_dax_probe';
  },
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.devices === after.devices) return NO_MESSAGES;
    const out: string[] = [];
    for (const d of after.devices) {
      // Only where this step changed the ranges or the probe's: a mismatch is reported by the step that made it.
      const was = before?.devices.find((x) => x.name === d.name);
      if (!full && was !== undefined && was.ranges === d.ranges && was.mapped === d.mapped) continue;
      if (d.driver !== 'device_dax' || d.mapped === null) continue;
      const same = d.mapped.length === d.ranges.length && d.mapped.every((r, i) => r.start === d.ranges[i]?.start && r.end === d.ranges[i]?.end);
      if (!same) out.push(`${d.name} is bound to device_dax with ranges ${d.ranges.map((r) => `${hex(r.start)}-${hex(r.end)}`).join(',')}, but its probe reserved and mapped only ${d.mapped.map((r) => `${hex(r.start)}-${hex(r.end)}`).join(',')}`);
    }
    return out;
  },
};

/** dax-cdev: files and the char device stay consistent across binds. */
export const daxCdev: Invariant = {
  name: 'dax-cdev',
  inputs: ['devices', 'mm'],
  summary: 'a dax file is open only with a live dev_dax behind it, and a device bound to device_dax can be opened',
  kernel: 'chrdev_open finds the cdev dev_dax_probe added; cdev_del at unbind (drivers/dax/device.c, fs/char_dev.c); the cdev_init on every probe breaks both (finding B1)',
  culprit: (ctx) => (ctx.step.branches.includes('chrdev_open:stale-i_cdev') ? 'chrdev_open' : ctx.step.branches.includes('cdev_put:released-while-bound') ? 'cdev_put' : 'dev_dax_probe'),
  check: ({ before, after, full }) => {
    if (!full && before !== null && before.devices === after.devices && before.mm.files === after.mm.files) return NO_MESSAGES;
    const out: string[] = [];
    // Files and broken cdevs this step made (by file id and device): each is reported once, by the step that made it.
    // By key: an entry array per file per step otherwise (an mmap or munmap changes a file's count).
    for (const id of after.mm.files.keys()) {
      const f = after.mm.files.get(id) as OpenFile;
      if (f.driver === 'dax' && !f.private && (full || before === null || !before.mm.files.has(id))) out.push(`${f.path} was opened while ${f.dev} was not bound to device_dax: chrdev_open used the inode's stale i_cdev and dax_open stored a NULL dev_dax`);
    }
    // cdevReleased reads the device record and the profile only: with the same device list it says what it said before.
    if (!full && before !== null && before.devices === after.devices) return out;
    for (const d of after.devices) {
      const was = before === null ? undefined : findDevice(before, d.name);
      if (cdevReleased(after, d) && (full || was === undefined || !cdevReleased(before ?? after, was))) out.push(`${d.name} is bound to device_dax, but its cdev's kobject was released by a file of an earlier bind: every open fails with ENXIO`);
    }
    return out;
  },
};

const memmap: Verdict = (st, pid, vma, dev, pte, key) => {
  const special = daxIsPfnSpecial(st, dev);
  if (pte.special !== special) return [`${pid}: the ${pte.level} entry at ${hex(entryAddress(vma, key))} (${dev.name}) is ${pte.special ? 'special' : 'a devmap entry'}, but the device ${special ? 'has no' : 'has'} struct pages`];
  if (!special && dev.driver === 'device_dax' && !pgmapCovers(dev, pte.phys)) return [`${pid}: the ${pte.level} entry at ${hex(entryAddress(vma, key))} (${dev.name}) maps ${hex(pte.phys)}, a page its pgmap does not cover`];
  return NO_MESSAGES;
};

/** dax-memmap: struct pages exactly where the device has them. */
export const daxMemmap: Invariant = {
  name: 'dax-memmap',
  inputs: ['mm', 'devices', 'iomem', 'regions'],
  summary: "a map=none (PFN_SPECIAL) device's vmas are VM_PFNMAP and its entries special; a struct-page device's entries are devmap entries of pages its pgmap covers",
  kernel: 'dev_dax_probe: devm_memremap_pages over every range, or none for a PFN_SPECIAL region (the 2020 RFC, 7/10); dax_mmap sets VM_PFNMAP and the handlers insert special entries there',
  culprit: (ctx) => (ctx.step.event.type === 'mmap' ? 'dax_mmap' : 'dev_dax_huge_fault'),
  check: (ctx) => {
    let out: string[] | null = null;
    const vmas = stepDaxVmas(ctx, true);
    for (let i = 0; i < vmas.length; i++) {
      const { pid, vma, dev } = vmas[i] as DaxVma;
      const special = daxIsPfnSpecial(ctx.after, dev);
      if (vma.flags.pfnmap !== special) (out ??= []).push(`${pid}: the ${dev.name} vma at ${hex(vma.start)} is ${vma.flags.pfnmap ? '' : 'not '}VM_PFNMAP, but the device ${special ? 'has no' : 'has'} struct pages`);
    }
    const broken = brokenEntries(ctx, memmap);
    for (let i = 0; i < broken.length; i++) (out ??= []).push(...(broken[i] as (typeof broken)[number]).messages);
    return out ?? NO_MESSAGES;
  },
};

/** no-oops: the modelled kernel never crashes. */
export const noOops: Invariant = {
  name: 'no-oops',
  summary: 'no operation crashes the kernel',
  kernel: 'every path the model mirrors; an oops is reported with its first line (SPEC §7)',
  onOutcome: true,
  check: ({ step }) => (!step.outcome.ok && 'oops' in step.outcome ? [`the kernel oopsed: ${step.outcome.oops}`] : NO_MESSAGES),
  culprit: ({ step }) => step.branches.find((b) => b.startsWith('oops:'))?.slice('oops:'.length) ?? 'unknown',
};

export const DEVDAX_INVARIANTS: readonly Invariant[] = [daxLiveness, daxGranularity, daxTranslation, daxVmaShape, daxConfigWhileBound, daxCdev, daxMemmap, noOops];
