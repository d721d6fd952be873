/**
 * Symmetry reduction for the exhaustive search: which dax regions are
 * interchangeable, so that a state and the state with two of them swapped
 * are one state (fingerprint.ts sorts their slots).
 *
 * Two regions are interchangeable when nothing the kernel does can tell
 * them apart except by address and node number: each has a target node of
 * its own (no boot RAM, no other region: zone spans, default zones and
 * node-respected are per node), the same kind, size, alignment and offset
 * from a memory block boundary, the same devices in the same places, the
 * same boot state of all of those, and both lie above 4 GiB (ZONE_DMA32
 * ends there) and both below or both above MAX_PHYSMEM_BITS (hot-add is
 * -E2BIG above). A test (test/properties/explore.test.ts) checks that the
 * reduced search finds every violation the unreduced one does, at the same
 * depth, and that every unreduced state is represented.
 *
 * Blocks of one device are not interchangeable: a zone's span covers the
 * blocks between its first and last one, so which block went online first
 * decides the default zone of the ones between (default_zone_for_pfn,
 * zone_intersects) and valid_zones. The same test shows such a pair.
 */
import type { KernelState } from '../src/kernel/state.js';
import { Fingerprinter, slotsOf, type Layout } from './fingerprint.js';

const GIB4 = 4n << 30n;

/** The layout of `root`'s machine: its slots, and with `symmetry` the groups of interchangeable ones. */
export function layoutOf(root: KernelState, symmetry: boolean): Layout {
  const slots = slotsOf(root);
  if (!symmetry) return { slots, groups: [] };
  const plain = new Fingerprinter({ slots, groups: [] });
  const top = 1n << BigInt(root.config.physmemBits);
  const bySignature = new Map<string, number[]>();
  slots.forEach((sl, i) => {
    const r = root.regions.find((x) => x.id === sl.regionId);
    if (sl.node === null || r === undefined || r.start < GIB4) return;
    const sig = [
      r.kind,
      r.end - r.start,
      r.align,
      r.isStatic,
      r.kmemType,
      r.start % root.blockSize,
      r.end < top,
      plain.slotKey(root, i),
    ].join('|');
    const list = bySignature.get(sig);
    if (list === undefined) bySignature.set(sig, [i]);
    else list.push(i);
  });
  return { slots, groups: [...bySignature.values()].filter((g) => g.length > 1) };
}

/**
 * Whether an alphabet's search may sort slots: not with program events. Their
 * part of the fingerprint (fingerprint.ts) names devices and physical
 * addresses outside the slots, so sorting the slots of two interchangeable
 * regions would merge a state whose process maps the bound device with one
 * whose process maps the unbound one.
 */
export function symmetryApplies(generators: ReadonlyArray<{ readonly name: string }>): boolean {
  return !generators.some((g) => g.name === 'program');
}
