/**
 * The device-dax mapping mirrors (src/kernel/dax/deviceFops.ts, src/kernel/mm/)
 * on the harness's hmem machine shape: a 1 GiB dynamic region on node 0 whose
 * device is bound to device_dax at boot, under the 6.1 profile. Each test names
 * the kernel function whose rule it pins; the expectations marked [obs] are what
 * the real 6.1 kernel did (KERNEL-FACTS-DEVDAX §1).
 */
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { boot, firstProgramVma, read, runChecked, write, type Json } from '../helpers/machine.js';
import { align, bind, close, DAX, hmem, mmap, open, poke, smapsField, touch, unbind } from '../helpers/devdax.js';
import { programVmas } from '../../src/kernel/mm/process.js';
import { memmapRows } from '../../src/views/memmap.js';

const range = (type: string, pid: string, map: string, offset: string, length: string, extra: Json = {}): Json => ({ type, pid, map, offset, length, ...extra });

describe('dax_mmap, check_vma and do_mmap (drivers/dax/device.c, mm/mmap.c)', () => {
  it('a shared, align-multiple mapping succeeds where dax_get_unmapped_area puts it: len + align below [vvar], moved up to the offset modulo align [obs]', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'));
    // 0x7ffff7ff9000 - 4 MiB = 0x7ffff7bf9000, up to the next 2 MiB boundary (offset 0).
    expect(r.results[1]).toBe('0x7ffff7c00000');
  });

  it('check_vma: a private mapping and an unaligned length are EINVAL; do_mmap: PROT_WRITE on O_RDONLY and any map of O_WRONLY are EACCES [obs]', () => {
    const r = runChecked(
      hmem(),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M', { flags: ['private'] }),
      mmap('p1', 'm2', 'f1', '4K'),
      mmap('p1', 'm3', 'f1', '3M'),
      open('p1', 'ro', 'rdonly'),
      mmap('p1', 'm4', 'ro', '2M'),
      mmap('p1', 'm5', 'ro', '2M', { prot: 'r' }),
      open('p1', 'wo', 'wronly'),
      mmap('p1', 'm6', 'wo', '2M', { prot: 'r' }),
      mmap('p1', 'm7', 'f1', '2M', { flags: ['validate', 'sync'] }),
      mmap('p1', 'm8', 'f1', '2M', { flags: ['private', 'sync'] }),
    );
    expect(r.results.map((x) => (x.startsWith('0x') ? 'addr' : x))).toEqual(['ok', 'EINVAL', 'EINVAL', 'EINVAL', 'ok', 'EACCES', 'addr', 'ok', 'EACCES', 'addr', 'EINVAL']);
    expect(r.violations).toEqual([]);
  });

  it('chrdev_open: /dev/dax0.0 opens only while device_dax is bound (ENXIO unbound), and an unknown node is ENOENT [obs]', () => {
    const r = runChecked(hmem(), unbind, open('p1', 'f1'), bind, open('p1', 'f2'), { type: 'open', pid: 'p1', fd: 'f3', path: '/dev/dax7.7', flags: 'rdwr' });
    expect(r.results).toEqual(['ok', 'ENXIO', 'ok', 'ok', 'ENOENT']);
  });
});

