/**
 * Model fixes found by replaying mapping sequences recorded on the real 6.1
 * kernel (test/traces/hmem/map-*.jsonl): each test runs the shape of the
 * recorded sequence that diverged and asserts what the kernel did.
 */
import { describe, expect, it } from 'vitest';
import { sameOutcome } from '../../src/replay/compare.js';
import { boot, read, region, run, type Json } from '../helpers/machine.js';

/** A 6.1 machine with one 1 GiB hmem device, dax0.0 on device_dax at align 2M. */
const BOOT = boot({ kernel: '6.1', daxRegions: [region('hmem', 0, '0x180000000', '1G', { driver: 'device_dax', align: '2M' })] });
const open: Json = { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', flags: 'rdwr' };
const mmap = (map: string, length: string, offset: string, flags: string[], extra: Json = {}): Json => ({
  type: 'mmap',
  pid: 'p1',
  map,
  fd: 'f1',
  length,
  offset,
  prot: 'rw',
  flags,
  ...extra,
});

/** The device vmas of /proc/p1/smaps in the model's output: "start-end flags offset" and the VmFlags line. */
/** The header and VmFlags lines of the device vmas (the exec-time ones, src/kernel/mm/exec.ts, left out). */
function vmas(text: string): string[] {
  let device = false;
  return text
    .split('\n')
    .filter((l) => {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) device = l.includes(' /dev/');
      return device && (/^[0-9a-f]+-[0-9a-f]+ /.test(l) || l.startsWith('VmFlags:'));
    })
    .map((l) => l.replace(/\s+/g, ' ').trim());
}

describe('model fixes from the real 6.1 kernel', () => {
  it('do_mmap: MAP_SHARED|MAP_SYNC sets VM_SYNC (calc_vm_flag_bits runs before MAP_SHARED drops the flag): smaps shows sf', () => {
    const r = run(BOOT, open, mmap('m1', '2M', '0', ['shared', 'sync']), mmap('m2', '2M', '0', ['shared']), read('/proc/p1/smaps'));
    expect(r.results.slice(0, 3).map((x) => (x.startsWith('0x') ? 'addr' : x))).toEqual(['ok', 'addr', 'addr']);
    const flags = vmas(r.results[3] ?? '').filter((l) => l.startsWith('VmFlags'));
    // m2 (plain shared) is the lower vma, m1 (shared|sync) the upper.
    expect(flags).toEqual(['VmFlags: rd wr sh mr mw me ms sd hg', 'VmFlags: rd wr sh mr mw me ms sf sd hg']);
  });

  it('arch_get_unmapped_area_topdown: a 2M mapping at an unaligned offset below 2M-aligned ones lands 2M-aligned, so it maps (B3 without MAP_FIXED)', () => {
    const r = run(BOOT, open, mmap('m1', '4M', '0', ['shared']), mmap('m2', '2M', '4K', ['shared']), { type: 'access', pid: 'p1', map: 'm2', offset: '0', op: 'read' });
    const addr = r.results[2] ?? '';
    expect(addr).toMatch(/^0x[0-9a-f]+$/);
    expect(BigInt(addr) % (2n << 20n)).toBe(0n);
    // The first mapping of a process still gets only what the kernel guarantees for it (dax_get_unmapped_area's align).
    const first = BigInt(r.results[1] ?? '0');
    expect(first % (2n << 20n)).toBe(0n);
    expect(first % (4n << 20n)).not.toBe(0n);
  });

  it('vma_merge: mprotect back to the same protection merges the split vmas (one 4M vma in smaps)', () => {
    const mprotect = (offset: string, length: string, prot: string): Json => ({ type: 'mprotect', pid: 'p1', map: 'm1', offset, length, prot });
    const r = run(BOOT, open, mmap('m1', '4M', '0', ['shared']), mprotect('0', '2M', 'r'), read('/proc/p1/smaps'), mprotect('0', '2M', 'rw'), read('/proc/p1/smaps'));
    expect(vmas(r.results[3] ?? '').filter((l) => !l.startsWith('VmFlags')).map((l) => l.split(' ').slice(1, 3).join(' '))).toEqual(['r--s 00000000', 'rw-s 00200000']);
    const merged = vmas(r.results[5] ?? '').filter((l) => !l.startsWith('VmFlags'));
    expect(merged).toHaveLength(1);
    const [lo, hi] = (merged[0] ?? '').split(' ')[0]?.split('-') ?? [];
    expect(BigInt(`0x${hi ?? '0'}`) - BigInt(`0x${lo ?? '0'}`)).toBe(4n << 20n);
  });

  it('vma_merge: MADV_HUGEPAGE after a partial MADV_NOHUGEPAGE merges the vmas again', () => {
    const madvise = (offset: string, length: string, advice: string): Json => ({ type: 'madvise', pid: 'p1', map: 'm1', offset, length, advice });
    const r = run(BOOT, open, mmap('m1', '4M', '0', ['shared']), madvise('2M', '2M', 'nohugepage'), read('/proc/p1/smaps'), madvise('2M', '2M', 'hugepage'), read('/proc/p1/smaps'));
    expect(vmas(r.results[3] ?? '').filter((l) => l.startsWith('VmFlags'))).toEqual(['VmFlags: rd wr sh mr mw me ms sd hg', 'VmFlags: rd wr sh mr mw me ms sd nh']);
    expect(vmas(r.results[5] ?? '').filter((l) => !l.startsWith('VmFlags'))).toHaveLength(1);
  });
});

