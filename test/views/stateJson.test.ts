import { describe, expect, it } from 'vitest';
import { renderIomem } from '../../src/kernel/resource.js';
import { VIEW_NAMES, renderView, stateJson, viewJson } from '../../src/views/index.js';
import { TWO_REGIONS, exampleState, stateOf } from './fixtures.js';

describe('stateJson (SPEC §4 state object)', () => {
  it('has exactly the SPEC keys, in order', () => {
    expect(Object.keys(stateJson(exampleState()))).toEqual(['kernel', 'iomem', 'memoryBlockSize', 'blocks', 'devices', 'memTotalKiB']);
  });

  it('gives the example walkthrough end state', () => {
    const s = exampleState();
    const j = stateJson(s);
    expect(j.kernel).toBe('6.12');
    expect(j.memoryBlockSize).toBe('0x8000000');
    expect(j.iomem).toBe(renderIomem(s.iomem));
    expect(j.iomem).toContain('    88000000-9fffffff : System RAM (kmem)\n');
    expect(j.blocks.find((b) => b.id === 17)).toEqual({ id: 17, state: 'online', zone: 'Movable', node: 0, vmemmapPages: 0 });
    expect(j.devices).toEqual([{ name: 'dax0.0', state: 'online', driver: null, targetNode: 0 }]);
    expect(j.memTotalKiB).toBe(s.managedPages * 4);
  });

  it('sorts blocks by id and devices by name', () => {
    const j = stateJson(stateOf(TWO_REGIONS));
    const ids = j.blocks.map((b) => b.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(j.devices.map((d) => d.name)).toEqual(['dax0.0', 'dax1.0']);
    expect(j.blocks.find((b) => b.id === 48)).toEqual({ id: 48, state: 'offline', zone: null, node: 1, vmemmapPages: 0 });
  });

  it('is plain JSON (no bigints survive)', () => {
    const j = stateJson(stateOf(TWO_REGIONS));
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe('views', () => {
  it('renders every view newline-terminated, and as JSON data', () => {
    const s = exampleState();
    for (const v of VIEW_NAMES) {
      expect(renderView(v, s).endsWith('\n')).toBe(true);
      expect(() => JSON.stringify(viewJson(v, s))).not.toThrow();
    }
    expect(renderView('meminfo', s)).toMatch(/^MemTotal: +\d+ kB\n/);
    expect(renderView('meminfo', s)).toMatch(/\n +0 +Movable +3 +98304 +98304\n/);
  });
});
