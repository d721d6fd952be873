/**
 * The model-only follow_pfn users (SPEC §8): KVM's hva_to_pfn
 * (src/kernel/kvm/hvaToPfn.ts) and VFIO type1's vaddr_get_pfns
 * (src/kernel/vfio/type1.ts) over device-dax mappings with struct pages
 * (get_user_pages) and without (the 2020 RFC, devdax-map-none: follow_pte),
 * the invariant dax-pfn-user, and the variant follow-pfn-pte-only.
 */
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { eventToJson, parseLogText } from '../../src/log/index.js';
import { boot, firstProgramVma, read, runChecked, write, type Json } from '../helpers/machine.js';
import { hmem, mmap, open } from '../helpers/devdax.js';

const G = 1n << 30n;
const START = 0x180000000n;

function pmemNone(align: string, extra: Json = {}): Json {
  const size = align === '1G' ? '2G' : '1G';
  return boot({
    kernel: '6.1',
    patches: ['devdax-map-none'],
    daxRegions: [{ id: 0, kind: 'pmem', start: '0x180000000', size, targetNode: 0, map: 'none', devices: [{ name: 'dax0.0', start: '0x180000000', size, align, driver: 'device_dax' }] }],
    ...extra,
  });
}

/** The hmem machine with a 2 GiB region. */
function hmem2g(align = '2M'): Json {
  return hmem({ align, size: '2G' });
}

const pfn = (user: 'kvm' | 'vfio', offset: string, op: 'read' | 'write' = 'write', pid = 'p1', map = 'm1'): Json => ({ type: 'follow_pfn', pid, map, offset, op, user });
const touch = (offset: string): Json => ({ type: 'access', pid: 'p1', map: 'm1', offset, op: 'read' });

const hex = (v: bigint): string => `0x${v.toString(16)}`;

describe('follow_pfn users of a device-dax mapping with struct pages (6.1: get_user_pages)', () => {
  it('KVM and VFIO get the page dax_pgoff_to_phys names, at 2 MiB and 1 GiB, faulting it in first', () => {
    for (const [align, len] of [['2M', '4M'], ['1G', '1G']] as const) {
      const r = runChecked(hmem2g(align), open('p1', 'f1'), mmap('p1', 'm1', 'f1', len), pfn('kvm', '0x3008', 'write'), pfn('vfio', '0x201000', 'read'));
      expect(r.results.slice(2)).toEqual([hex(START + 0x3000n), hex(START + 0x201000n)]);
      expect(firstProgramVma(r.final, 'p1')?.ptes.size).toBe(align === '2M' ? 2 : 1);
      expect(r.violations).toEqual([]);
    }
  });

  it('a write through a read-only mapping, no mapping, a SIGBUS page and an unbound device are EFAULT for both', () => {
    const r = runChecked(
      hmem2g(),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M', { prot: 'r' }),
      pfn('kvm', '0'),
      pfn('vfio', '0'),
      pfn('kvm', '0', 'read'),
      pfn('vfio', '0x200000', 'read', 'p1', 'm9'),
      write('/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0'),
      pfn('vfio', '0', 'read'),
      pfn('kvm', '0', 'read'),
    );
    expect(r.results.slice(2)).toEqual(['EFAULT', 'EFAULT', hex(START), 'EFAULT', 'ok', 'EFAULT', 'EFAULT']);
    expect(r.steps[2]?.branches).toContain('hva_to_pfn:EFAULT(gup:check_vma_flags:shared-readonly)');
    expect(r.violations).toEqual([]);
  });
});

