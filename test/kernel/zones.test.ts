/**
 * Zone choice and zone spans (mm/memory_hotplug.c zone_for_pfn_range,
 * default_kernel_zone_for_pfn, default_zone_for_pfn, resize_zone_range,
 * shrink_zone_span; include/linux/mmzone.h zone_intersects), through
 * replayed logs. docs/kernel-notes.md Q1 has the source.
 *
 * 128 MiB blocks = 32768 pfns; block N starts at pfn N * 32768.
 */
import { describe, expect, it } from 'vitest';
import type { KernelState } from '../../src/kernel/state.js';
import type { ZoneName } from '../../machines/index.js';
import { spanKey } from '../../src/kernel/zones.js';
import { blockFile, boot, read, region, run, write, type Json } from '../helpers/machine.js';

const P = 32768;
const state = (id: number) => blockFile(id, 'state');
const vz = (id: number) => read(blockFile(id, 'valid_zones'));
const span = (s: KernelState, zone: ZoneName) => s.zoneSpans.get(spanKey(0, zone));

/** RAM [0, 1G) and [3G, 4G): DMA32 spans pfn [4096, 1048576); an hmem GiB at 1G (blocks 8-15) sits inside that span. */
const lowHole = boot(
  {
    ram: [
      { start: '0x0', size: '1G', node: 0 },
      { start: '0xc0000000', size: '1G', node: 0 },
    ],
    daxRegions: [region('hmem', 0, '0x40000000', '1G')],
  },
  { memoryHotremove: true },
);

/** RAM [0, 2G) and [4G, 6G): Normal spans pfn [1048576, 1572864); an hmem GiB at 6G (blocks 48-55) lies past it. */
const high = (config: Json = {}): Json => boot({ daxRegions: [region('hmem', 0, '0x180000000', '1G')] }, { memoryHotremove: true, ...config });

describe('zone_for_pfn_range: online_kernel and online_movable', () => {
  it('default_kernel_zone_for_pfn picks DMA32 for online_kernel when the block intersects DMA32\'s span', () => {
    const r = run(lowHole, vz(8), write(state(8), 'online_kernel'), vz(8));
    expect(r.results).toEqual(['DMA32 Movable\n', 'ok', 'DMA32\n']);
  });

  it('default_kernel_zone_for_pfn falls back to Normal when no zone below Normal intersects the block', () => {
    const r = run(high(), write(state(48), 'online_kernel'), vz(48));
    expect(r.results).toEqual(['ok', 'Normal\n']);
  });

  it('zone_for_pfn_range: online_movable is always ZONE_MOVABLE, even inside DMA32\'s span', () => {
    const r = run(lowHole, write(state(9), 'online_movable'), vz(9), write(state(9), 'offline'), vz(9));
    expect(r.results).toEqual(['ok', 'Movable\n', 'ok', 'DMA32 Movable\n']);
  });
});

describe('default_zone_for_pfn: plain "online" under contig-zones', () => {
  it('default_zone_for_pfn uses the kernel zone the block intersects (DMA32 inside its span)', () => {
    const r = run(lowHole, write(state(10), 'online'), vz(10));
    expect(r.results).toEqual(['ok', 'DMA32\n']);
  });

  it('default_zone_for_pfn with no intersection: kernel zone, or Movable with movable_node', () => {
    expect(run(high(), write(state(48), 'online'), vz(48)).results).toEqual(['ok', 'Normal\n']);
    expect(run(high({ movableNode: true }), write(state(48), 'online'), vz(48)).results).toEqual(['ok', 'Movable\n']);
  });

  it('default_zone_for_pfn follows Movable when only Movable\'s span covers the block', () => {
    const r = run(high(), write(state(48), 'online_movable'), write(state(50), 'online_movable'), write(state(49), 'online'), vz(49));
    expect(r.results).toEqual(['ok', 'ok', 'ok', 'Movable\n']);
  });

  it('default_zone_for_pfn follows the kernel zone when only it covers the block, even with movable_node', () => {
    const r = run(
      high({ movableNode: true }),
      write(state(48), 'online_kernel'),
      write(state(50), 'online_kernel'),
      vz(49),
      write(state(49), 'online'),
      vz(49),
    );
    expect(r.results).toEqual(['ok', 'ok', 'Normal Movable\n', 'ok', 'Normal\n']);
  });

  it('default_zone_for_pfn lets movable_node decide when both spans cover the block (zones interleave)', () => {
    const steps = [write(state(48), 'online_movable'), write(state(50), 'online_movable'), write(state(51), 'online_kernel'), vz(49)];
    expect(run(high(), ...steps).results.at(-1)).toBe('Normal Movable\n');
    expect(run(high({ movableNode: true }), ...steps).results.at(-1)).toBe('Movable Normal\n');
  });
});

describe('resize_zone_range / shrink_zone_span', () => {
  const movable = (...ids: number[]) => ids.map((id) => write(state(id), 'online_movable'));
  const offline = (...ids: number[]) => ids.map((id) => write(state(id), 'offline'));

  it('resize_zone_range grows the span to the hull of the onlined ranges, holes included', () => {
    const r = run(high(), ...movable(52, 48));
    expect(span(r.final, 'Movable')).toEqual({ startPfn: 48 * P, endPfn: 53 * P });
  });

  it('resize_zone_range grows Normal past its boot end when a block is onlined to it', () => {
    const r = run(high(), write(state(50), 'online_kernel'));
    expect(span(r.final, 'Normal')).toEqual({ startPfn: 32 * P, endPfn: 51 * P });
  });

  it('shrink_zone_span leaves the span alone when the offlined block is in the middle', () => {
    const r = run(high(), ...movable(48, 50, 52), ...offline(50));
    expect(span(r.final, 'Movable')).toEqual({ startPfn: 48 * P, endPfn: 53 * P });
  });

  it('shrink_zone_span at the end edge jumps back to the last online block of the zone, past earlier holes', () => {
    const r = run(high(), ...movable(48, 50, 52), ...offline(50, 52));
    expect(span(r.final, 'Movable')).toEqual({ startPfn: 48 * P, endPfn: 49 * P });
  });

  it('shrink_zone_span at the start edge moves the start to the next online block of the zone', () => {
    const r = run(high(), ...movable(48, 50, 52), ...offline(48));
    expect(span(r.final, 'Movable')).toEqual({ startPfn: 50 * P, endPfn: 53 * P });
  });

  it('shrink_zone_span empties the zone when its last online block goes', () => {
    const r = run(high(), ...movable(48, 50), ...offline(48, 50));
    expect(span(r.final, 'Movable')).toBeUndefined();
  });

  it('shrink_zone_span trims boot Normal at its end when the last boot block is offlined', () => {
    const r = run(high(), write(state(47), 'offline'));
    expect(r.results).toEqual(['ok']);
    expect(span(r.final, 'Normal')).toEqual({ startPfn: 32 * P, endPfn: 47 * P });
  });

  it('shrinking is visible in valid_zones: after the start edge moves, block 49 no longer intersects Movable', () => {
    const r = run(high(), ...movable(48, 50), vz(49), ...offline(48), vz(49));
    expect(r.results).toEqual(['ok', 'ok', 'Movable Normal\n', 'ok', 'Normal Movable\n']);
  });
});
