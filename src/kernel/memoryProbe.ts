/**
 * /sys/devices/system/memory/probe (CONFIG_ARCH_MEMORY_PROBE): hot-add one
 * memory block at a physical address by hand. Mirrors drivers/base/memory.c
 * (v6.1) probe_store, and the parts of lib/kstrtox.c and
 * arch/x86/mm/numa.c it calls. The file exists only with the option (Debian's
 * kernels have it off; the harness's custom hmm kernel has it on,
 * harness/kernels/hmm/config). A block added over a range some other
 * resource holds fails in register_memory_resource with EEXIST; over a
 * device-private range (test_hmm's hmm_dmirror chunks) __request_region
 * first warns "Unaddressable device ... conflicts with ..." (KERNEL-FACTS-HMM §4.3).
 */
import { addMemory, err, type Ret } from './memoryHotplug.js';
import type { Op } from './op.js';
import type { KernelState } from './state.js';

const U64_MAX = (1n << 64n) - 1n;

/**
 * @kernel kstrtoull lib/kstrtox.c (base 0) — an optional '+', then "0x"
 * followed by a hex digit (hex), a leading '0' (octal) or decimal; at least
 * one digit; one trailing newline at most. EINVAL otherwise, ERANGE past
 * 2^64 - 1.
 */
export function kstrtoull0(buf: string): Ret<bigint> {
  let s = buf.startsWith('+') ? buf.slice(1) : buf;
  let base = 10n;
  if (s.startsWith('0')) {
    if ((s[1] === 'x' || s[1] === 'X') && /^[0-9a-fA-F]$/.test(s[2] ?? '')) {
      base = 16n;
      s = s.slice(2);
    } else base = 8n;
  }
  const digit = base === 16n ? /^[0-9a-fA-F]/ : base === 8n ? /^[0-7]/ : /^[0-9]/;
  let v = 0n;
  let n = 0;
  let overflow = false;
  while (n < s.length && digit.test(s.slice(n))) {
    v = v * base + BigInt(parseInt(s[n] as string, 16));
    if (v > U64_MAX) overflow = true;
    n++;
  }
  if (n === 0) return err('EINVAL');
  if (overflow) return err('ERANGE');
  const rest = s.slice(n);
  if (rest !== '' && rest !== '\n') return err('EINVAL');
  return { ok: true, value: v };
}

/**
 * @kernel memory_add_physaddr_to_nid arch/x86/mm/numa.c — the node of the
 * numa_meminfo block holding the address (boot RAM, and the SRAT ranges of
 * hot-pluggable memory, which the model knows as dax regions' target nodes),
 * else the first block's node.
 */
export function memoryAddPhysaddrToNid(s: KernelState, phys: bigint): number {
  const block = s.blocks.get(Number(phys / s.blockSize));
  if (block !== undefined) return block.nid;
  const region = s.regions.find((r) => r.start <= phys && phys <= r.end && r.targetNode >= 0);
  if (region !== undefined) return region.targetNode;
  return s.possibleNodes[0] ?? 0;
}

/**
 * @kernel probe_store drivers/base/memory.c — the address must be a multiple
 * of the memory block size (EINVAL); then __add_memory(nid, phys, block
 * size, MHP_NONE): a plain "System RAM" resource and one new block, onlined
 * or not as auto_online_blocks says.
 */
export function probeStore(op: Op, buf: string): Ret {
  const phys = kstrtoull0(buf);
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
