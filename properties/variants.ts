/**
 * What each bug variant (SPEC §6) needs of the machine to show, and the
 * property that must catch it. The profile and config constraints come from
 * the variant's history: the 2019 walk/registration bugs are 5.1's, the
 * memmap ones need 6.8 with memory_hotplug.memmap_on_memory enabled, and a
 * mutation of a patch series needs the series.
 */
import type { BootConfig } from '../src/kernel/config.js';
import type { PatchName } from '../src/kernel/patches.js';
import type { KernelVersion, VariantName } from '../src/kernel/profile.js';

/** A variant's machine needs: a kernel, a config, and the patch series it is a mutation of. */
export interface VariantNeeds {
  readonly kernel?: KernelVersion;
  readonly config?: Partial<BootConfig>;
  readonly patches?: readonly PatchName[];
}

/** A machine where test_hmm's placement meets PHYSMEM_END: DEVICE_PRIVATE, test_hmm=m, x86_phys_bits 52, the probe file. */
const HMM_MACHINE: Partial<BootConfig> = { devicePrivate: true, testHmm: 'm', physAddrBits: 52, archMemoryProbe: true };

/** A machine with test_hmm built in (DEVICE_PRIVATE, the harness's hmm kernel): its devices are there from boot. */
const HMM_DEVICE: Partial<BootConfig> = { devicePrivate: true, testHmm: 'y' };

export const KERNEL_VARIANT_PROFILE: Readonly<Record<VariantName, VariantNeeds>> = {
  'walk-top-level-only': { kernel: '5.1' },
  'walk-returns-minus-one': { kernel: '5.1' },
  'register-top-level-only': { kernel: '5.1' },
  'kmem-accepts-invalid-node': {},
  'kmem-probe-leaks-on-add-failure': { kernel: '5.1' },
  'memmap-whole-range': { kernel: '6.8', config: { memmapOnMemory: true, structPageSize: 64, pageblockOrder: 9 } },
  'memmap-ignores-support': { kernel: '6.8', config: { memmapOnMemory: true } },
  'kmem-remove-releases-region': {},
  'dax-no-may-split': {},
  'mremap-no-split-check': {},
  'dax-pte-fault-ignores-align': {},
  'dax-unbind-skips-zap': {},
  // The RFC without 2/10 and 4/10: only its map=none namespaces install the huge special entries follow_pte must walk.
  'follow-pfn-pte-only': { patches: ['devdax-map-none'] },
  // Both need a CPU with more physical address bits than MAX_PHYSMEM_BITS (46, 4-level paging), where PHYSMEM_END
  // rather than the iomem end bounds the search, and test_hmm as a module, so a modprobe places the chunks.
  // v6.8: before ea72ce5da228 neither the clamp nor add_pages' -ERANGE (on 6.1.192 the load fails instead).
  'hmm-placement-no-physmem-end-clamp': { kernel: '6.8', config: HMM_MACHINE },
  'hmm-placement-off-by-one': { kernel: '6.1', config: HMM_MACHINE },
  // The device-private entry bugs need test_hmm and its migrations on any 6.1 machine.
  'hmm-fork-keeps-write': { kernel: '6.1', config: HMM_DEVICE },
  'hmm-mprotect-keeps-write': { kernel: '6.1', config: HMM_DEVICE },
  'hmm-zap-skips-put': { kernel: '6.1', config: HMM_DEVICE },
  'hmm-range-fault-foreign-valid': { kernel: '6.1', config: HMM_DEVICE },
  'hmm-exclusive-maps-partial': { kernel: '6.1', config: HMM_DEVICE },
};

/** The properties that catch each variant (any one of them counts). */
export const VARIANT_CAUGHT_BY: Readonly<Record<VariantName, readonly string[]>> = {
  'walk-top-level-only': ['must-succeed:online'],
  'walk-returns-minus-one': ['errno-documented', 'must-succeed:online'],
  'register-top-level-only': ['must-succeed:kmem-bind'],
  'kmem-accepts-invalid-node': ['node-respected'],
  'kmem-probe-leaks-on-add-failure': ['failed-op-unchanged', 'kmem-resource-shape'],
  'memmap-whole-range': ['vmemmap-in-own-block'],
  'memmap-ignores-support': ['vmemmap-in-own-block'],
  'kmem-remove-releases-region': ['device-one-way', 'busy-no-overlap', 'blocks-cover-system-ram', 'no-devdax-over-online-memory'],
  'dax-no-may-split': ['dax-vma-shape'],
  'mremap-no-split-check': ['dax-vma-shape'],
  'dax-pte-fault-ignores-align': ['dax-granularity'],
  'dax-unbind-skips-zap': ['dax-liveness'],
  'follow-pfn-pte-only': ['dax-pfn-user'],
  'hmm-placement-no-physmem-end-clamp': ['hmm-device-private-iomem'],
  'hmm-placement-off-by-one': ['hmm-device-private-iomem'],
  'hmm-fork-keeps-write': ['hmm-device-entry'],
  'hmm-mprotect-keeps-write': ['hmm-device-entry'],
  'hmm-zap-skips-put': ['hmm-device-mapcount'],
  'hmm-range-fault-foreign-valid': ['hmm-mirror-coherent', 'no-oops'],
  // ATOMIC entries at addresses whose pages are not exclusive (or not there): hmm-exclusive-atomic; the stale page
  // names another address's frame, which hmm-mirror-coherent sees too.
  'hmm-exclusive-maps-partial': ['hmm-exclusive-atomic', 'hmm-mirror-coherent'],
};
