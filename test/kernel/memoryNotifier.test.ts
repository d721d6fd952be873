/**
 * The memory notifier chain (drivers/base/memory.c memory_notify and
 * register_memory_notifier, 6.1) as online_pages and offline_pages
 * (mm/memory_hotplug.c) call it: the order of the actions, what a veto does,
 * and the NOTIFY_* errno encoding (include/linux/notifier.h).
 *
 * Machine: RAM [0, 2G) and [4G, 6G) on node 0, and a 1 GiB hmem region at
 * 6G that kmem adds at boot as blocks 48-55, offline (dax0.0 in phase kmem).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ERRNO_NAMES } from '../../src/kernel/errno.js';
import {
  memoryNotifierNames,
  NOTIFY_BAD,
  NOTIFY_DONE,
  NOTIFY_OK,
  NOTIFY_STOP,
  notifierFromErrno,
  notifierToErrno,
  registerMemoryNotifier,
  unregisterMemoryNotifier,
  type MemoryAction,
  type MemoryNotifierCall,
} from '../../src/kernel/memoryNotifier.js';
import type { Op } from '../../src/kernel/op.js';
import { blockFile, boot, read, region, run, write, type Json } from '../helpers/machine.js';

const machine = boot({ daxRegions: [region('hmem', 0, '0x180000000', '1G')] }, { memoryHotremove: true });
const state48 = blockFile(48, 'state');
const zones48 = blockFile(48, 'valid_zones');
/** Block 48 of 128 MiB blocks (32,768 pages each). */
const PFN48 = 48 * 32768;
const inject = (site: string, errno: string): Json => ({ type: 'inject', site, errno, nth: 1 });

/** What a subscriber saw: the action, its range, block 48's state and dax0.0's phase at that moment. */
interface Seen {
  readonly action: MemoryAction;
  readonly startPfn: number;
  readonly nrPages: number;
  readonly block: string | undefined;
  readonly phase: string | undefined;
}

const registered: string[] = [];
afterEach(() => {
  for (const name of registered.splice(0)) unregisterMemoryNotifier(name);
});

/** Register `name` for this test; `answer` decides its return value (NOTIFY_OK by default). */
function subscribe(name: string, answer: (action: MemoryAction) => number = () => NOTIFY_OK): Seen[] {
  const seen: Seen[] = [];
  const call: MemoryNotifierCall = (op: Op, action, arg) => {
    seen.push({
      action,
      startPfn: arg.startPfn,
      nrPages: arg.nrPages,
      block: op.state.blocks.get(48)?.state,
      phase: op.state.devices.find((d) => d.name === 'dax0.0')?.phase,
    });
    return answer(action);
  };
  registerMemoryNotifier(name, call);
  registered.push(name);
  return seen;
}

const actions = (seen: readonly Seen[]): MemoryAction[] => seen.map((s) => s.action);

describe('register_memory_notifier', () => {
  it('keeps subscribers in registration order after kmem, which registers when its module loads; a name twice is a model bug', () => {
    subscribe('test-a');
    subscribe('test-b');
    expect(memoryNotifierNames()).toEqual(['kmem', 'kmem-persist', 'test-a', 'test-b']);
    expect(() => registerMemoryNotifier('test-a', () => NOTIFY_OK)).toThrow(/already registered/);
    unregisterMemoryNotifier('test-a');
    registered.splice(registered.indexOf('test-a'), 1);
    expect(memoryNotifierNames()).toEqual(['kmem', 'kmem-persist', 'test-b']);
  });
});