describe('model fixes from the real 6.1 kernel, found by kernel fuzz --programs', () => {
  it('mremap: vma_lookup first, so no vma at the address is EFAULT even for an equal or shrinking length', () => {
    const mremap = (map: string, length: string, newLength: string): Json => ({ type: 'mremap', pid: 'p1', map, offset: '0', length, newLength, flags: [] });
    const r = run(BOOT, open, mremap('m9', '4M', '4M'), mremap('m9', '4M', '2M'), mmap('m1', '4M', '0', ['shared']), mremap('m1', '4M', '2M'));
    expect(r.results.slice(0, 3)).toEqual(['ok', 'EFAULT', 'EFAULT']);
    expect(r.results[4]).toBe(r.results[3]);
  });
});

describe('model fixes from the real 6.1 kernel, found by kernel fuzz --programs (seed 2200)', () => {
  it('mmap_region: MAP_FIXED over part of a device unit fails the split, which mmap_region reports as ENOMEM, not EINVAL (run 67)', () => {
    const r = run(BOOT, open, mmap('m1', '4M', '0', ['shared']), mmap('m2', '4K', '0', ['shared', 'fixed'], { addr: { map: 'm1', offset: '4K' } }), {
      type: 'munmap',
      pid: 'p1',
      map: 'm1',
      offset: '4K',
      length: '4K',
    });
    expect(r.results.slice(2)).toEqual(['ENOMEM', 'EINVAL']);
  });

  it('mprotect_fixup: the same protection on part of a unit is no change, so no split and no EINVAL (run 24)', () => {
    const mprotect = (offset: string, length: string, prot: string): Json => ({ type: 'mprotect', pid: 'p1', map: 'm1', offset, length, prot });
    const r = run(BOOT, open, mmap('m1', '2M', '0', ['shared']), mprotect('0', '4K', 'rw'), mprotect('0', '4K', 'r'), read('/proc/p1/smaps'));
    expect(r.results.slice(2, 4)).toEqual(['ok', 'EINVAL']);
    expect(vmas(r.results[4] ?? '').filter((l) => !l.startsWith('VmFlags'))).toHaveLength(1);
  });
});

