/**
 * Which kernels the HMM invariants judge: those built with test_hmm
 * (CONFIG_TEST_HMM=m or y). lib/test_hmm.c is the only driver the model has
 * that makes device-private pages (memremap_pages with
 * MEMORY_DEVICE_PRIVATE), device-exclusive entries
 * (make_device_exclusive_range) and device page tables (/dev/hmm_dmirrorN):
 * without it there is nothing for them to judge, and a program step of a
 * device-dax log is not made to walk files and vmas looking for none.
 * Reads the config only, as Invariant.appliesTo must.
 */
import type { KernelState } from '../../src/kernel/state.js';

export function testHmmBuilt(s: KernelState): boolean {
  return s.config.testHmm !== 'n';
}
