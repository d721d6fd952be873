/**
 * /proc/PID/smaps renders a vma's block once and reuses it while the vma,
 * its file's path, its page size and the profile are the same. What can
 * change under an unchanged vma object must show at the next read: a
 * device's align changed between an unbind and a rebind (the vma had no
 * entry to zap, so it is the same object), and a fault (a new vma object).
 */
import { describe, expect, it } from 'vitest';
import { boot, read, region, runChecked, write } from '../helpers/machine.js';

const DAX = '/sys/bus/dax';
const machine = boot({ kernel: '6.1', daxRegions: [region('hmem', 0, '0x180000000', '1G', { driver: 'device_dax', align: '2M' })] });

function field(text: string, name: string): string[] {
  // The program's mapping is the vma of /dev/dax0.0.
  const block = text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).find((b) => b.includes('/dev/dax0.0')) ?? '';
  return block
    .split('\n')
    .filter((l) => l.startsWith(`${name}:`))
    .map((l) => l.replace(/\s+/g, ' '));
}

describe('smaps blocks kept per vma', () => {
  it('shows a new align after unbind, align write and rebind under the same, never faulted vma', () => {
    const r = runChecked(
      machine,
      { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', flags: 'rdwr' },
      { type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: '4M', offset: '0', prot: 'rw', flags: ['shared'] },
      read('/proc/p1/smaps'),
      write(`${DAX}/drivers/device_dax/unbind`, 'dax0.0'),
      write(`${DAX}/devices/dax0.0/align`, '4096'),
      write(`${DAX}/drivers/device_dax/bind`, 'dax0.0'),
      read('/proc/p1/smaps'),
      { type: 'access', pid: 'p1', map: 'm1', offset: '0', op: 'read' },
      read('/proc/p1/smaps'),
    );
    const before = r.results[2] ?? '';
    const after = r.results[6] ?? '';
    expect(field(before, 'KernelPageSize')).toEqual(['KernelPageSize: 2048 kB']);
    expect(field(after, 'KernelPageSize')).toEqual(['KernelPageSize: 4 kB']);
    // The vma the unbind found without entries is the one read before and after: the cache saw the same object.
    const vmaBefore = r.steps[2]?.after.mm.procs.get('p1')?.vmas.find((v) => v.file !== null);
    const vmaAfter = r.steps[6]?.after.mm.procs.get('p1')?.vmas.find((v) => v.file !== null);
    expect(vmaAfter).toBe(vmaBefore);
    // A 4K fault adds no Rss (smaps counts PMD units only) but leaves a new vma object: re-rendered, same text here.
    expect(r.results[7]).toBe('0x0');
    expect(field(r.results[8] ?? '', 'KernelPageSize')).toEqual(['KernelPageSize: 4 kB']);
  });
});
