/**
 * withFileRefs (get_file / fput on a struct file) against the spread it
 * replaces: the same file with another count, for a file with and without
 * the optional fields; and the optional fields it tests for are all
 * OpenFile has (a new optional field must be added to its test).
 */
import { describe, expect, it } from 'vitest';
import { OPEN_FILE_KEYS, withFileRefs, type OpenFile } from '../../src/kernel/mm/types.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';

const dax: OpenFile = { driver: 'dax', path: '/dev/dax0.0', dev: 'dax0.0', mode: 'rdwr', sync: false, private: true, gen: 2, refs: 3 };

describe('withFileRefs', () => {
  it('is the spread with another count, for a file with no optional field', () => {
    const f = withFileRefs(dax, 4);
    expect(f).toEqual({ ...dax, refs: 4 });
    expect(Object.keys(f).sort()).toEqual(Object.keys(dax).sort());
    expect(dax.refs).toBe(3);
  });

  it('keeps the optional fields of a file that has them', () => {
    const mirror = WideIntMap.empty<{ readonly phys: bigint; readonly tag: 'read' }>().set(5, { phys: 0x1000n, tag: 'read' });
    const dmirror: OpenFile = { ...dax, driver: 'dmirror', path: '/dev/hmm_dmirror0', mm: 1, mirror };
    expect(withFileRefs(dmirror, 1)).toEqual({ ...dmirror, refs: 1 });
    const unbound: OpenFile = { ...dax, driver: 'dmirror', mm: null };
    expect(withFileRefs(unbound, 2)).toEqual({ ...unbound, refs: 2 });
  });

  it('tests for every optional field OpenFile has', () => {
    const optional = Object.entries(OPEN_FILE_KEYS).filter(([, v]) => v === 'optional').map(([k]) => k);
    expect(optional.sort()).toEqual(['mirror', 'mm']);
  });
});