describe('follow_pfn users of a map=none device (the RFC: VM_PFNMAP, follow_pte)', () => {
  it('with the series (2/10, 4/10) KVM and VFIO walk PTE, PMD and PUD special entries to the right page', () => {
    for (const align of ['4K', '2M', '1G']) {
      const len = align === '1G' ? '1G' : '2M';
      const r = runChecked(pmemNone(align), open('p1', 'f1'), mmap('p1', 'm1', 'f1', len), pfn('kvm', '0x5000'), touch('0x1000'), pfn('vfio', '0x1000', 'read'));
      expect([r.results[2], r.results[4]]).toEqual([hex(START + 0x5000n), hex(START + 0x1000n)]);
      const levels = [...(firstProgramVma(r.final, 'p1')?.ptes.entries() ?? [])].map(([, p]) => `${p.level}:${p.special}`);
      expect(levels[0]).toBe(`${{ '4K': 'pte', '2M': 'pmd', '1G': 'pud' }[align]}:true`);
      expect(r.violations).toEqual([]);
    }
  });

  it('fixup_user_fault: a write through a read-only mapping (vma_permits_fault) and a page past the device (SIGBUS) are EFAULT; a present read-only entry is EFAULT for a writable DMA map', () => {
    const r = runChecked(
      pmemNone('2M'),
      open('p1', 'f1'),
      mmap('p1', 'm1', 'f1', '2M', { prot: 'r' }),
      pfn('kvm', '0'),
      mmap('p1', 'm2', 'f1', '2M', { offset: '1G' }),
      pfn('vfio', '0', 'read', 'p1', 'm2'),
      touch('0'),
      pfn('vfio', '0'),
      pfn('kvm', '0'),
    );
    expect(r.results.slice(2)).toEqual(['EFAULT', r.results[3], 'EFAULT', '0x0', 'EFAULT', 'EFAULT']);
    expect(r.results[3]).toMatch(/^0x[0-9a-f]+000$/);
    expect(r.steps[2]?.branches).toContain('fixup_user_fault:EFAULT(vma_permits_fault)');
    expect(r.steps[4]?.branches).toContain('fixup_user_fault:EFAULT(VM_FAULT_SIGBUS)');
    expect(r.steps[6]?.branches).toContain('follow_fault_pfn:EFAULT(!pte_write)');
    expect(r.steps[7]?.branches).toContain('hva_to_pfn:EFAULT(KVM_PFN_ERR_RO_FAULT)');
    expect(r.violations).toEqual([]);
  });

  it('get_user_pages refuses VM_PFNMAP: /proc/PID/mem is EIO while KVM and VFIO succeed', () => {
    const r = runChecked(pmemNone('2M'), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), { type: 'procmem', pid: 'p1', map: 'm1', offset: '0', op: 'read' }, pfn('kvm', '0', 'read'));
    expect(r.results.slice(2)).toEqual(['EIO', hex(START)]);
    expect(r.steps[3]?.branches.some((b) => b.startsWith('hva_to_pfn'))).toBe(false);
  });

  it('follow-pfn-pte-only (the RFC without 2/10 and 4/10): huge entries are pmd_bad to follow_pte; KVM is EFAULT, VFIO EINVAL, and dax-pfn-user says so', () => {
    const r = runChecked(pmemNone('2M', { variant: 'follow-pfn-pte-only' }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), pfn('kvm', '0'), pfn('vfio', '0x1000'));
    expect(r.results.slice(2)).toEqual(['EFAULT', 'EINVAL']);
    expect(r.steps[2]?.branches).toContain('follow_pte:EINVAL(pmd_bad)');
    expect(r.violations).toEqual(['dax-pfn-user@follow_pte', 'dax-pfn-user@follow_pte']);
    // 4 KiB special entries are PTEs: the variant makes no difference there.
    const small = runChecked(pmemNone('4K', { variant: 'follow-pfn-pte-only' }), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), pfn('kvm', '0'));
    expect(small.results[2]).toBe(hex(START));
    expect(small.violations).toEqual([]);
  });

  it('fork (copy_page_range): PTE and PUD special entries are copied, PMD entries are left to be refaulted (copy_huge_pmd)', () => {
    const entries = (align: string, len: string) => {
      const r = runChecked(pmemNone(align), open('p1', 'f1'), mmap('p1', 'm1', 'f1', len), touch('0'), { type: 'fork', pid: 'p1', child: 'p2' }, pfn('kvm', '0x2000', 'read', 'p2'), read('/proc/p2/smaps'));
      expect(r.violations).toEqual([]);
      expect(r.results[4]).toBe(hex(START + 0x2000n));
      return firstProgramVma(r.final, 'p2')?.ptes.size;
    };
    // The child's follow_pfn faults the page it needs in: 4K copied 1 + faulted 1; 2M: none copied, 1 faulted; 1G: 1 copied.
    expect([entries('4K', '2M'), entries('2M', '2M'), entries('1G', '1G')]).toEqual([2, 1, 1]);
  });
});

describe('dax-pfn-user can fail', () => {
  it('on a state where the user was handed another page than the mapping translates to', () => {
    const r = runChecked(hmem2g(), open('p1', 'f1'), mmap('p1', 'm1', 'f1', '2M'), pfn('vfio', '0x1000'));
    const step = r.steps[2];
    if (step === undefined) throw new Error('no step');
    const bad = { ...step, outcome: { ok: true as const, value: hex(START + G) } };
    const v = makeChecker({ only: ['dax-pfn-user'] })(bad);
    expect(v.map((x) => x.message)).toEqual([`p1: VFIO (vaddr_get_pfns) at ${hex(BigInt(r.results[1] as string) + 0x1000n)} (dax0.0) got ${hex(START + G)}, but file page 0x1 is ${hex(START + 0x1000n)}`]);
  });
});

describe('follow_pfn in logs', () => {
  it('is read and written back, and a bad user or op names the field', () => {
    const ok = parseLogText([JSON.stringify(hmem2g()), JSON.stringify(pfn('kvm', '8'))].join('\n'), 't.jsonl');
    const e = ok[1]?.event;
    expect(e).toMatchObject({ type: 'follow_pfn', user: 'kvm', op: 'write', offset: 8n });
    if (e === undefined) throw new Error('no event');
    expect(eventToJson(e)).toEqual({ type: 'follow_pfn', pid: 'p1', map: 'm1', offset: '0x8', op: 'write', user: 'kvm' });
    expect(() => parseLogText([JSON.stringify(hmem2g()), JSON.stringify({ ...pfn('kvm', '0'), user: 'xen' })].join('\n'), 't.jsonl')).toThrow('t.jsonl:2: field "user": expected one of "kvm", "vfio", got "xen"');
    expect(() => parseLogText([JSON.stringify(hmem2g()), JSON.stringify({ ...pfn('kvm', '0'), op: 'exec' })].join('\n'), 't.jsonl')).toThrow(/t\.jsonl:2: field "op"/);
  });
});