describe('dev_dax_huge_fault and its handlers (drivers/dax/device.c): faults at exactly the align', () => {
  it.each([
    ['4K', 'pte', '0 kB'],
    ['2M', 'pmd', '2048 kB'],
    ['1G', 'pud', '0 kB'],
  ])('align %s: served by the %s handler; smaps reports the page size, Rss as 6.1 counts it [obs]', (a, level, rss) => {
    const len = a === '1G' ? '1G' : '2M';
    const r = runChecked(hmem({ align: a }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', len), poke('p1', 'm1', '0x10', '0xabc'), touch('p1', 'm1', '0x10'), read('/proc/p1/smaps'));
    expect(r.results.slice(2, 4)).toEqual(['ok', '0xabc']);
    const vma = firstProgramVma(r.final, 'p1');
    expect([...(vma?.ptes.entries() ?? [])].map(([, p]) => p.level)).toEqual([level]);
    const smaps = r.results[4] as string;
    const kb = { '4K': '4 kB', '2M': '2048 kB', '1G': '1048576 kB' }[a];
    expect(smapsField(smaps, 'KernelPageSize')).toEqual([kb]);
    expect(smapsField(smaps, 'MMUPageSize')).toEqual([kb]);
    expect(smapsField(smaps, 'Rss')).toEqual([rss]);
    expect(r.violations).toEqual([]);
  });

  it('MADV_NOHUGEPAGE leaves only the PTE handler, which refuses align 2M (SIGBUS); MADV_HUGEPAGE serves again [obs]', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('madvise', 'p1', 'm1', '0', '2M', { advice: 'nohugepage' }), touch('p1', 'm1'), range('madvise', 'p1', 'm1', '0', '2M', { advice: 'hugepage' }), touch('p1', 'm1'));
    expect(r.results.slice(2)).toEqual(['ok', 'SIGBUS/BUS_ADRERR', 'ok', '0x0']);
  });

  it('dax_pgoff_to_phys: a mapping at the device size maps, its first touch is SIGBUS; a 4M mapping at 1022M serves its first 2M only [obs]', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M', { offset: '1G' }), touch('p1', 'm1'), mmap('p1', 'm2', 'f1', '4M', { offset: '1022M' }), touch('p1', 'm2'), touch('p1', 'm2', '2M'));
    expect(r.results.slice(2).map((x) => (x.startsWith('0x') && x.length > 5 ? 'addr' : x))).toEqual(['SIGBUS/BUS_ADRERR', 'addr', '0x0', 'SIGBUS/BUS_ADRERR']);
  });

  it('dax_pgoff_to_phys across ranges: a 4K-aligned mapping over both ranges of a two-range device writes each word to its own range [obs]', () => {
    const r = runChecked(
      hmem({ align: '4K', twoRanges: true }),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '1G'),
      poke('p1', 'm1', '0x1ffffff8', '0x11'),
      poke('p1', 'm1', '0x20000000', '0x22'),
      mmap('p1', 'm2', 'f1', '4K', { offset: '512M' }),
      touch('p1', 'm2'),
    );
    expect(r.results[5]).toBe('0x22');
    // The second range starts at 0x1c0000000: the word written at 512M of the file lives there.
    expect(r.final.mm.mem.get(Number(0x1c0000000n >> 3n))).toBe(0x22n);
    expect(r.final.mm.mem.get(Number((0x180000000n + (512n << 20n) - 8n) >> 3n))).toBe(0x11n);
  });
});

describe('unbind and rebind with live mappings (kill_dev_dax, dev_dax_probe)', () => {
  it('unbind zaps every entry: a touch is SIGBUS, an mmap on the old fd ENXIO; a rebind revives the vma with its data [obs]', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), poke('p1', 'm1', '0', '0x5a'), unbind, touch('p1', 'm1'), mmap('p1', 'm2', 'f1', '2M'), bind, touch('p1', 'm1'));
    expect(r.results.slice(2).map((x) => (x.startsWith('0x7') ? 'addr' : x))).toEqual(['ok', 'ok', 'SIGBUS/BUS_ADRERR', 'ENXIO', 'ok', '0x5a']);
    expect(firstProgramVma(r.steps[3]?.after, 'p1')?.ptes.size).toBe(0);
  });

  it('an align change between unbind and rebind leaves the old 4K-aligned vma failing check_vma in the fault (SIGBUS) [obs]', () => {
    const r = runChecked(hmem({ align: '4K' }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), touch('p1', 'm1'), unbind, align('2097152'), bind, touch('p1', 'm1'));
    expect(r.results.slice(2)).toEqual(['0x0', 'ok', 'ok', 'ok', 'SIGBUS/BUS_ADRERR']);
  });
});

