/** `memhp kernel ...`: what it refuses before any guest boots (no QEMU needed). */
import { describe, expect, it } from 'vitest';
import { run, tempLog, EXAMPLE } from '../cli/helpers.js';

const HMEM_BOOT = JSON.stringify({
  type: 'boot',
  kernel: '6.1',
  config: { memoryHotremove: true },
  memoryBlockSize: '128M',
  ram: [{ start: '0x0', size: '3G', node: 0 }, { start: '0x100000000', size: '2G', node: 0 }],
  daxRegions: [{ id: 0, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 1, devices: [{ name: 'dax0.0', start: '0x180000000', size: '1G' }] }],
});

describe('memhp kernel', () => {
  it('lists its subcommands', async () => {
    const r = await run(['kernel', '--help']);
    expect(r.code).toBe(0);
    for (const c of ['record', 'diff', 'machine', 'fuzz']) expect(r.out).toContain(c);
  });

  it('diff refuses (exit 2) a log whose boot no harness machine has, and says why', async () => {
    const r = await run(['kernel', 'diff', EXAMPLE]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('matches no harness machine');
    expect(r.err).toContain('memhp kernel machine hmem|pmem');
  });

  it('record refuses inject events: fault injection is model-only', async () => {
    const log = tempLog('inject.jsonl', [HMEM_BOOT, JSON.stringify({ type: 'inject', site: 'add_memory', errno: 'ENOMEM' })]);
    const r = await run(['kernel', 'record', log, '--out', `${log}.out`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('model-only');
  });

  it('record refuses follow_pfn events: the KVM and VFIO users are model-only', async () => {
    const log = tempLog('pfn.jsonl', [HMEM_BOOT, JSON.stringify({ type: 'follow_pfn', pid: 'p1', map: 'm1', offset: '0', op: 'read', user: 'vfio' })]);
    const r = await run(['kernel', 'record', log, '--out', `${log}.out`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('follow_pfn (vfio): KVM and VFIO users are model-only');
  });

  it('record refuses a log for the other machine when --machine names one', async () => {
    const log = tempLog('hmem.jsonl', [HMEM_BOOT]);
    const r = await run(['kernel', 'record', log, '--out', `${log}.out`, '--machine', 'pmem']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('pmem (legacy pmem');
  });

  it('checks its options', async () => {
    expect((await run(['kernel', 'machine', 'cxl'])).code).toBe(2);
    expect((await run(['kernel', 'record', EXAMPLE])).code).toBe(2);
    expect((await run(['kernel', 'fuzz', '--runs', '0'])).code).toBe(2);
    expect((await run(['kernel', 'fuzz', '--runs', '1', '--steps', '9-3'])).code).toBe(2);
    expect((await run(['kernel', 'diff', EXAMPLE, '--machine', 'cxl'])).code).toBe(2);
    expect((await run(['kernel', 'diff', EXAMPLE, '--profile', '4.19'])).code).toBe(2);
  });

  it('--kernel-version takes one of the harness kernels, and not together with --kernel', async () => {
    const bad = await run(['kernel', 'machine', 'hmem', '--kernel-version', '6.8']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--kernel-version: expected 6.1 or 6.12');
    const log = tempLog('hmem.jsonl', [HMEM_BOOT]);
    const both = await run(['kernel', 'record', log, '--out', `${log}.out`, '--kernel-version', '6.12', '--kernel', '/nonexistent/bzImage']);
    expect(both.code).toBe(2);
    expect(both.err).toContain('give one or the other');
  });
});
