/**
 * Zone choice and zone spans: mirrors the zone parts of mm/memory_hotplug.c
 * (zone_for_pfn_range, default_kernel_zone_for_pfn, default_zone_for_pfn,
 * resize_zone_range, shrink_zone_span) and zone_intersects
 * (include/linux/mmzone.h), x86-64 zone boundaries (DMA < 16 MiB, DMA32 <
 * 4 GiB). Spans are tracked per node at block granularity for hot-added
 * memory and at page granularity for boot RAM.
 * Left out: the auto-movable online policy (memory_hotplug.online_policy).
 */
import type { ZoneName } from '../../machines/index.js';
import type { OnlineType } from './config.js';
import { withState, type KernelState, type MemoryBlock, type ZoneSpan } from './state.js';

export const ZONES: readonly ZoneName[] = ['DMA', 'DMA32', 'Normal', 'Movable'];

/** MAX_DMA_PFN and MAX_DMA32_PFN on x86-64 (arch/x86/include/asm/dma.h). */
export const MAX_DMA_PFN = (16 * 1024 * 1024) / 4096;
export const MAX_DMA32_PFN = (4 * 1024 * 1024 * 1024) / 4096;

/** The zone boot memory at `pfn` lands in (free_area_init's zone ranges). */
export function bootZoneOfPfn(pfn: number): ZoneName {
  if (pfn < MAX_DMA_PFN) return 'DMA';
  if (pfn < MAX_DMA32_PFN) return 'DMA32';
  return 'Normal';
}

const ZONE_INDEX: Readonly<Record<ZoneName, number>> = { DMA: 0, DMA32: 1, Normal: 2, Movable: 3 };

/** A zone's key in state.zoneSpans: nid * 4 + zone index (a number, so a lookup builds no string). */
export function spanKey(nid: number, zone: ZoneName): number {
  return nid * 4 + ZONE_INDEX[zone];
}

export function zoneSpan(state: KernelState, nid: number, zone: ZoneName): ZoneSpan | undefined {
  return state.zoneSpans.get(spanKey(nid, zone));
}

/** @kernel zone_intersects include/linux/mmzone.h */
export function zoneIntersects(state: KernelState, nid: number, zone: ZoneName, startPfn: number, nrPages: number): boolean {
  const span = zoneSpan(state, nid, zone);
  if (span === undefined) return false;
  return !(startPfn >= span.endPfn || startPfn + nrPages <= span.startPfn);
}

/** @kernel default_kernel_zone_for_pfn mm/memory_hotplug.c — the first zone below Normal the range intersects, else Normal. */
export function defaultKernelZoneForPfn(state: KernelState, nid: number, startPfn: number, nrPages: number): ZoneName {
  for (const zone of ['DMA', 'DMA32'] as const) {
    if (zoneIntersects(state, nid, zone, startPfn, nrPages)) return zone;
  }
  return 'Normal';
}

/** @kernel default_zone_for_pfn mm/memory_hotplug.c — the contig-zones policy for plain "online". */
function defaultZoneForPfn(state: KernelState, nid: number, startPfn: number, nrPages: number): ZoneName {
  const kernelZone = defaultKernelZoneForPfn(state, nid, startPfn, nrPages);
  const inKernel = zoneIntersects(state, nid, kernelZone, startPfn, nrPages);
  const inMovable = zoneIntersects(state, nid, 'Movable', startPfn, nrPages);
  // A range that intersects exactly one of the two goes there; otherwise movable_node decides.
  if (inKernel !== inMovable) return inKernel ? kernelZone : 'Movable';
  return state.config.movableNode ? 'Movable' : kernelZone;
}

/** @kernel zone_for_pfn_range mm/memory_hotplug.c */
export function zoneForPfnRange(state: KernelState, onlineType: Exclude<OnlineType, 'offline'>, nid: number, startPfn: number, nrPages: number): ZoneName {
  if (onlineType === 'online_kernel') return defaultKernelZoneForPfn(state, nid, startPfn, nrPages);
  if (onlineType === 'online_movable') return 'Movable';
  return defaultZoneForPfn(state, nid, startPfn, nrPages);
}

/** @kernel resize_zone_range mm/memory_hotplug.c (via move_pfn_range_to_zone) */
export function resizeZoneRange(state: KernelState, nid: number, zone: ZoneName, startPfn: number, nrPages: number): KernelState {
  const key = spanKey(nid, zone);
  const span = state.zoneSpans.get(key);
  if (span !== undefined && span.startPfn <= startPfn && span.endPfn >= startPfn + nrPages) return state;
  const next: ZoneSpan =
    span === undefined
      ? { startPfn, endPfn: startPfn + nrPages }
      : { startPfn: Math.min(span.startPfn, startPfn), endPfn: Math.max(span.endPfn, startPfn + nrPages) };
  const zoneSpans = new Map(state.zoneSpans);
  zoneSpans.set(key, next);
  return withState(state, { zoneSpans });
}

/** An online block of that node and zone (a module function: a closure per call costs more than the check). */
function onlineIn(b: MemoryBlock, nid: number, zone: ZoneName): boolean {
  return b.state === 'online' && b.zone === zone && b.nid === nid;
}

/**
 * @kernel shrink_zone_span mm/memory_hotplug.c (via remove_pfn_range_from_zone)
 * Shrinks only when the removed range sits at an edge of the span; the new
 * edge is the nearest remaining online memory of that zone and node
 * (find_smallest_section_pfn / find_biggest_section_pfn), found here at block
 * granularity. A range in the middle leaves the span as it is.
 */
export function shrinkZoneSpan(state: KernelState, nid: number, zone: ZoneName, startPfn: number, nrPages: number): KernelState {
  const key = spanKey(nid, zone);
  const span = state.zoneSpans.get(key);
  if (span === undefined) return state;
  const endPfn = startPfn + nrPages;
  const bp = state.blockPages;
  let next: ZoneSpan | undefined = span;
  if (span.startPfn === startPfn) {
    next = undefined;
    for (const [id, b] of state.blocks.range(Math.floor(endPfn / bp), Math.floor((span.endPfn - 1) / bp))) {
      if (onlineIn(b, nid, zone)) {
        next = { startPfn: Math.max(id * bp, endPfn), endPfn: span.endPfn };
        break;
      }
    }
  } else if (span.endPfn === endPfn) {
    next = undefined;
    let found: number | undefined;
    for (const [id, b] of state.blocks.range(Math.floor(span.startPfn / bp), Math.floor((startPfn - 1) / bp))) {
      if (onlineIn(b, nid, zone)) found = id;
    }
    if (found !== undefined) next = { startPfn: span.startPfn, endPfn: Math.min((found + 1) * bp, startPfn) };
  }
  if (next === span) return state;
  const zoneSpans = new Map(state.zoneSpans);
  if (next === undefined) zoneSpans.delete(key);
  else zoneSpans.set(key, next);
  return withState(state, { zoneSpans });
}