describe('dev_dax_may_split (__split_vma) and move_vma', () => {
  it('munmap and mprotect split only at multiples of the align [obs]', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '4M'), range('munmap', 'p1', 'm1', '4K', '4K'), range('mprotect', 'p1', 'm1', '4K', '4K', { prot: 'r' }), range('mprotect', 'p1', 'm1', '0', '2M', { prot: 'r' }), range('munmap', 'p1', 'm1', '2M', '2M'), poke('p1', 'm1', '0', '1'), touch('p1', 'm1', '2M'));
    expect(r.results.slice(2)).toEqual(['EINVAL', 'EINVAL', 'ok', 'ok', 'SIGSEGV/SEGV_ACCERR', 'SIGSEGV/SEGV_MAPERR']);
    expect(r.violations).toEqual([]);
  });

  it(`move_vma asks may_split since v5.11 (mremapChecksMaySplit): a partial mremap is EINVAL on 6.1, moves on 5.1 leaving an unaligned vma (finding H1)`, () => {
    const log = (kernel: string) => runChecked(hmem({ kernel }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('mremap', 'p1', 'm1', '4K', '4K', { newLength: '8K', flags: ['maymove'] }));
    expect(log('6.1').results[2]).toBe('EINVAL');
    const old = log('5.1');
    expect(old.results[2]).toMatch(/^0x/);
    expect(old.violations).toEqual(['dax-vma-shape@move_vma']);
  });

  it('mremap grows a vma in place without asking the driver: an unaligned end makes every fault in it SIGBUS (check_vma)', () => {
    const r = runChecked(hmem(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('mremap', 'p1', 'm1', '0', '2M', { newLength: '3M' }), touch('p1', 'm1'));
    expect(r.results.slice(3)).toEqual(['SIGBUS/BUS_ADRERR']);
    expect(r.violations).toEqual([]);
  });
});

describe('fork, exit and get_user_pages', () => {
  it('a forked child sees the shared mapping without inheriting its entries (vma_needs_copy); /proc/self/mem reads through GUP [obs]', () => {
    const r = runChecked(
      hmem(),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M'),
      poke('p1', 'm1', '8', '0x77'),
      { type: 'fork', pid: 'p1', child: 'p2' },
      read('/proc/p2/smaps'),
      touch('p2', 'm1', '8'),
      { type: 'procmem', pid: 'p1', map: 'm1', offset: '8', op: 'read' },
      { type: 'exit', pid: 'p2' },
      read('/proc/p2/smaps'),
    );
    expect(smapsField(r.results[4] as string, 'Rss')).toEqual(['0 kB']);
    expect(r.results.slice(5)).toEqual(['0x77', '0x77', 'ok', 'ENOENT']);
  });

  it('mem_rw: FOLL_FORCE reads PROT_NONE but cannot write a read-only shared vma (EIO); nothing mapped is EIO', () => {
    const r = runChecked(
      hmem(),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M', { prot: 'none' }),
      { type: 'procmem', pid: 'p1', map: 'm1', offset: '0', op: 'read' },
      { type: 'procmem', pid: 'p1', map: 'm1', offset: '0', op: 'write', value: '0x1' },
      touch('p1', 'm1'),
      { type: 'procmem', pid: 'p1', map: 'm9', offset: '0', op: 'read' },
    );
    expect(r.results.slice(2)).toEqual(['0x0', 'EIO', 'SIGSEGV/SEGV_ACCERR', 'EIO']);
  });
});