describe('memory_notify from online_pages and offline_pages', () => {
  it('online_pages sends MEM_GOING_ONLINE then MEM_ONLINE, offline_pages MEM_GOING_OFFLINE then MEM_OFFLINE; memory_block_change_state lands the state after each', () => {
    const seen = subscribe('test-recorder');
    const r = run(machine, write(state48, 'online_movable'), read(state48), write(state48, 'offline'), read(state48));
    expect(r.results).toEqual(['ok', 'online\n', 'ok', 'offline\n']);
    expect(seen).toEqual([
      // mem->state is still MEM_OFFLINE during online_pages; kmem, earlier in the chain, has already moved dax0.0 at MEM_ONLINE.
      { action: 'MEM_GOING_ONLINE', startPfn: PFN48, nrPages: 32768, block: 'offline', phase: 'kmem' },
      { action: 'MEM_ONLINE', startPfn: PFN48, nrPages: 32768, block: 'offline', phase: 'online' },
      // memory_block_change_state set MEM_GOING_OFFLINE before memory_block_offline ran.
      { action: 'MEM_GOING_OFFLINE', startPfn: PFN48, nrPages: 32768, block: 'going-offline', phase: 'online' },
      { action: 'MEM_OFFLINE', startPfn: PFN48, nrPages: 32768, block: 'going-offline', phase: 'online' },
    ]);
  });

  it('NOTIFY_BAD at MEM_GOING_ONLINE fails online_pages with -EPERM (notifier_to_errno), sends MEM_CANCEL_ONLINE to the whole chain and leaves the block offline as it was', () => {
    const vetoer = subscribe('test-vetoer', (a) => (a === 'MEM_GOING_ONLINE' ? NOTIFY_BAD : NOTIFY_OK));
    const after = subscribe('test-after');
    const r = run(machine, read(zones48), write(state48, 'online_movable'), read(state48), read(zones48));
    expect(r.results).toEqual(['Normal Movable\n', 'EPERM', 'offline\n', 'Normal Movable\n']);
    expect(actions(vetoer)).toEqual(['MEM_GOING_ONLINE', 'MEM_CANCEL_ONLINE']);
    // NOTIFY_STOP_MASK ends the MEM_GOING_ONLINE call chain; MEM_CANCEL_ONLINE goes to every subscriber.
    expect(actions(after)).toEqual(['MEM_CANCEL_ONLINE']);
    const step = r.steps[1];
    if (step?.before == null) throw new Error('no step');
    expect(step.after.blocks.get(48)).toBe(step.before.blocks.get(48));
    expect(step.after.zoneSpans).toEqual(step.before.zoneSpans);
    expect(step.after.presentPages).toBe(step.before.presentPages);
    expect(step.after.devices).toEqual(step.before.devices);
    expect(step.branches).toContain('online_pages:EPERM');
  });

  it('a subscriber answering notifier_from_errno(-EBUSY) fails the online with -EBUSY', () => {
    subscribe('test-busy', (a) => (a === 'MEM_GOING_ONLINE' ? notifierFromErrno('EBUSY') : NOTIFY_DONE));
    const r = run(machine, write(blockFile(48, 'online'), '1'), read(state48));
    expect(r.results).toEqual(['EBUSY', 'offline\n']);
  });

  it('NOTIFY_BAD at MEM_GOING_OFFLINE fails offline_pages with -EPERM and MEM_CANCEL_OFFLINE; the block lands online again', () => {
    const seen = subscribe('test-vetoer', (a) => (a === 'MEM_GOING_OFFLINE' ? NOTIFY_BAD : NOTIFY_OK));
    const r = run(machine, write(state48, 'online_movable'), write(state48, 'offline'), read(state48), read(zones48));
    expect(r.results).toEqual(['ok', 'EPERM', 'online\n', 'Movable\n']);
    expect(actions(seen)).toEqual(['MEM_GOING_ONLINE', 'MEM_ONLINE', 'MEM_GOING_OFFLINE', 'MEM_CANCEL_OFFLINE']);
  });

  it('an injected online_pages or offline_pages fault is a veto after the modelled subscribers: they see the going and the cancel', () => {
    const seen = subscribe('test-recorder');
    const r = run(
      machine,
      inject('online_pages', 'ENOMEM'),
      write(state48, 'online_movable'),
      write(state48, 'online_movable'),
      inject('offline_pages', 'EINTR'),
      write(state48, 'offline'),
      read(state48),
    );
    expect(r.results).toEqual(['ok', 'ENOMEM', 'ok', 'ok', 'EINTR', 'online\n']);
    expect(actions(seen)).toEqual(['MEM_GOING_ONLINE', 'MEM_CANCEL_ONLINE', 'MEM_GOING_ONLINE', 'MEM_ONLINE', 'MEM_GOING_OFFLINE', 'MEM_CANCEL_OFFLINE']);
  });

  it('nothing is sent when offline_pages fails before isolating the range (no CONFIG_MEMORY_HOTREMOVE)', () => {
    const seen = subscribe('test-recorder');
    const r = run(boot({ daxRegions: [region('hmem', 0, '0x180000000', '1G')] }), write(state48, 'online'), write(state48, 'offline'), read(state48));
    expect(r.results).toEqual(['ok', 'EINVAL', 'online\n']);
    expect(actions(seen)).toEqual(['MEM_GOING_ONLINE', 'MEM_ONLINE']);
  });
});

describe('notifier_from_errno / notifier_to_errno', () => {
  it('NOTIFY_BAD is -EPERM; NOTIFY_DONE, NOTIFY_OK and NOTIFY_STOP are 0; every errno goes there and back', () => {
    expect(NOTIFY_BAD).toBe(0x8002);
    expect(notifierToErrno(NOTIFY_BAD)).toBe('EPERM');
    expect([NOTIFY_DONE, NOTIFY_OK, NOTIFY_STOP].map(notifierToErrno)).toEqual([null, null, null]);
    expect(notifierFromErrno(null)).toBe(NOTIFY_OK);
    for (const e of ERRNO_NAMES) expect(notifierToErrno(notifierFromErrno(e))).toBe(e);
  });
});
