/**
 * The copies a program step makes without reading a Partial (withMmState,
 * withMem, withProcs, withFiles, withPtes, withFaulted) against the general
 * copies they stand for (withState, withMm, withVma, withProcess), on the
 * states, processes and vmas of a real mapping sequence: the same fields,
 * the same values, nothing else.
 */
import { describe, expect, it } from 'vitest';
import { withMmState, withState } from '../../src/kernel/state.js';
import { withFaulted, withFiles, withMem, withMm, withProcess, withProcs, withPtes, withVma, type Vma } from '../../src/kernel/mm/types.js';
import { runChecked } from '../helpers/machine.js';
import { hmem, mmap, open, poke } from '../helpers/devdax.js';

const run = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '4M'), poke('p1', 'm1', '0x200008', '0x5'));
const s = run.final;
const p = s.mm.procs.get('p1');

function sameKeysAndValues(a: object, b: object): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(b)) expect((a as Record<string, unknown>)[k]).toBe((b as Record<string, unknown>)[k]);
}

describe('the copies a program step makes', () => {
  it('ran the sequence: a process with a faulted device-dax vma and a stored word', () => {
    expect(run.results).toEqual(['ok', expect.stringMatching(/^0x/), 'ok']);
    expect(p?.vmas.some((v) => v.file !== null && v.ptes.size === 1)).toBe(true);
    expect(s.mm.mem.size).toBe(1);
  });

  it('withMmState is withState with mm replaced', () => {
    const mm = withMm(s.mm, {});
    sameKeysAndValues(withMmState(s, mm), withState(s, { mm }));
  });

  it('withMem, withProcs and withFiles are withMm with those fields replaced', () => {
    const mem = s.mm.mem.set(99, 1n);
    sameKeysAndValues(withMem(s.mm, mem), withMm(s.mm, { mem }));
    const procs = new Map(s.mm.procs);
    sameKeysAndValues(withProcs(s.mm, procs), withMm(s.mm, { procs }));
    const files = new Map(s.mm.files);
    sameKeysAndValues(withFiles(s.mm, files, 7), withMm(s.mm, { files, nextFile: 7 }));
  });

  it('withPtes is withVma with the entries replaced, for vmas with and without a name', () => {
    const vmas = p?.vmas ?? [];
    expect(vmas.some((v) => v.name !== undefined)).toBe(true);
    expect(vmas.some((v) => v.name === undefined)).toBe(true);
    for (const v of vmas) {
      const ptes = v.ptes.emptyLike();
      sameKeysAndValues(withPtes(v, ptes), withVma(v, { ptes }));
    }
  });

  it('withFaulted is withProcess with the vmas and both table maps replaced', () => {
    if (p === undefined) throw new Error('no p1');
    const vmas: readonly Vma[] = p.vmas.slice();
    const pte = p.pteTables.set(1, true);
    const pmd = p.pmdTables.set(2, true);
    sameKeysAndValues(withFaulted(p, vmas, pte, pmd), withProcess(p, { vmas, pteTables: pte, pmdTables: pmd }));
  });
});