describe('findings on 6.1 and their fix patches (SPEC §11)', () => {
  it('B1: an open held across unbind lets a new open succeed with a NULL dev_dax and mmap oops in check_vma; dax-cdev-init-once refuses it', () => {
    const events = [open('p1', 'f1'), unbind, open('p1', 'f2'), mmap('p1', 'm1', 'f2', '2M'), touch('p1', 'm1')];
    const bad = runChecked(hmem(), ...events);
    expect(bad.results.slice(0, 4)).toEqual(['ok', 'ok', 'ok', 'oops']);
    // The machine is dead after the oops: replay stops there.
    expect(bad.results).toHaveLength(4);
    expect(bad.violations).toEqual(['dax-cdev@chrdev_open', 'no-oops@check_vma']);
    const fixed = runChecked(hmem({ patches: ['dax-cdev-init-once'] }), ...events);
    expect(fixed.results).toEqual(['ok', 'ok', 'ENXIO', 'EBADF', 'SIGSEGV/SEGV_MAPERR']);
    expect(fixed.violations).toEqual([]);
  });

  it('B1: closing a file of an earlier bind after the rebind makes every open ENXIO until the next bind; not with the fix', () => {
    const events = [open('p1', 'f1'), unbind, bind, close('p1', 'f1'), open('p1', 'f2'), unbind, bind, open('p1', 'f3')];
    const bad = runChecked(hmem(), ...events);
    expect(bad.results).toEqual(['ok', 'ok', 'ok', 'ok', 'ENXIO', 'ok', 'ok', 'ok']);
    expect(bad.violations).toEqual(['dax-cdev@cdev_put']);
    expect(bad.steps[5]?.outcome.log).toEqual(['refcount_t: underflow; use-after-free.']);
    const fixed = runChecked(hmem({ patches: ['dax-cdev-init-once'] }), ...events);
    expect(fixed.results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(fixed.violations).toEqual([]);
  });

  it('B2: mapping_store accepts a range while bound (6.1); a fault in it oopses in dax_set_mapping; dax-mapping-store-checks-bound is EBUSY', () => {
    const events = [unbind, write(`${DAX}/devices/dax0.0/size`, '536870912'), bind, write(`${DAX}/devices/dax0.0/mapping`, '1a0000000-1bfffffff'), read(`${DAX}/devices/dax0.0/size`), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '1G'), touch('p1', 'm1', '768M')];
    const bad = runChecked(hmem(), ...events);
    expect(bad.results.map((x) => (x.startsWith('0x7') ? 'addr' : x))).toEqual(['ok', 'ok', 'ok', 'ok', '1073741824\n', 'ok', 'addr', 'oops']);
    expect(bad.violations).toEqual(['dax-config-while-bound@mapping_store', 'no-oops@dax_set_mapping']);
    const fixed = runChecked(hmem({ patches: ['dax-mapping-store-checks-bound'] }), ...events);
    expect(fixed.results.map((x) => (x.startsWith('0x7') ? 'addr' : x))).toEqual(['ok', 'ok', 'ok', 'EBUSY', '536870912\n', 'ok', 'addr', 'SIGBUS/BUS_ADRERR']);
    expect(fixed.violations).toEqual([]);
  });

  it('mapping_store: range_parse takes hex start-end (EINVAL otherwise), a length off max(align, 2M) is ENXIO, a taken range ENOMEM (6.1)', () => {
    const r = runChecked(hmem(), unbind, write(`${DAX}/devices/dax0.0/size`, '536870912'), write(`${DAX}/devices/dax0.0/mapping`, 'bogus'), write(`${DAX}/devices/dax0.0/mapping`, '1a0000000-1a0000fff'), write(`${DAX}/devices/dax0.0/mapping`, '180000000-1801fffff'), write(`${DAX}/devices/dax0.0/mapping`, '0x1a0000000-0x1a01fffff'), read(`${DAX}/devices/dax0.0/size`));
    expect(r.results).toEqual(['ok', 'ok', 'EINVAL', 'ENXIO', 'ENOMEM', 'ok', '538968064\n']);
  });

  it('B3: MAP_FIXED at a 2M-aligned address with a 4K offset maps device offset 0 through a PMD with an unaligned pfn; dax-check-vma-pgoff refuses the mapping [obs]', () => {
    const events = [open('p1', 'f1'), mmap('p1', 'm0', 'f1', '4M'), poke('p1', 'm0', '0', '0x1'), poke('p1', 'm0', '4K', '0x2'), mmap('p1', 'm1', 'f1', '2M', { offset: '4K', flags: ['shared', 'fixed'], addr: { map: 'm0', offset: '2M' } }), touch('p1', 'm1')];
    const bad = runChecked(hmem(), ...events);
    expect(bad.results[5]).toBe('0x1');
    expect(bad.violations).toEqual(['dax-translation@__dev_dax_pmd_fault']);
    const fixed = runChecked(hmem({ patches: ['dax-check-vma-pgoff'] }), ...events);
    // MAP_FIXED unmapped the old second half before dax_mmap refused: the address is a hole now.
    expect(fixed.results.slice(4)).toEqual(['EINVAL', 'SIGSEGV/SEGV_MAPERR']);
    expect(fixed.violations).toEqual([]);
  });

  it('B3 moved by mremap: MAP_FIXED puts a 4K-offset vma at a 2M-aligned address between two others; growing it with MREMAP_MAYMOVE lets dax_get_unmapped_area place it congruent to the offset, off the align (dax-vma-shape), and every fault SIGBUSes; dax-check-vma-pgoff refuses the mapping', () => {
    const events = [
      open('p1', 'f1'),
      mmap('p1', 'm0', 'f1', '6M'),
      mmap('p1', 'm1', 'f1', '2M', { offset: '4K', flags: ['shared', 'fixed'], addr: { map: 'm0', offset: '2M' } }),
      range('mremap', 'p1', 'm1', '0', '2M', { newLength: '8M', flags: ['maymove'] }),
      touch('p1', 'm1'),
    ];
    const bad = runChecked(hmem(), ...events);
    expect(BigInt(bad.results[3] as string) % (2n << 20n)).toBe(0x1000n);
    expect(bad.results[4]).toBe('SIGBUS/BUS_ADRERR');
    expect(bad.violations).toEqual(['dax-vma-shape@dax_get_unmapped_area']);
    const fixed = runChecked(hmem({ patches: ['dax-check-vma-pgoff'] }), ...events);
    expect(fixed.results.slice(2, 4)).toEqual(['EINVAL', 'EFAULT']);
    expect(fixed.violations).toEqual([]);
  });
});