describe('processes (SPEC §7), from kernel fuzz --programs (seed 2200)', () => {
  it('a process exists from its first use even when that call fails: /proc/p1/smaps reads after a failed open (runs 23, 29, 47)', () => {
    const unbind = { type: 'write', path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0' };
    const r = run(BOOT, read('/proc/p1/smaps'), unbind, open, read('/proc/p1/smaps'));
    // Only what exec mapped (src/kernel/mm/exec.ts), as the kernel names it: no device vma.
    expect(r.results.slice(0, 3)).toEqual(['ENOENT', 'ok', 'ENXIO']);
    const names = (r.results[3] ?? '').split('\n').flatMap((l) => (/^[0-9a-f]+-[0-9a-f]+ /.test(l) ? [l.replace(/\s+/g, ' ').trim()] : []));
    expect(names).toEqual([
      '00400000-00401000 r--p 00000000 00:02 7 /bin/ddx',
      '00401000-0049a000 r-xp 00001000 00:02 7 /bin/ddx',
      '0049a000-004c4000 r--p 0009a000 00:02 7 /bin/ddx',
      '004c4000-004c8000 r--p 000c4000 00:02 7 /bin/ddx',
      '004c8000-004cb000 rw-p 000c8000 00:02 7 /bin/ddx',
      '7ffff7ff9000-7ffff7ffd000 r--p 00000000 00:00 0 [vvar]',
      '7ffff7ffd000-7ffff7fff000 r-xp 00000000 00:00 0 [vdso]',
      '7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]',
    ]);
  });
});

describe('compare: mapping results', () => {
  it('a MAP_FIXED address is the log\'s request and is not compared; a placed one is compared by alignment', () => {
    const a = { ok: true as const, value: '0x7ffff7600000' };
    const b = { ok: true as const, value: '0x7fefff400000' };
    expect(sameOutcome(a, b, undefined, true)).toBe(false);
    expect(sameOutcome(a, b, undefined, 'requested')).toBe(true);
    expect(sameOutcome(a, { ok: false, errno: 'EINVAL' }, undefined, 'requested')).toBe(false);
  });

  it('/proc/PID/smaps device mappings compare as a set: order by address is placement, which is not compared', () => {
    const block = (start: string, end: string, off: string, rss: string) =>
      `${start}-${end} rw-s ${off} 00:05 93 /dev/dax0.0\nSize: 2048 kB\nKernelPageSize: 2048 kB\nMMUPageSize: 2048 kB\nRss: ${rss} kB\nVmFlags: rd wr sh mr mw me ms sd hg`;
    const real = `${block('7ffff7400000', '7ffff7600000', '00001000', '2048')}\n${block('7ffff7800000', '7ffff7a00000', '00001000', '0')}\n`;
    const model = `${block('7feffee00000', '7fefff000000', '00001000', '0')}\n${block('7fefff200000', '7fefff400000', '00001000', '2048')}\n`;
    expect(sameOutcome({ ok: true, value: real }, { ok: true, value: model }, '/proc/p1/smaps')).toBe(true);
    const other = `${block('7feffee00000', '7fefff000000', '00001000', '0')}\n${block('7fefff200000', '7fefff400000', '00001000', '0')}\n`;
    expect(sameOutcome({ ok: true, value: real }, { ok: true, value: other }, '/proc/p1/smaps')).toBe(false);
  });
});

describe('exec-time vmas (src/kernel/mm/exec.ts): [vvar] right above the topmost mapping', () => {
  const anon = (map: string, length: string): Json => ({ type: 'mmap', pid: 'p1', map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'] });
  const op = (type: string, offset: string, length: string, extra: Json = {}): Json => ({ type, pid: 'p1', map: 'm1', offset, length, ...extra });
  it('mremap cannot grow the topmost mapping in place (ENOMEM) and moves it with MREMAP_MAYMOVE; MADV_DONTNEED into [vvar] is EINVAL (VM_PFNMAP); a split of [vvar] is EINVAL; growing [vvar] is EFAULT (VM_DONTEXPAND); PROT_WRITE on it EACCES', () => {
    const r = run(
      BOOT,
      anon('m1', '8K'),
      op('mremap', '0', '8K', { newLength: '16K', flags: [] }),
      op('madvise', '0', '12K', { advice: 'dontneed' }),
      op('munmap', '0x2000', '4K'),
      op('mremap', '0x2000', '16K', { newLength: '20K', flags: [] }),
      op('mprotect', '0x2000', '16K', { prot: 'rw' }),
      // Moved: the highest 16 KiB gap below mmap_base while the old range is still mapped.
      op('mremap', '0', '8K', { newLength: '16K', flags: ['maymove'] }),
      // [vvar] and [vdso] unmapped whole: no split, allowed.
      op('munmap', '0x6000', '24K'),
    );
    expect(r.results).toEqual(['0x7ffff7ff7000', 'ENOMEM', 'EINVAL', 'EINVAL', 'EFAULT', 'EACCES', '0x7ffff7ff3000', 'ok']);
  });
});
