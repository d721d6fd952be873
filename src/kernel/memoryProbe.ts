/**
 * /sys/devices/system/memory/probe (CONFIG_ARCH_MEMORY_PROBE): hot-add one
 * memory block at a physical address by hand. Mirrors drivers/base/memory.c
 * (v6.1) probe_store (its parser: src/kernel/kstrtox.ts, its node:
 * src/kernel/numa.ts). The file exists only with the option (Debian's
 * kernels have it off; the harness's custom hmm kernel has it on,
 * harness/kernels/hmm/config). A block added over a range some other
 * resource holds fails in register_memory_resource with EEXIST; over a
 * device-private range (test_hmm's hmm_dmirror chunks) __request_region
 * first warns "Unaddressable device ... conflicts with ..." (KERNEL-FACTS-HMM §4.3).
 */
import { addMemory } from './memoryHotplug.js';
import { err, type Ret } from './errno.js';
import type { Op } from './op.js';
import { kstrtoull } from './kstrtox.js';
import { memoryAddPhysaddrToNid } from './numa.js';

/**
 * @kernel probe_store drivers/base/memory.c — the address must be a multiple
 * of the memory block size (EINVAL); then __add_memory(nid, phys, block
 * size, MHP_NONE): a plain "System RAM" resource and one new block, onlined
 * or not as auto_online_blocks says.
 */
export function probeStore(op: Op, buf: string): Ret {
  const phys = kstrtoull(buf);
  if (!phys.ok) {
    op.branch('probe_store', phys.errno);
    return phys;
  }
  if (phys.value % op.state.blockSize !== 0n) {
    op.branch('probe_store', 'EINVAL');
    return err('EINVAL');
  }
  return addMemory(op, memoryAddPhysaddrToNid(op.state, phys.value), phys.value, op.state.blockSize);
}