describe('device-dax bug variants (SPEC §6), each against the same log without it', () => {
  it('dax-no-may-split: munmap of 4K inside a 2M unit splits the vma off its align (dax-vma-shape)', () => {
    const events = [open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('munmap', 'p1', 'm1', '4K', '4K')];
    // Both pieces of the split end off the 2M boundary.
    expect(runChecked(hmem({ variant: 'dax-no-may-split' }), ...events).violations).toEqual(['dax-vma-shape@__split_vma', 'dax-vma-shape@__split_vma']);
    expect(runChecked(hmem(), ...events).results[2]).toBe('EINVAL');
  });

  it('mremap-no-split-check: a partial mremap moves part of the vma (dax-vma-shape), as before v5.11', () => {
    const events = [open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('mremap', 'p1', 'm1', '4K', '4K', { newLength: '8K', flags: ['maymove'] })];
    expect(runChecked(hmem({ variant: 'mremap-no-split-check' }), ...events).violations).toEqual(['dax-vma-shape@move_vma']);
    expect(runChecked(hmem(), ...events).violations).toEqual([]);
  });

  it('dax-pte-fault-ignores-align: with MADV_NOHUGEPAGE the PTE handler serves 4K of an align-2M device (dax-granularity)', () => {
    const events = [open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), range('madvise', 'p1', 'm1', '0', '2M', { advice: 'nohugepage' }), touch('p1', 'm1')];
    const bad = runChecked(hmem({ variant: 'dax-pte-fault-ignores-align' }), ...events);
    expect(bad.results[3]).toBe('0x0');
    expect(bad.violations).toEqual(['dax-granularity@__dev_dax_pte_fault']);
    expect(runChecked(hmem(), ...events).results[3]).toBe('SIGBUS/BUS_ADRERR');
  });

  it('dax-unbind-skips-zap: entries outlive the unbind (dax-liveness) and the touch reads the memory of a dead device', () => {
    const events = [open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), touch('p1', 'm1'), unbind, touch('p1', 'm1')];
    const bad = runChecked(hmem({ variant: 'dax-unbind-skips-zap' }), ...events);
    // The entry also outlives the range's iomem reservation, which dev_dax_remove released.
    expect(bad.violations).toEqual(['dax-liveness@kill_dev_dax', 'dax-translation@dev_dax_remove']);
    expect(bad.results[4]).toBe('0x0');
    expect(runChecked(hmem(), ...events).results[4]).toBe('SIGBUS/BUS_ADRERR');
  });
});

