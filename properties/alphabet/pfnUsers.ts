/**
 * The model-only follow_pfn users (SPEC §8; src/kernel/kvm, src/kernel/vfio):
 * KVM resolving a guest page and VFIO type1 mapping one for DMA, at the start
 * of each live map handle of the programs alphabet (programs.ts), KVM for a
 * write and VFIO for a read, the two ways the posted RFC's 2/10, 4/10 and
 * 9/10 are exercised. No real kernel here can run them (no VM, no IOMMU),
 * so the conformance suite never emits them.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { ProgramEvent } from '../../src/log/programEvents.js';
import { PROGRAM_MAPS, PROGRAM_PIDS } from './programs.js';
import type { OperationGenerator } from './types.js';

export const pfnUserOps: OperationGenerator = {
  name: 'pfn',
  inputs: (s: KernelState) => [s.mm],
  reachesFaults: false,
  byDefault: false,
  summary: 'follow_pfn users (model-only): KVM (write) and VFIO (read) at the start of each live map handle of the programs alphabet',
  onRealKernel: false,
  ops(s) {
    const out: ProgramEvent[] = [];
    for (const pid of PROGRAM_PIDS) {
      const p = s.mm.procs.get(pid);
      if (p === undefined) continue;
      for (const map of PROGRAM_MAPS) {
        const at = p.maps.get(map);
        if (at === undefined || !p.vmas.some((v) => v.start <= at && at < v.end)) continue;
        out.push({ type: 'follow_pfn', pid, map, offset: 0n, op: 'write', user: 'kvm' }, { type: 'follow_pfn', pid, map, offset: 0n, op: 'read', user: 'vfio' });
      }
    }
    return out;
  },
};
