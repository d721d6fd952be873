/**
 * The checker keeps one StepMemo for all its steps: reset must leave no
 * value of one step for the next, or an invariant would judge the next
 * step by what the last one changed.
 */
import { describe, expect, it } from 'vitest';
import { MemoKey, StepMemo } from '../../properties/invariants/types.js';
import { runChecked } from '../helpers/machine.js';
import { hmem, mmap, open, poke, touch } from '../helpers/devdax.js';

describe('StepMemo', () => {
  it('forgets every slot at reset, and takes new ones after', () => {
    const a = new MemoKey<number>('a');
    const b = new MemoKey<string>('b');
    const m = new StepMemo();
    m.set(a, 1);
    m.set(b, 'x');
    expect(m.reset()).toBe(m);
    expect(m.has(a)).toBe(false);
    expect(m.get(b)).toBeUndefined();
    m.set(b, 'y');
    expect(m.get(b)).toBe('y');
    expect(m.get(a)).toBeUndefined();
  });

  it('one checker judges each step by its own changes: a broken entry after a fine fault is still reported', () => {
    // B3 (MAP_FIXED at a 2M-aligned address with a 4K offset): the fault through m1 installs a misaligned PMD,
    // right after a fine fault through m0 whose judged entries the memo held.
    const r = runChecked(
      hmem(),
      open('p1', 'f1'),
      mmap('p1', 'm0', 'f1', '4M'),
      poke('p1', 'm0', '0', '0x1'),
      mmap('p1', 'm1', 'f1', '2M', { offset: '4096', flags: ['shared', 'fixed'], addr: { map: 'm0', offset: '0x200000' } }),
      touch('p1', 'm1'),
    );
    expect(r.violations).toEqual(['dax-translation@__dev_dax_pmd_fault']);
  });
});
