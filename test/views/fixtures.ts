import { readFileSync } from 'node:fs';
import { SEED_PMEM_REGION, SEED_RAM } from '../helpers/machine.js';
import { fileURLToPath } from 'node:url';
import type { KernelState } from '../../src/kernel/state.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

export const EXAMPLE = fileURLToPath(new URL('../../examples/qemu-pmem-kmem.jsonl', import.meta.url));

/** The state after replaying `text` (a whole log). */
export function stateOf(text: string): KernelState {
  return replay(parseLogText(text, 'fixture.jsonl').map((e) => e.event)).final;
}

/** The example walkthrough, replayed to the end or through `until`. */
export function exampleState(until?: number): KernelState {
  const events = parseLogText(readFileSync(EXAMPLE, 'utf8'), 'example.jsonl').map((e) => e.event);
  return replay(events, until === undefined ? {} : { until }).final;
}

/**
 * Two regions listed out of name order (dax1.0's hmem region first, kmem
 * auto-bound, with hot-remove) and one block of it onlined movable: runs of
 * blocks with different states on node 1.
 */
export const TWO_REGIONS = [
  JSON.stringify({
    type: 'boot',
    kernel: '6.8',
    config: { memoryHotremove: true },
    memoryBlockSize: '128M',
    ram: SEED_RAM,
    daxRegions: [
      { id: 1, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 1, devices: [{ name: 'dax1.0', start: '0x180000000', size: '1G' }] },
      SEED_PMEM_REGION,
    ],
  }),
  '{"seq":1,"type":"write","path":"/sys/devices/system/memory/memory49/state","value":"online_movable"}',
  '',
].join('\n');
