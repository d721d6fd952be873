/**
 * /proc/PID/smaps renders a vma's block once and reuses it while the vma,
 * its file's path, its page size and the profile are the same. What can
 * change under an unchanged vma object must show at the next read: a
 * device's align changed between an unbind and a rebind (the vma had no
 * entry to zap, so it is the same object), and a fault (a new vma object).
 */
import { describe, expect, it } from 'vitest';
import { read, runChecked } from '../helpers/machine.js';
import { align, bind, hmem, mmap, open, smapsField, touch, unbind } from '../helpers/devdax.js';

describe('smaps blocks kept per vma', () => {
  it('shows a new align after unbind, align write and rebind under the same, never faulted vma', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '4M'), read('/proc/p1/smaps'), unbind, align('4096'), bind, read('/proc/p1/smaps'), touch('p1', 'm1'), read('/proc/p1/smaps'));
    expect(smapsField(r.results[2] ?? '', 'KernelPageSize')).toEqual(['2048 kB']);
    expect(smapsField(r.results[6] ?? '', 'KernelPageSize')).toEqual(['4 kB']);
    // The vma the unbind found without entries is the one read before and after: the cache saw the same object.
    const vmaBefore = r.steps[2]?.after.mm.procs.get('p1')?.vmas.find((v) => v.file !== null);
    const vmaAfter = r.steps[6]?.after.mm.procs.get('p1')?.vmas.find((v) => v.file !== null);
    expect(vmaAfter).toBe(vmaBefore);
    // A 4K fault adds no Rss (smaps counts PMD units only) but leaves a new vma object: re-rendered, same text here.
    expect(r.results[7]).toBe('0x0');
    expect(smapsField(r.results[8] ?? '', 'KernelPageSize')).toEqual(['4 kB']);
  });
});
