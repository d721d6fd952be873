import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import {
  daxDeviceMachine,
  daxDeviceTable,
  leafName,
  memoryBlockMachine,
  memoryBlockTable,
  stepDaxDevice,
  stepMemoryBlock,
  type BlockMachineState,
  type DaxDeviceEvent,
  type DaxDeviceState,
  type MemoryBlockEvent,
} from '../../machines/index.js';

const deviceEvent = fc.constantFrom<DaxDeviceEvent>(
  { type: 'devdax.probed' },
  { type: 'devdax.removed' },
  { type: 'kmem.added' },
  { type: 'block.onlined' },
  { type: 'kmem.removed' },
);
const blockEvent = fc.oneof(
  fc.constantFrom('DMA', 'DMA32', 'Normal', 'Movable', null).map((zone): MemoryBlockEvent => ({ type: 'online', zone })),
  fc.constantFrom<MemoryBlockEvent>({ type: 'offline.begin' }, { type: 'offline.done' }, { type: 'offline.failed' }),
);

describe('transition tables derived from the machines (machines/table.ts)', () => {
  it('has an entry for exactly the (state, event, context) triples xstate accepts', () => {
    let accepted = 0;
    for (const hotRemove of [false, true]) {
      for (const state of daxDeviceTable.states) {
        for (const type of daxDeviceTable.events) {
          const snap = daxDeviceMachine.resolveState({ value: state === 'devdax' || state === 'unbound' ? { intact: state } : state, context: { hotRemove } });
          const taken = daxDeviceMachine.getTransitionData(snap, { type } as DaxDeviceEvent).length > 0;
          expect(stepDaxDevice(state, type, hotRemove) !== undefined, `${state} ${type} ${hotRemove}`).toBe(taken);
          if (taken) accepted++;
        }
      }
    }
    expect(accepted).toBe(daxDeviceTable.entries().length);
    expect(memoryBlockTable.entries().length).toBe(4);
  });

  test.prop([fc.boolean(), fc.array(deviceEvent, { maxLength: 30 })], { numRuns: 300 })(
    'the dax device table agrees with xstate transition() on random event sequences',
    (hotRemove, events) => {
      let [snap] = initialTransition(daxDeviceMachine, { hotRemove });
      let state: DaxDeviceState = leafName(snap.value) as DaxDeviceState;
      for (const ev of events) {
        [snap] = transition(daxDeviceMachine, snap, ev);
        state = stepDaxDevice(state, ev.type, hotRemove) ?? state;
        expect(state).toBe(leafName(snap.value));
      }
    },
  );

  test.prop([fc.array(blockEvent, { maxLength: 30 })], { numRuns: 300 })(
    'the memory block table (with its named actions) agrees with xstate transition() on random event sequences',
    (events) => {
      let [snap] = initialTransition(memoryBlockMachine, { zone: null }) as [AnyMachineSnapshot, unknown];
      let state: BlockMachineState = { state: 'offline', zone: null };
      for (const ev of events) {
        [snap] = transition(memoryBlockMachine, snap as never, ev) as [AnyMachineSnapshot, unknown];
        state = stepMemoryBlock(state, ev) ?? state;
        expect(state.state).toBe(snap.value);
        expect(state.zone).toBe((snap.context as { zone: unknown }).zone);
      }
    },
  );
});
