import { describe, expect, it } from 'vitest';
import { devicesView, renderDevices } from '../../src/views/index.js';
import { TWO_REGIONS, exampleState, stateOf } from './fixtures.js';

describe('devices view (daxctl list)', () => {
  it('lists devices sorted by name whatever the registration order', () => {
    const s = stateOf(TWO_REGIONS);
    expect(s.devices.map((d) => d.name)).toEqual(['dax1.0', 'dax0.0']);
    expect(devicesView(s).map((d) => d.chardev)).toEqual(['dax0.0', 'dax1.0']);
  });

  it('gives mode, lifecycle state, driver, hex size/align/ranges and memmap_on_memory', () => {
    const [d0, d1] = devicesView(stateOf(TWO_REGIONS));
    expect(d0).toEqual({
      chardev: 'dax0.0',
      size: '0x1fe00000',
      target_node: 0,
      align: '0x200000',
      mode: 'devdax',
      state: 'devdax',
      driver: 'device_dax',
      ranges: [{ start: '0x80200000', end: '0x9fffffff' }],
      memmap_on_memory: false,
    });
    expect(d1).toMatchObject({ chardev: 'dax1.0', target_node: 1, mode: 'system-ram', state: 'online', driver: 'kmem' });
  });

  it('follows the walkthrough: kmem, then no driver once kmem is unbound (memory pinned, still online)', () => {
    expect(devicesView(exampleState(3))[0]).toMatchObject({ mode: 'system-ram', state: 'kmem', driver: 'kmem' });
    expect(devicesView(exampleState(5))[0]).toMatchObject({ state: 'online', driver: 'kmem' });
    expect(devicesView(exampleState())[0]).toMatchObject({ mode: null, state: 'online', driver: null });
  });

  it('renders as an indented JSON array', () => {
    const text = renderDevices(exampleState());
    expect(text.endsWith(']\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(devicesView(exampleState()));
  });
});
