/**
 * Private anonymous memory (src/kernel/mm/anon.ts, pageAlloc.ts): the zero
 * page, first-touch allocation, copy-on-write after fork, mprotect, munmap
 * and MADV_DONTNEED freeing pages, THP under `always` and `madvise`, and
 * /proc/PID/mem's forced writes.
 */
import { describe, expect, it } from 'vitest';
import { HPAGE_PMD_NR } from '../../src/kernel/mm/pageAlloc.js';
import { ZERO_PAGE_PHYS } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { nodeAllocatedPages } from '../../src/views/nodeMeminfo.js';
import { boot, programSmaps, read, runChecked, type Json } from '../helpers/machine.js';
import { programVmas } from '../../src/kernel/mm/process.js';

const M2 = 2n << 20n;

function machine(thp: 'always' | 'madvise' | 'never' = 'always'): Json {
  return boot({ kernel: '6.1' }, { thp });
}

const mmap = (map: string, length: string, extra: Json = {}, pid = 'p1'): Json => ({ type: 'mmap', pid, map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'], ...extra });
const rd = (offset: string, pid = 'p1', map = 'm1'): Json => ({ type: 'access', pid, map, offset, op: 'read' });
const wr = (offset: string, value: string, pid = 'p1', map = 'm1'): Json => ({ type: 'access', pid, map, offset, op: 'write', value });
const mem = (offset: string, op: 'read' | 'write', value?: string, pid = 'p1', map = 'm1'): Json => ({ type: 'procmem', pid, map, offset, op, ...(value === undefined ? {} : { value }) });
const fork = (pid: string, child: string): Json => ({ type: 'fork', pid, child });
const exit = (pid: string): Json => ({ type: 'exit', pid });
const range = (type: string, offset: string, length: string, extra: Json, pid = 'p1', map = 'm1'): Json => ({ type, pid, map, offset, length, ...extra });

/** The offset of the first 2 MiB boundary in an 8 MiB anonymous mapping (6.1 places it 4 KiB-aligned, below mmap_base). */
function aligned(): bigint {
  const r = runChecked(machine(), mmap('m1', '8M'));
  const base = r.final.mm.procs.get('p1')?.maps.get('m1') as bigint;
  return (M2 - (base % M2)) % M2;
}
const at = (delta: bigint): string => `0x${(aligned() + delta).toString(16)}`;

const smapsOf = (s: KernelState, pid = 'p1'): number => s.mm.procs.get(pid)?.rssAnon ?? 0;
const used = (s: KernelState): number => nodeAllocatedPages(s, 0);
const vma0 = (s: KernelState, pid = 'p1') => { const p = s.mm.procs.get(pid); return p === undefined ? undefined : programVmas(p)[0]; };
const smapsField = (text: string, field: string): string[] => programSmaps(text).split('\n').filter((l) => l.startsWith(`${field}:`)).map((l) => l.replace(/\s+/g, ' '));

describe('private anonymous mappings (6.1)', () => {
  it('a read maps the zero page (no page allocated, no RSS); the first write allocates a zeroed page', () => {
    const r = runChecked(machine('never'), mmap('m1', '16K'), rd('0x8'), wr('0x1000', '0x11'), rd('0x1000'), rd('0x1008'));
    expect(r.results.slice(1)).toEqual(['0x0', 'ok', '0x11', '0x0']);
    const after = r.steps[1]?.after as KernelState;
    expect(vma0(after)?.ptes.get(0)?.phys).toBe(ZERO_PAGE_PHYS);
    expect(used(after)).toBe(0);
    expect(after.mm.procs.get('p1')?.rssAnon).toBe(0);
    expect(used(r.final)).toBe(1);
    expect(r.final.mm.procs.get('p1')?.rssAnon).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('a write after a read replaces the zero page with a new page (wp_page_copy from the zero page)', () => {
    const r = runChecked(machine('never'), mmap('m1', '4K'), rd('0'), wr('0', '0x5'), rd('0'));
    expect(r.results.slice(1)).toEqual(['0x0', 'ok', '0x5']);
    expect(vma0(r.final)?.ptes.get(0)?.phys).not.toBe(ZERO_PAGE_PHYS);
    expect(used(r.final)).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('after fork, parent and child share the page read-only, and each write copies it: both see their own data', () => {
    const r = runChecked(
      machine('never'),
      mmap('m1', '8K'),
      wr('0', '0xaa'),
      wr('0x1000', '0xbb'),
      fork('p1', 'p2'),
      rd('0', 'p2'),
      wr('0', '0xcc', 'p2'),
      wr('0', '0xdd'),
      rd('0', 'p2'),
      rd('0'),
      rd('0x1000', 'p2'),
    );
    expect(r.results.slice(3)).toEqual(['ok', '0xaa', 'ok', 'ok', '0xcc', '0xdd', '0xbb']);
    const afterFork = r.steps[3]?.after as KernelState;
    // Two mappings of each page, one frame each: nothing allocated by the fork.
    expect(used(afterFork)).toBe(2);
    expect(afterFork.mm.procs.get('p2')?.rssAnon).toBe(2);
    // The child's write copied (3 pages); the parent's write then reused the page it alone maps.
    expect(used(r.final)).toBe(3);
    expect(vma0(r.final, 'p1')?.ptes.get(0)?.phys).toBe(vma0(afterFork, 'p1')?.ptes.get(0)?.phys);
    expect(r.violations).toEqual([]);
  });

  it('exit drops the child’s mappings: the pages it shared stay, the ones it copied are freed', () => {
    const r = runChecked(machine('never'), mmap('m1', '4K'), wr('0', '0x1'), fork('p1', 'p2'), wr('0', '0x2', 'p2'), exit('p2'), rd('0'));
    expect(used(r.steps[3]?.after as KernelState)).toBe(2);
    expect(used(r.final)).toBe(1);
    expect(r.results.at(-1)).toBe('0x1');
    expect(r.violations).toEqual([]);
  });

  it('mprotect read-only makes a write SIGSEGV; back to read-write, the exclusive page is written in place', () => {
    const r = runChecked(
      machine('never'),
      mmap('m1', '4K'),
      wr('0', '0x1'),
      range('mprotect', '0', '4K', { prot: 'r' }),
      wr('0', '0x2'),
      range('mprotect', '0', '4K', { prot: 'rw' }),
      wr('0', '0x3'),
      rd('0'),
    );
    expect(r.results.slice(1)).toEqual(['ok', 'ok', 'SIGSEGV/SEGV_ACCERR', 'ok', 'ok', '0x3']);
    expect(vma0(r.steps[2]?.after as KernelState)?.ptes.get(0)?.anon?.write).toBe(false);
    expect(vma0(r.steps[4]?.after as KernelState)?.ptes.get(0)?.anon?.write).toBe(true);
    expect(used(r.final)).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('munmap of part of a mapping frees its pages (the node gets them back); the rest keeps its data', () => {
    const r = runChecked(machine('never'), mmap('m1', '16K'), wr('0', '0x1'), wr('0x1000', '0x2'), wr('0x3000', '0x3'), range('munmap', '0x1000', '8K', {}), rd('0'), rd('0x3000'), rd('0x1000'));
    expect(used(r.steps[3]?.after as KernelState)).toBe(3);
    expect(used(r.final)).toBe(2);
    expect(r.results.slice(5)).toEqual(['0x1', '0x3', 'SIGSEGV/SEGV_MAPERR']);
    expect(r.final.mm.procs.get('p1')?.rssAnon).toBe(2);
    expect(r.violations).toEqual([]);
  });

  it('MADV_DONTNEED drops the pages: the next read sees the zero page', () => {
    const r = runChecked(machine('never'), mmap('m1', '8K'), wr('0', '0x7'), range('madvise', '0', '4K', { advice: 'dontneed' }), rd('0'));
    expect(r.results.slice(1)).toEqual(['ok', 'ok', '0x0']);
    expect(used(r.final)).toBe(0);
    expect(r.violations).toEqual([]);
  });

  it('THP always: a write in an aligned 2 MiB range maps a THP (AnonHugePages 2048 kB, KernelPageSize 4 kB)', () => {
    const r = runChecked(machine('always'), mmap('m1', '8M'), wr(at(8n), '0x9'), rd(at(8n)), read('/proc/p1/smaps'));
    expect(r.results[2]).toBe('0x9');
    expect(used(r.final)).toBe(HPAGE_PMD_NR);
    const smaps = r.results[3] as string;
    expect(smapsField(smaps, 'AnonHugePages')).toEqual(['AnonHugePages: 2048 kB']);
    expect(smapsField(smaps, 'Rss')).toEqual(['Rss: 2048 kB']);
    expect(smapsField(smaps, 'KernelPageSize')).toEqual(['KernelPageSize: 4 kB']);
    expect(r.violations).toEqual([]);
  });

  it('THP madvise: only a MADV_HUGEPAGE range gets a THP; elsewhere 4 KiB pages', () => {
    const ops = [mmap('m1', '8M'), wr(at(0n), '0x1'), range('madvise', '0', '8M', { advice: 'hugepage' }), wr(at(0x200000n), '0x2'), read('/proc/p1/smaps')];
    const r = runChecked(machine('madvise'), ...ops);
    expect(used(r.steps[1]?.after as KernelState)).toBe(1);
    expect(used(r.final)).toBe(1 + HPAGE_PMD_NR);
    expect(smapsField(r.results[4] as string, 'AnonHugePages')).toEqual(['AnonHugePages: 2048 kB']);
    const always = runChecked(machine('always'), ...ops);
    expect(used(always.final)).toBe(2 * HPAGE_PMD_NR);
    expect(r.violations).toEqual([]);
    expect(always.violations).toEqual([]);
  });

  it('THP read faults map the huge zero page (allocated once, not in RSS)', () => {
    const r = runChecked(machine('always'), mmap('m1', '8M'), rd(at(0n)), rd(at(0x200000n)), read('/proc/p1/smaps'));
    expect(r.results.slice(1, 3)).toEqual(['0x0', '0x0']);
    expect(used(r.final)).toBe(HPAGE_PMD_NR);
    expect(smapsField(r.results[3] as string, 'Rss')).toEqual(['Rss: 0 kB']);
    expect(r.violations).toEqual([]);
  });

  it('a write to the huge zero page splits it and copies one 4 KiB page', () => {
    const r = runChecked(machine('always'), mmap('m1', '8M'), rd(at(0n)), wr(at(0n), '0x4'), rd(at(0n)), rd(at(0x1000n)));
    expect(r.results.slice(2)).toEqual(['ok', '0x4', '0x0']);
    expect(used(r.final)).toBe(HPAGE_PMD_NR + 1);
    expect(r.final.mm.procs.get('p1')?.rssAnon).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('COW of a THP after fork splits the PMD and copies 4 KiB: the child keeps the THP', () => {
    const a = at(0n);
    const b = at(0x1000n);
    const r = runChecked(machine('always'), mmap('m1', '8M'), wr(a, '0x1'), wr(b, '0x2'), fork('p1', 'p2'), wr(a, '0x3'), rd(a, 'p2'), rd(a), rd(b), read('/proc/p2/smaps'), read('/proc/p1/smaps'));
    expect(r.results.slice(5, 8)).toEqual(['0x1', '0x3', '0x2']);
    expect(used(r.final)).toBe(HPAGE_PMD_NR + 1);
    expect(smapsField(r.results[8] as string, 'AnonHugePages')).toEqual(['AnonHugePages: 2048 kB']);
    expect(smapsField(r.results[9] as string, 'AnonHugePages')).toEqual(['AnonHugePages: 0 kB']);
    expect(smapsField(r.results[9] as string, 'Rss')).toEqual(['Rss: 2048 kB']);
    expect(r.violations).toEqual([]);
  });

  it('munmap of a whole THP frees 512 pages; of part of one keeps the folio until its last page goes', () => {
    const r = runChecked(machine('always'), mmap('m1', '8M'), wr(at(0n), '0x1'), range('munmap', at(0n), '4K', {}), range('munmap', at(0x1000n), '0x1ff000', {}));
    expect(used(r.steps[2]?.after as KernelState)).toBe(HPAGE_PMD_NR);
    expect(r.steps[2]?.after.mm.procs.get('p1')?.rssAnon).toBe(HPAGE_PMD_NR - 1);
    expect(used(r.final)).toBe(0);
    expect(r.violations).toEqual([]);
  });

  it('/proc/PID/mem writes through a read-only private mapping by COW; the process then reads the value', () => {
    const r = runChecked(machine('never'), mmap('m1', '4K', { prot: 'r' }), rd('0'), mem('0', 'write', '0x42'), rd('0'), { type: 'access', pid: 'p1', map: 'm1', offset: '0', op: 'write', value: '0x1' });
    expect(r.results.slice(1)).toEqual(['0x0', 'ok', '0x42', 'SIGSEGV/SEGV_ACCERR']);
    expect(vma0(r.final)?.ptes.get(0)?.anon).toEqual({ kind: 'page', write: false, exclusive: true });
    expect(r.violations).toEqual([]);
  });

  it('a shared anonymous mapping is refused by the parser (shmem is not modelled)', () => {
    expect(() => runChecked(machine(), mmap('m1', '4K', { flags: ['shared'] }))).toThrow(/shmem/);
  });

  it('do_huge_pmd_wp_page reuses a THP it maps alone (the child exited) instead of splitting it', () => {
    const r = runChecked(machine('always'), mmap('m1', '8M'), wr(at(0n), '0x1'), fork('p1', 'p2'), exit('p2'), wr(at(0n), '0x2'), rd(at(0n)));
    expect(r.results.at(-1)).toBe('0x2');
    expect(r.steps[4]?.branches).toContain('do_huge_pmd_wp_page:reuse');
    expect(used(r.final)).toBe(HPAGE_PMD_NR);
    expect(smapsOf(r.final)).toBe(HPAGE_PMD_NR);
    expect(r.violations).toEqual([]);
  });

  it('a page the child no longer maps is reused by the parent (do_wp_page: folio_ref_count 1)', () => {
    const r = runChecked(machine('never'), mmap('m1', '4K'), wr('0', '0x1'), fork('p1', 'p2'), exit('p2'), wr('0', '0x2'));
    expect(r.steps[4]?.branches).toContain('do_wp_page:reuse-last-ref');
    expect(used(r.final)).toBe(1);
  });

  it('an exclusive subpage of a split read-only THP is written in place (do_wp_page: PageAnonExclusive)', () => {
    // mprotect on 6.1 makes exclusive PTEs writable again but not a PMD (can_change_pmd_writable is v6.2); a partial
    // munmap then splits the PMD into read-only, exclusive PTEs.
    const r = runChecked(machine('always'), mmap('m1', '8M'), wr(at(0n), '0x1'), range('mprotect', '0', '8M', { prot: 'r' }), range('mprotect', '0', '8M', { prot: 'rw' }), range('munmap', at(0x100000n), '4K', {}), wr(at(0n), '0x2'), rd(at(0n)));
    expect(r.steps[5]?.branches).toContain('do_wp_page:reuse-exclusive');
    expect(r.results.at(-1)).toBe('0x2');
    expect(used(r.final)).toBe(HPAGE_PMD_NR);
    expect(r.violations).toEqual([]);
  });

  it('out of memory: no 2 MiB block left falls back to 4 KiB pages, no page at all is VM_FAULT_OOM (SIGBUS here)', () => {
    // 72 MiB of RAM: the pool is [64 MiB, 72 MiB), four 2 MiB blocks.
    const small = boot({ kernel: '6.1', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '72M', node: 0 }] }, { thp: 'always' });
    const r = runChecked(small, mmap('m1', '16M'), ...[0n, 1n, 2n, 3n].map((i) => wr(at(i * M2), '0x1')), wr(at(4n * M2), '0x2'));
    expect(used(r.steps[4]?.after as KernelState)).toBe(4 * HPAGE_PMD_NR);
    expect(r.results.at(-1)).toBe('SIGBUS/BUS_ADRERR');
    expect(r.steps.at(-1)?.branches).toEqual(expect.arrayContaining(['do_huge_pmd_anonymous_page:fallback', 'do_anonymous_page:VM_FAULT_OOM']));
    const cow = runChecked(boot({ kernel: '6.1', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '66M', node: 0 }] }, { thp: 'never' }), mmap('m1', '4K'), wr('0', '0x1'), fork('p1', 'p2'), mmap('m2', '8M'), ...Array.from({ length: 511 }, (_, i) => wr(`0x${(i * 4096).toString(16)}`, '0x3', 'p1', 'm2')), wr('0', '0x2', 'p2'));
    expect(cow.results.at(-1)).toBe('SIGBUS/BUS_ADRERR');
    expect(cow.steps.at(-1)?.branches).toContain('wp_page_copy:VM_FAULT_OOM');
    expect(cow.violations).toEqual([]);
  });

  it('/sys/kernel/mm/transparent_hugepage/enabled: shows the boot mode, a write changes later faults, anything else is EINVAL', () => {
    const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
    const r = runChecked(machine('always'), read(THP), { type: 'write', path: THP, value: 'madvise' }, read(THP), { type: 'write', path: THP, value: 'sometimes' }, mmap('m1', '8M'), wr(at(0n), '0x1'), { type: 'write', path: THP, value: 'always' }, wr(at(M2), '0x2'), read(THP));
    expect([r.results[0], r.results[2], r.results[3], r.results[8]]).toEqual(['[always] madvise never\n', 'always [madvise] never\n', 'EINVAL', '[always] madvise never\n']);
    expect(r.steps[3]?.branches).toContain('enabled_store:EINVAL');
    // The first write (madvise, no MADV_HUGEPAGE) got a 4 KiB page; the second (always again) a THP.
    expect(used(r.final)).toBe(1 + HPAGE_PMD_NR);
    expect(r.violations).toEqual([]);
  });

  it('offlining the block that holds anonymous pages migrates them (do_migrate_range): the data follows, the block ends empty', () => {
    const hot = boot({ kernel: '6.1' }, { thp: 'always', memoryHotremove: true });
    // Boot RAM ends at 6 GiB: the allocator's first 2 MiB blocks are in memory block 47.
    const r = runChecked(hot, mmap('m1', '8M'), wr('0x8', '0x1'), wr(at(0n), '0x2'), fork('p1', 'p2'), { type: 'write', path: '/sys/devices/system/memory/memory47/online', value: '0' }, rd('0x8'), rd(at(0n)), rd('0x8', 'p2'), rd(at(0n), 'p2'));
    const before = r.steps[3]?.after as KernelState;
    const inBlock = (st: KernelState) => [...st.mm.anon.folios.entries()].filter(([pfn]) => Math.floor(pfn / st.blockPages) === 47).length;
    expect(inBlock(before)).toBe(2);
    expect(r.results.slice(4)).toEqual(['ok', '0x1', '0x2', '0x1', '0x2']);
    expect(inBlock(r.final)).toBe(0);
    expect(used(r.final)).toBe(used(before));
    expect(vma0(r.final, 'p2')?.ptes.get(0)?.phys).toBe(vma0(r.final, 'p1')?.ptes.get(0)?.phys);
    expect(r.steps[4]?.branches ?? []).not.toContain('offline_pages:EINTR(anon-migration-failed)');
    expect(r.violations).toEqual([]);
  });

  it('a block holding the huge zero page cannot be offlined (unmovable: EBUSY)', () => {
    const hot = boot({ kernel: '6.1' }, { thp: 'always', memoryHotremove: true });
    const r = runChecked(hot, mmap('m1', '8M'), rd(at(0n)), { type: 'write', path: '/sys/devices/system/memory/memory47/online', value: '0' });
    expect(r.results.at(-1)).toBe('EBUSY');
    expect(r.steps.at(-1)?.branches).toContain('offline_pages:EBUSY(huge-zero-page)');
  });

  it('no frame to migrate to: offline_pages retries until a signal (EINTR) and the pages stay', () => {
    // Pool memory is only block 1 ([128M, 256M): below 64 MiB is the kernel's); 64 THPs fill it.
    const full = boot({ kernel: '6.1', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '64M', node: 0 }, { start: '0x8000000', size: '128M', node: 0 }] }, { thp: 'always', memoryHotremove: true });
    const writes = Array.from({ length: 64 }, (_, i) => wr(at(BigInt(i) * M2), '0x7'));
    const r = runChecked(full, mmap('m1', '130M'), ...writes, { type: 'write', path: '/sys/devices/system/memory/memory1/online', value: '0' }, rd(at(0n)));
    expect(used(r.steps[64]?.after as KernelState)).toBe(64 * HPAGE_PMD_NR);
    expect(r.results.slice(-2)).toEqual(['EINTR', '0x7']);
    expect(r.steps.at(-2)?.branches).toContain('offline_pages:EINTR(anon-migration-failed)');
    expect(r.violations).toEqual([]);
  });
});
