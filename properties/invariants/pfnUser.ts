/**
 * dax-pfn-user: what a follow_pfn user (KVM's hva_to_pfn, VFIO type1's
 * vaddr_get_pfns; SPEC §8, model-only) gets for a device-dax mapping. The
 * 2020 RFC makes device-dax without struct pages usable by both only if
 * follow_pfn walks the huge special entries (its 2/10 and 4/10) and VFIO
 * takes the pfn from the page tables rather than from vm_pgoff (9/10).
 */
import type { KernelState } from '../../src/kernel/state.js';
import { daxPgoffToPhys } from '../../src/kernel/dax/deviceFops.js';
import { entryAt } from '../../src/kernel/mm/fault.js';
import { vmaAt } from '../../src/kernel/mm/process.js';
import { PAGE_SHIFT, SZ_4K, type Vma } from '../../src/kernel/mm/types.js';
import type { FollowPfnEvent } from '../../src/log/programEvents.js';
import type { Invariant, InvariantContext } from './types.js';

/** The dax vma the event's address falls in (after the step), with its device and the address. */
function target(s: KernelState, e: FollowPfnEvent): { readonly vma: Vma; readonly dev: KernelState['devices'][number]; readonly addr: bigint } | null {
  const p = s.mm.procs.get(e.pid);
  if (p === undefined) return null;
  const addr = (p.maps.get(e.map) ?? 0n) + e.offset;
  const at = vmaAt(p, addr);
  if (at === null) return null;
  const file = at.vma.file === null ? undefined : s.mm.files.get(at.vma.file);
  if (file?.driver !== 'dax') return null;
  const dev = s.devices.find((d) => d.name === file.dev);
  return dev === undefined ? null : { vma: at.vma, dev, addr };
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function check(ctx: InvariantContext): string[] {
  const e = ctx.step.event;
  if (e.type !== 'follow_pfn') return [];
  const t = target(ctx.after, e);
  if (t === null) return [];
  const o = ctx.step.outcome;
  const who = `${e.pid}: ${e.user === 'kvm' ? 'KVM (hva_to_pfn)' : 'VFIO (vaddr_get_pfns)'} at ${hex(t.addr)} (${t.dev.name})`;
  if (o.ok) {
    const page = t.vma.pgoff + ((t.addr - t.vma.start) >> PAGE_SHIFT);
    const want = daxPgoffToPhys(t.dev, page, SZ_4K);
    const got = o.value === undefined ? null : BigInt(o.value);
    return got === want ? [] : [`${who} got ${got === null ? 'no pfn' : hex(got)}, but file page ${hex(page)} is ${want === null ? 'outside the device' : hex(want)}`];
  }
  // A failure is the kernel's answer unless the page was there to be had: the device is bound, the
  // vma allows the access, and an entry maps the address now (the walk's own fault served it).
  const allowed = e.op === 'write' ? t.vma.prot === 'rw' : t.vma.prot !== 'none';
  if (t.dev.driver !== 'device_dax' || !allowed || entryAt(t.vma, t.addr) === null) return [];
  return [`${who} failed (${'errno' in o ? o.errno : 'no pfn'}) although a ${entryAt(t.vma, t.addr)?.pte.level} entry maps the page and the vma allows the ${e.op}`];
}

export const daxPfnUser: Invariant = {
  name: 'dax-pfn-user',
  onEvents: ['follow_pfn'],
  summary: "a KVM or VFIO user of a device-dax mapping gets dax_pgoff_to_phys of the page, and fails only where no entry can map it (unbound device, SIGBUS, a permission the vma lacks)",
  kernel: 'hva_to_pfn (virt/kvm/kvm_main.c) and vaddr_get_pfns (drivers/vfio/vfio_iommu_type1.c): get_user_pages, else follow_pte after fixup_user_fault for VM_PFNMAP; the RFC\'s 2/10 and 4/10 make follow_pfn walk PMD and PUD entries',
  onOutcome: true,
  culprit: (ctx) => (ctx.step.outcome.ok ? (ctx.step.event.type === 'follow_pfn' && ctx.step.event.user === 'kvm' ? 'hva_to_pfn' : 'vaddr_get_pfns') : 'follow_pte'),
  check,
};
