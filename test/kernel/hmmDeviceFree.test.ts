/**
 * hmm-device-free judges a device's free stack by the nodes a step pushed
 * and popped, against an index of the stack before (properties/invariants/
 * hmmDevice.ts), instead of walking the whole stack: here it must say what
 * the whole walk says, message for message and in the same order, on the
 * recorded migration log and on stacks broken by hand.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contextOf, invariantByName } from '../../properties/invariants/index.js';
import type { DevicePage, DmirrorDevice, FreeStack } from '../../src/kernel/hmm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { stepOf } from '../helpers/steps.js';

const inv = invariantByName('hmm-device-free');
if (inv === undefined) throw new Error('no hmm-device-free');
const free = inv;

const file = new URL('../traces-custom/hmm/dmirror-migrate.jsonl', import.meta.url);
const log = replay(
  parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event),
  {},
);
function at(seq: number): KernelState {
  const s = log.steps.find((x) => x.seq === seq)?.after;
  if (s === undefined) throw new Error(`no step ${seq}`);
  return s;
}

/** The incremental verdict on before → after, the stack before indexed as the check of the step that made it leaves it. */
function incremental(before: KernelState, after: KernelState): readonly string[] {
  free.check(contextOf(stepOf(null, before), false));
  return free.check(contextOf(stepOf(before, after), false));
}
/** The whole walk's verdict (`paranoid`). */
function whole(before: KernelState, after: KernelState): readonly string[] {
  return free.check(contextOf(stepOf(before, after), true));
}

function stackOf(s: KernelState): number[] {
  const out: number[] = [];
  for (let x: FreeStack = (s.hmm.devices[0] as DmirrorDevice).free; x !== null; x = x.next) out.push(x.pfn);
  return out;
}
function nodeAt(s: KernelState, k: number): FreeStack {
  let x: FreeStack = (s.hmm.devices[0] as DmirrorDevice).free;
  for (let i = 0; i < k && x !== null; i++) x = x.next;
  return x;
}
/** `s` with device 0's stack `free` (and `pages` when given). */
function withStack(s: KernelState, free: FreeStack, pages = s.hmm.pages): KernelState {
  const devices = s.hmm.devices.slice();
  devices[0] = { ...(devices[0] as DmirrorDevice), free };
  return { ...s, hmm: { ...s.hmm, devices, pages } };
}
/** A device page record with a backing page of its own (a shared one is a message of its own under `paranoid`). */
const record = (rpage: number): DevicePage => ({ device: 0, rpage, dmirror: 0, maps: 1 });

describe('hmm-device-free, incremental against the whole walk', () => {
  it('agrees on every step of dmirror-migrate (pages pushed at the fault and MIGRATE_TO_SYS, popped by MIGRATE_TO_DEV)', () => {
    for (let i = 1; i < log.steps.length; i++) {
      const s = log.steps[i];
      const prev = log.steps[i - 1];
      if (s === undefined || prev === undefined) continue;
      expect(incremental(prev.after, s.after)).toEqual(whole(prev.after, s.after));
      expect(incremental(prev.after, s.after)).toEqual([]);
    }
  });

  const s33 = at(33); // 8 pages on the stack, none allocated
  const s28 = at(28); // 4 on the stack, 4 allocated
  const stack = stackOf(s33);
  const allocated = [...s28.hmm.pages.entries()].map(([pfn]) => pfn);

  it('a page pushed again, over the old stack or over the pushed ones', () => {
    const again = withStack(s33, { pfn: stack[5] as number, next: nodeAt(s33, 0) });
    expect(incremental(s33, again)).toEqual(whole(s33, again));
    expect(incremental(s33, again).join()).toMatch(/is on the free stack twice/);
    // Two popped, then one of the tail pushed; and a page pushed twice in one step.
    const popPush = withStack(s33, { pfn: stack[4] as number, next: nodeAt(s33, 2) });
    expect(incremental(s33, popPush)).toEqual(whole(s33, popPush));
    expect(incremental(s33, popPush)).toHaveLength(1);
    const twice = withStack(s33, { pfn: 0x42, next: { pfn: 0x42, next: nodeAt(s33, 0) } });
    expect(incremental(s33, twice)).toEqual(whole(s33, twice));
  });

  it('an allocated page pushed, an old page allocated under the stack, a page of no chunk: in the walk order', () => {
    const pushedAllocated = withStack(s28, { pfn: allocated[1] as number, next: nodeAt(s28, 0) });
    expect(incremental(s28, pushedAllocated)).toEqual(whole(s28, pushedAllocated));
    expect(incremental(s28, pushedAllocated).join()).toMatch(/is free and allocated/);
    // The top popped (a legitimate allocation of it) while two pages deeper down get allocated too, the deeper
    // one with the higher pfn (the walk's order is not the pfns' order).
    expect(stack[3]).toBeGreaterThan(stack[5] as number);
    const pages = s33.hmm.pages
      .set(stack[0] as number, record(1))
      .set(stack[5] as number, record(2))
      .set(stack[3] as number, record(3));
    const tail = withStack(s33, nodeAt(s33, 1), pages);
    expect(incremental(s33, tail)).toEqual(whole(s33, tail));
    expect(incremental(s33, tail)).toHaveLength(2);
    const outside = withStack(s33, { pfn: 7, next: { pfn: stack[6] as number, next: nodeAt(s33, 1) } });
    expect(incremental(s33, outside)).toEqual(whole(s33, outside));
    expect(incremental(s33, outside).join()).toMatch(/lies in none of its chunks.*on the free stack twice/);
  });

  it('a broken stack is reported again at the next change of the device, as the whole walk does', () => {
    const broken = withStack(s33, { pfn: stack[2] as number, next: nodeAt(s33, 0) });
    expect(incremental(s33, broken)).toHaveLength(1);
    const next = withStack(broken, { pfn: 0x43, next: (broken.hmm.devices[0] as DmirrorDevice).free });
    // No priming: the stack before is the broken one the last check saw.
    expect(free.check(contextOf(stepOf(broken, next), false))).toEqual(whole(broken, next));
    expect(free.check(contextOf(stepOf(broken, next), false)).join()).toMatch(/is on the free stack twice/);
  });
});
