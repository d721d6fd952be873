/**
 * The dmirror commands the model answers (src/kernel/hmm/dmirrorIoctl.ts),
 * against what the custom hmm kernel (Debian 6.1.192 + DEVICE_PRIVATE,
 * TEST_HMM=y) answered to the same log: every command the model mirrors
 * agrees, including /proc/iomem after HMM_DMIRROR_RELEASE and the mirrored
 * mm outliving its process; the four divergences are READ and SNAPSHOT of a
 * device-dax mapping (hmm_range_fault there needs the devmap entry's write
 * bit, which the model does not keep) and the buffer words they filled.
 * On anonymous memory the same commands agree with the kernel
 * (test/traces-custom/hmm/dmirror-anon.jsonl). EXCLUSIVE and CHECK_EXCLUSIVE
 * are modelled (no longer ENOTTY under a not-modelled branch): their recorded
 * logs are test/kernel/hmmExclusive.test.ts's; here, their common paths.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { boot, runChecked, type Json } from '../helpers/machine.js';

const TRANSCRIPT = 'harness/transcripts/hmm/dmirror-ioctl-smoke.recorded.jsonl';

describe('dmirror commands against the real kernel', () => {
  const events = parseLogText(readFileSync(TRANSCRIPT, 'utf8'), TRANSCRIPT).map((l) => l.event);
  const r = replay(events, { check: makeChecker() });

  it('agrees on everything but the commands not modelled yet', () => {
    expect(r.divergences.map((d) => d.seq)).toEqual([8, 9, 11, 12]);
    // hmm_range_fault over a device-dax vma needs the devmap PMD's write bit, which the model does not keep.
    for (const seq of [8, 11]) expect(r.steps.find((s) => s.seq === seq)?.branches).toContain('hmm_range_fault:ENOTTY(not-modelled:file-vma)');
    expect(r.violations).toEqual([]);
  });

  it('takes the kernel paths it claims', () => {
    const branches = (seq: number) => r.steps.find((s) => s.seq === seq)?.branches ?? [];
    expect(branches(6)).toEqual(['dmirror_fops_unlocked_ioctl:EINVAL(addr)']);
    expect(branches(7)).toEqual(['dmirror_fops_unlocked_ioctl:EINVAL(npages)']);
    expect(branches(10)).toEqual(['migrate_vma_setup:EINVAL(vma_is_dax)']);
    expect(branches(17)).toEqual(['dmirror_migrate_to_device:EINVAL(no-vma)']);
    // npages << PAGE_SHIFT wraps to 0 in 64 bits.
    expect(branches(18)).toEqual(['dmirror_fops_unlocked_ioctl:EINVAL(npages)']);
    // The child's inherited fd still mirrors the parent's mm: the dax vma there, then the mm gone.
    expect(branches(20)).toEqual(['migrate_vma_setup:EINVAL(vma_is_dax)']);
    expect(branches(22)).toEqual(['dmirror_migrate_to_system:EINVAL(mm-gone)']);
  });

  it('RELEASE gives the device chunks back to iomem', () => {
    const iomem = (seq: number) => {
      const o = r.steps.find((s) => s.seq === seq)?.outcome;
      return o?.ok === true ? (o.value ?? '').split('\n').filter((l) => l.includes('hmm_dmirror')) : [];
    };
    expect(iomem(16)).toEqual(['fce0000000-fcefffffff : hmm_dmirror']);
    expect(iomem(27)).toEqual([]);
    expect(r.final.hmm.devices.map((d) => d.chunks.length)).toEqual([0, 0]);
  });
});

describe('dmirror commands on a machine out of memory', () => {
  it('WRITE whose write faults find no page: hmm_vma_fault fails with EFAULT and the ioctl copies nothing back', () => {
    // 72 MiB of RAM: the anonymous pool is [64 MiB, 72 MiB), 2,048 pages; the device asks to write 4,096.
    const small = boot({ kernel: '6.1', ram: [{ start: '0x0', size: '72M', node: 0 }] }, { thp: 'never', devicePrivate: true, testHmm: 'y', physAddrBits: 40 });
    const anon = (map: string, length: string): Json => ({ type: 'mmap', pid: 'p1', map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'] });
    const r = runChecked(
      small,
      { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/hmm_dmirror0', flags: 'rdwr' },
      anon('m1', '16M'),
      anon('m2', '16M'),
      { type: 'ioctl', pid: 'p1', fd: 'f1', cmd: 'HMM_DMIRROR_WRITE', args: { addr: { map: 'm1', offset: '0' }, npages: '4096', ptr: { map: 'm2', offset: '0' } } },
    );
    expect(r.results.at(-1)).toBe('EFAULT');
    expect(r.steps.at(-1)?.branches).toEqual(expect.arrayContaining(['do_anonymous_page:VM_FAULT_OOM', 'hmm_vma_fault:EFAULT']));
    expect(r.violations).toEqual([]);
  });
});

describe('EXCLUSIVE and CHECK_EXCLUSIVE', () => {
  const hmm = boot({ kernel: '6.1' }, { thp: 'never', devicePrivate: true, testHmm: 'y', physAddrBits: 40 });
  const anon = (pid: string, map: string, length: string): Json => ({ type: 'mmap', pid, map, fd: null, length, offset: '0', prot: 'rw', flags: ['private'] });
  const cmd = (pid: string, c: string, npages: string, offset = '0'): Json => ({ type: 'ioctl', pid, fd: 'f1', cmd: c, args: { addr: { map: 'm1', offset }, npages, ptr: { map: 'm2', offset: '0' } } });

  it('answer as dmirror_exclusive / dmirror_check_atomic do, never ENOTTY; the mirrored mm gone: EXCLUSIVE EINVAL, CHECK_EXCLUSIVE 0', () => {
    const r = runChecked(
      hmm,
      { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/hmm_dmirror0', flags: 'rdwr' },
      anon('p1', 'm1', '64K'),
      anon('p1', 'm2', '64K'),
      cmd('p1', 'HMM_DMIRROR_EXCLUSIVE', '4'),
      cmd('p1', 'HMM_DMIRROR_CHECK_EXCLUSIVE', '4'),
      // The common checks first: an unaligned address.
      cmd('p1', 'HMM_DMIRROR_EXCLUSIVE', '1', '0x10'),
      { type: 'fork', pid: 'p1', child: 'p2' },
      cmd('p2', 'HMM_DMIRROR_CHECK_EXCLUSIVE', '4'),
      { type: 'exit', pid: 'p1' },
      cmd('p2', 'HMM_DMIRROR_EXCLUSIVE', '4'),
      cmd('p2', 'HMM_DMIRROR_CHECK_EXCLUSIVE', '4'),
    );
    expect(r.results.slice(3)).toEqual(['ok', 'EPERM', 'EINVAL', 'ok', 'ok', 'ok', 'EINVAL', 'ok']);
    expect(r.steps[3]?.outcome).toEqual({ ok: true, out: { cpages: 4, faults: 0 } });
    expect(r.steps[10]?.outcome).toEqual({ ok: true, out: { cpages: 0, faults: 0 } });
    expect(r.steps.flatMap((s) => s.branches)).not.toContain('dmirror_fops_unlocked_ioctl:ENOTTY(not-modelled)');
    expect(r.violations).toEqual([]);
  });
});
