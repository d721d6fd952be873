import { describe, expect, it } from 'vitest';
import { humanSize, lsmem, renderLsmem } from '../../src/views/index.js';
import { TWO_REGIONS, exampleState, stateOf } from './fixtures.js';

describe('humanSize (util-linux size_to_human_string)', () => {
  it.each([
    [0n, '0B'],
    [512n, '512B'],
    [1024n, '1K'],
    [128n << 20n, '128M'],
    [2n << 30n, '2G'],
    [(4n << 30n) + (384n << 20n), '4.4G'],
    [(1n << 30n) + (512n << 20n), '1.5G'],
    [(15n * 128n) << 20n, '1.9G'],
    // util-linux rounds the fraction up into the unit without moving to the next one.
    [(1n << 40n) - 1n, '1024G'],
  ])('%s bytes is %s', (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });
});

describe('lsmem', () => {
  it('merges adjacent blocks with the same state, zones and node', () => {
    const rows = lsmem(stateOf(TWO_REGIONS)).rows.map((r) => [r.firstBlock, r.lastBlock, r.state, r.zones, r.node]);
    expect(rows).toEqual([
      [0, 0, 'online', 'none', 0],
      [1, 15, 'online', 'DMA32', 0],
      [32, 47, 'online', 'Normal', 0],
      [48, 48, 'offline', 'Normal/Movable', 1],
      [49, 49, 'online', 'Movable', 1],
      [50, 55, 'offline', 'Normal/Movable', 1],
    ]);
  });

  it('does not merge across a gap in the block ids', () => {
    const rows = lsmem(exampleState()).rows;
    const gap = rows.findIndex((r) => r.firstBlock === 17);
    expect(rows[gap - 1]?.lastBlock).toBe(15);
    expect(rows[gap]).toMatchObject({ firstBlock: 17, lastBlock: 19, state: 'online', zones: 'Movable', start: 0x88000000n, end: 0x9fffffffn });
  });

  it('totals online and offline memory by whole blocks', () => {
    const l = lsmem(stateOf(TWO_REGIONS));
    expect(l.onlineBytes).toBe(33n * (128n << 20n));
    expect(l.offlineBytes).toBe(7n * (128n << 20n));
  });

  it('renders the table and the summary as lsmem prints them', () => {
    const text = renderLsmem(exampleState());
    expect(text).toBe(
      [
        'RANGE                                 SIZE  STATE BLOCK    ZONE NODE',
        '0x0000000000000000-0x0000000007ffffff 128M online     0    none    0',
        '0x0000000008000000-0x000000007fffffff 1.9G online  1-15   DMA32    0',
        '0x0000000088000000-0x000000009fffffff 384M online 17-19 Movable    0',
        '0x0000000100000000-0x000000017fffffff   2G online 32-47  Normal    0',
        '',
        'Memory block size:       128M',
        'Total online memory:     4.4G',
        'Total offline memory:      0B',
        '',
      ].join('\n'),
    );
  });

  it('shows offline kmem blocks before they are onlined', () => {
    const text = renderLsmem(exampleState(4));
    expect(text).toContain('0x0000000088000000-0x000000009fffffff 384M offline 17-19 DMA32/Movable    0');
    expect(text).toContain('Total offline memory:    384M');
  });
});
