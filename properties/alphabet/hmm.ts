/**
 * test_hmm (src/kernel/hmm/): modprobe and rmmod of the module, open and
 * close of /dev/hmm_dmirror0 (a module reference), RELEASE,
 * MIGRATE_TO_DEV, READ, WRITE and SNAPSHOT on it, and hot-adds
 * through /sys/devices/system/memory/probe at the top of the free physical
 * space where request_free_mem_region places its chunks: into each chunk
 * (EEXIST after the "Unaddressable device" warning) and into the blocks just
 * below min(iomem end, PHYSMEM_END) and just below the lowest chunk. Only on
 * a machine whose config builds test_hmm: elsewhere it offers nothing.
 */
import { iomemEnd, physmemEnd } from '../../src/kernel/config.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import type { OperationGenerator } from './types.js';

export const PROBE_PATH = '/sys/devices/system/memory/probe';

/** Block-aligned probe addresses near the device-private placement, without repeats, in a fixed order. */
export function hmmProbeAddresses(s: KernelState): bigint[] {
  const B = s.blockSize;
  const e = iomemEnd(s.config);
  const p = physmemEnd(s.config);
  const top = (e < p ? e : p) + 1n;
  const chunks = s.hmm.devices.flatMap((d) => d.chunks);
  const lowest = chunks.reduce((m, c) => (c.start < m ? c.start : m), top);
  const out = new Set<bigint>();
  for (const c of chunks) out.add((c.start / B) * B);
  out.add((top / B) * B - B);
  if (lowest >= B) out.add((lowest / B) * B - B);
  return [...out];
}

/** Every hmm operation offered in `s`. */
export function hmmEvents(s: KernelState): StepEvent[] {
  if (s.config.testHmm === 'n') return [];
  const out: StepEvent[] = [
    { type: 'modprobe', module: 'test_hmm' },
    { type: 'rmmod', module: 'test_hmm' },
    // A file of /dev/hmm_dmirror0 holds the module (rmmod: EAGAIN) until it is closed.
    { type: 'open', pid: 'p1', fd: 'h0', path: '/dev/hmm_dmirror0', mode: 'rdwr', sync: false },
    { type: 'close', pid: 'p1', fd: 'h0' },
    // Commands on it (src/kernel/hmm/dmirrorIoctl.ts): RELEASE gives the device's chunks back to iomem;
    // MIGRATE_TO_DEV of a page of whatever m1 maps stops at migrate_vma_setup or earlier.
    { type: 'ioctl', pid: 'p1', fd: 'h0', cmd: 'HMM_DMIRROR_RELEASE', args: { addr: { map: 'm1', offset: 0n }, npages: 1n, ptr: null } },
    { type: 'ioctl', pid: 'p1', fd: 'h0', cmd: 'HMM_DMIRROR_MIGRATE_TO_DEV', args: { addr: { map: 'm1', offset: 0n }, npages: 1n, ptr: null } },
    // The device reading, writing and looking at m1 through m2 as its buffer (on anonymous memory: hmm_range_fault,
    // the device page table and its invalidations; elsewhere the errors on the way).
    ...(['HMM_DMIRROR_READ', 'HMM_DMIRROR_WRITE', 'HMM_DMIRROR_SNAPSHOT'] as const).map(
      (cmd): StepEvent => ({ type: 'ioctl', pid: 'p1', fd: 'h0', cmd, args: { addr: { map: 'm1', offset: 0n }, npages: 2n, ptr: { map: 'm2', offset: 0n } } }),
    ),
  ];
  if (s.config.archMemoryProbe) for (const a of hmmProbeAddresses(s)) out.push({ type: 'write', path: PROBE_PATH, value: `0x${a.toString(16)}`, raw: false });
  return out;
}

export const hmmOps: OperationGenerator = {
  name: 'hmm',
  summary: 'modprobe/rmmod test_hmm, open/close of /dev/hmm_dmirror0 with RELEASE, MIGRATE_TO_DEV, READ, WRITE and SNAPSHOT, and probe-file hot-adds into and just below its device-private chunks (machines with config.testHmm only)',
  onRealKernel: false,
  reachesFaults: true,
  // The probe addresses read the chunks and the block size (a boot constant); the open/close pair is fixed.
  inputs: (s: KernelState) => [s.hmm, s.blocks],
  ops: (s) => hmmEvents(s),
};
