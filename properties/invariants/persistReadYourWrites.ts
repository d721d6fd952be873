/**
 * persist-read-your-writes (SPEC §10, KERNEL-FACTS-PERSIST §4): what a
 * kmem<node> disk reads against a shadow of what was written to it, kept per
 * state and carried across reboots. Split from persist.ts, whose invariants
 * judge the device's pages and index; this one judges the disk's data.
 */
import { kmemDiskBytes } from '../../src/kernel/block/kmemDisk.js';
import { isBlockIoctl, readValue } from '../../src/log/programEvents.js';
import type { KernelState } from '../../src/kernel/state.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';
import type { Invariant } from './types.js';
import { applies, fdDevice, persistDevices } from './persistScope.js';

/** What the disks must read: per device, block → the word every word of it holds (whole-block direct I/O); absent = 0; null = unknown. */
type Shadow = ReadonlyMap<string, WideIntMap<bigint | null>>;
const shadows = new WeakMap<KernelState, Shadow>();
const EMPTY: Shadow = new Map();

function expected(sh: Shadow, dev: string, offset: bigint, length: bigint): string | null {
  const m = sh.get(dev);
  const runs: Array<[bigint, number]> = [];
  for (let b = Number(offset / 4096n); b < Number((offset + length) / 4096n); b++) {
    const v = m?.get(b);
    if (v === null) return null;
    const w = v ?? 0n;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] === w) last[1] += 512;
    else runs.push([w, 512]);
  }
  return readValue(runs);
}

/**
 * persist-read-your-writes: every block read returns the last data written
 * to it since its last discard (zeros if none), across reboots, as long as
 * nothing re-formatted the device (a format is a new, empty disk).
 */
export const persistReadYourWrites: Invariant = {
  name: 'persist-read-your-writes',
  summary: 'a read of kmem<node> returns what was last written to each block since its last discard (zeros otherwise), across reboots',
  kernel: 'RFC 4/4 kmem_blk_submit_bio: copy_to_kmem_blk / copy_from_kmem_blk through the index, kmem_blk_discard',
  appliesTo: applies,
  onOutcome: true,
  readsMemory: true,
  check: ({ step, after }) => {
    // step.before, not the context's: a reboot is judged like a boot, but the disks' contents carry over it.
    const before = step.before;
    let sh = (before === null ? undefined : shadows.get(before)) ?? EMPTY;
    const e = step.event;
    const out: string[] = [];
    // A fresh format (the probe found no magic) starts an empty disk.
    if (step.branches.some((b) => b.startsWith('kmem_persist_probe:format'))) {
      const next = new Map(sh);
      for (const { dev, p } of persistDevices(after)) if (p.type !== null) next.delete(dev.name);
      sh = next;
    }
    if (before !== null && (e.type === 'pwrite' || e.type === 'pread' || e.type === 'ioctl')) {
      const dev = fdDevice(before, e.pid, e.fd);
      if (dev !== null) {
        // A persistent map per disk: a write costs its blocks, not the disk's written ones.
        let m = sh.get(dev) ?? WideIntMap.empty<bigint | null>();
        const o = step.outcome;
        if (e.type === 'pread' && o.ok && o.value !== undefined && o.value !== '') {
          const p = after.devices.find((d) => d.name === dev)?.kmem?.persist;
          const size = p === undefined ? 0n : kmemDiskBytes(p);
          const len = e.offset + e.length > size ? size - e.offset : e.length;
          const want = expected(sh, dev, e.offset, len);
          if (want !== null && want !== o.value) out.push(`${dev}: read of [${e.offset}, +${len}) gave ${o.value}, last written ${want}`);
        } else if (e.type === 'pwrite' && e.value !== null) {
          const first = Number(e.offset / 4096n);
          const written = o.ok && o.value !== undefined ? BigInt(o.value) : e.length;
          // A failed write leaves its blocks unknown: the blocks before the failing one were written.
          for (let b = first; b < first + Number(written / 4096n); b++) m = m.set(b, o.ok ? e.value : null);
          sh = new Map(sh).set(dev, m);
        } else if (e.type === 'ioctl' && isBlockIoctl(e) && o.ok) {
          const first = Number(e.args.start / 4096n);
          for (let b = first; b < first + Number(e.args.length / 4096n); b++) m = m.delete(b);
          sh = new Map(sh).set(dev, m);
        }
      }
    }
    shadows.set(after, sh);
    return out;
  },
  culprit: () => 'kmem_blk_submit_bio',
};