describe('the 2020 RFC as the patch series devdax-map-none (SPEC §8)', () => {
  const pmemNone = (patches: readonly string[], map = 'none'): Json =>
    boot({ kernel: '6.1', patches, daxRegions: [{ id: 0, kind: 'pmem', start: '0x180000000', size: '1G', targetNode: 0, map, devices: [{ name: 'dax0.0', start: '0x180000000', size: '1G', align: '2M', driver: 'device_dax' }] }] });

  it('a map=none namespace needs the series: without it the boot is refused naming the field', () => {
    expect(() => runChecked(pmemNone([]))).toThrow(/daxRegions\[0\]\.map.*devdax-map-none/);
  });

  it('maps and faults like a struct-page device, but VM_PFNMAP with special entries; GUP fails (EIO through /proc/PID/mem), MADV_DONTNEED is EINVAL, fork copies no PMD entry, no struct pages', () => {
    const r = runChecked(
      pmemNone(['devdax-map-none']),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M'),
      poke('p1', 'm1', '8', '0x9'),
      { type: 'procmem', pid: 'p1', map: 'm1', offset: '8', op: 'read' },
      range('madvise', 'p1', 'm1', '0', '2M', { advice: 'dontneed' }),
      { type: 'fork', pid: 'p1', child: 'p2' },
      read('/proc/p2/smaps'),
      read('/proc/p1/smaps'),
    );
    expect(r.results[2]).toBe('ok');
    expect(r.results.slice(3, 6)).toEqual(['EIO', 'EINVAL', 'ok']);
    // copy_page_range ran (VM_PFNMAP), but copy_huge_pmd leaves a file vma's PMD entry to be refaulted.
    expect(firstProgramVma(r.final, 'p2')?.ptes.size).toBe(0);
    expect([...(firstProgramVma(r.final, 'p1')?.ptes.entries() ?? [])].map(([, p]) => p.special)).toEqual([true]);
    expect(smapsField(r.results[7] as string, 'VmFlags')).toEqual(['rd wr sh mr mw me ms pf sd hg']);
    expect(smapsField(r.results[7] as string, 'Rss')).toEqual(['0 kB']);
    expect(r.violations).toEqual([]);
  });

  it('the memmap view: 16 MiB of struct pages for a 1 GiB namespace in the namespace (map=dev), none with map=none', () => {
    const show = (b: Json) => runChecked(b).final;
    const dev = memmapRows(show(pmemNone([], 'dev')));
    const none = memmapRows(show(pmemNone(['devdax-map-none'])));
    expect(dev.map((x) => [x.structPages, x.bytes, x.how])).toEqual([[262144n, 16n << 20n, 'device (altmap)']]);
    expect(none.map((x) => [x.structPages, x.bytes, x.how])).toEqual([[0n, 0n, 'none: map=none (RFC), 16M of struct pages saved']]);
  });

  it('dax-memmap fails on a state whose entry contradicts the device (a devmap entry on a map=none device)', () => {
    const r = runChecked(pmemNone(['devdax-map-none']), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), touch('p1', 'm1'));
    const good = r.steps[2]?.after;
    if (good === undefined) throw new Error('no step');
    const p = good.mm.procs.get('p1');
    const v = p === undefined ? undefined : programVmas(p)[0];
    if (p === undefined || v === undefined) throw new Error('no vma');
    const [[k, pte]] = [...v.ptes.entries()] as [[number, { level: 'pmd'; phys: bigint; special: boolean }]];
    const bad = { ...good, mm: { ...good.mm, procs: new Map([['p1', { ...p, vmas: [{ ...v, ptes: v.ptes.set(k, { ...pte, special: false }) }] }]]) } };
    const violations = makeChecker({ only: ['dax-memmap'] })({ ...r.steps[2]!, before: r.steps[1]!.after, after: bad });
    expect(violations.map((x) => x.message)).toEqual([`p1: the pmd entry at 0x${v.start.toString(16)} (dax0.0) is a devmap entry, but the device has no struct pages`]);
  });
});

describe('smaps_pmd_entry across profiles', () => {
  it(`v6.6's vm_normal_page_pmd (smapsRssCountsDevmapPmd): a touched align-2M mapping counts its PMDs in Rss on 6.1, none on 6.12 [obs both]`, () => {
    const log = (kernel: string) => runChecked(hmem({ kernel }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '4M'), touch('p1', 'm1', '0'), touch('p1', 'm1', '0x200000'), read('/proc/p1/smaps'));
    for (const [kernel, rss] of [['6.1', '4096 kB'], ['6.12', '0 kB']] as const) {
      const r = log(kernel);
      expect(r.results.slice(2, 4), kernel).toEqual(['0x0', '0x0']);
      expect(smapsField(r.results[4] as string, 'KernelPageSize'), kernel).toEqual(['2048 kB']);
      expect(smapsField(r.results[4] as string, 'Rss'), kernel).toEqual([rss]);
      expect(r.violations, kernel).toEqual([]);
    }
  });
});

describe('mapping_store across profiles', () => {
  it(`v6.9's rwsem rework (mappingStoreUnalignedAccepted): a length off max(align, 2M) is ENXIO on 6.1 and "succeeds" allocating nothing on 6.12`, () => {
    const log = (kernel: string) => runChecked(hmem({ kernel }), unbind, write(`${DAX}/devices/dax0.0/size`, '536870912'), write(`${DAX}/devices/dax0.0/mapping`, '1a0000000-1a0000fff'), read(`${DAX}/devices/dax0.0/size`));
    expect(log('6.1').results).toEqual(['ok', 'ok', 'ENXIO', '536870912\n']);
    expect(log('6.12').results).toEqual(['ok', 'ok', 'ok', '536870912\n']);
  });
});
