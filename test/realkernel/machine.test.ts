/**
 * The machine derivation (src/realkernel/machine.ts): from the facts a real
 * guest reported at boot to the memhp boot event, and matching a log's boot
 * to a harness machine.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLogText, writeEvent } from '../../src/log/index.js';
import type { BootEvent } from '../../src/log/events.js';
import { summarize } from '../../src/realkernel/facts.js';
import { shapeBoot } from '../../src/realkernel/generate.js';
import { harnessKernelFor } from '../../src/realkernel/guest.js';
import { deriveBoot, matchMachine, MACHINES, profileFor, staticBusy, type MachineName } from '../../src/realkernel/machine.js';
import { parseConsole } from '../../src/realkernel/protocol.js';
import { replay } from '../../src/replay/engine.js';
import { checkStep } from '../../properties/invariants/index.js';

const fixture = (m: MachineName) => readFileSync(new URL(`./fixtures/${m}-boot.console.txt`, import.meta.url), 'utf8');
const UNMOVABLE: Record<MachineName, number[]> = { hmem: [32, 47], pmem: [32, 39, 48, 55] };

function derive(m: MachineName) {
  const c = parseConsole(fixture(m));
  const facts = summarize(c.uname ?? '', c.facts['boot'] ?? {}, c.links['boot'] ?? {});
  return { facts, boot: deriveBoot(facts, { unmovable: UNMOVABLE[m], daxDrivers: (c.has['boot'] ?? []).map((p) => p.split('/').pop() ?? '') }) };
}

function corpusBoot(file: string): BootEvent {
  const ev = parseLogText(readFileSync(new URL(`../traces/${file}`, import.meta.url), 'utf8'), file)[0]?.event;
  if (ev?.type !== 'boot') throw new Error(`${file} has no boot`);
  return ev;
}

describe('deriveBoot on the hmem guest (Debian 6.1.0-56-cloud-amd64)', () => {
  const { facts, boot } = derive('hmem');
  const b = boot.event;

  it('reads the kernel, the config and the block size from the guest', () => {
    expect(facts.uname).toBe('6.1.0-56-cloud-amd64');
    expect(b.kernel).toBe('6.1');
    expect(b.config).toMatchObject({ memoryHotremove: true, autoOnline: 'offline', memmapOnMemory: false, devDaxKmem: true, movableNode: false });
    expect(b.memoryBlockSize).toBe(0x8000000n);
    expect(boot.notes).toEqual([]);
  });

  it('takes boot RAM from the top-level System RAM lines, as /proc/iomem has them', () => {
    expect(b.ram.map((r) => [r.start, r.size, r.node])).toEqual([
      [0x1000n, 0x9ec00n, 0],
      [0x100000n, 0xbfee0000n, 0],
      [0x100000000n, 0x80000000n, 0],
    ]);
  });

  it('describes the rest of /proc/iomem in iomem[], hmem.0 as the parent of the Soft Reserved region', () => {
    const names = b.iomem.map((e) => e.name);
    expect(names).toContain('Kernel code');
    expect(names).toContain('PCI Bus 0000:00');
    expect(names).not.toContain('System RAM');
    expect(names).not.toContain('Soft Reserved');
    expect(names).not.toContain('dax0.0');
    const hmem = b.iomem.find((e) => e.name === 'hmem.0');
    expect(hmem).toMatchObject({ start: 0x180000000n, end: 0x1bfffffffn, busy: false });
    expect(b.daxRegions).toEqual([
      expect.objectContaining({ id: 0, kind: 'hmem', name: 'Soft Reserved', start: 0x180000000n, size: 1n << 30n, targetNode: 1, namespace: null }),
    ]);
    expect(b.daxRegions[0]?.devices).toEqual([expect.objectContaining({ name: 'dax0.0', ranges: [{ start: 0x180000000n, size: 1n << 30n }], driver: 'device_dax' })]);
  });

  it('computes reservedKiB from MemTotal at boot', () => {
    const ramKiB = b.ram.reduce((s, r) => s + Number((r.start + r.size) / 4096n - r.start / 4096n) * 4, 0);
    expect(ramKiB - b.reservedKiB).toBe(facts.memTotalKiB);
  });

  it('replays to the /proc/iomem and MemTotal the guest printed', () => {
    const c = parseConsole(fixture('hmem'));
    const iomem = c.facts['boot']?.['/proc/iomem'];
    const r = replay([b, { type: 'read', path: '/proc/iomem', seq: 1, result: { ok: true, value: typeof iomem === 'string' ? iomem : '' } }], { check: checkStep });
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.final.managedPages * 4).toBe(facts.memTotalKiB);
  });

  it('is the boot the corpus was recorded with', () => {
    expect(writeEvent(b)).toBe(writeEvent(corpusBoot('hmem/walkthrough.jsonl')));
  });
});

describe('deriveBoot on the pmem guest', () => {
  const { boot } = derive('pmem');
  const b = boot.event;

  it('gives the legacy pmem region with the namespace metadata ndctl reserved and dax0.0 after it', () => {
    expect(b.daxRegions).toEqual([
      expect.objectContaining({ kind: 'pmem', name: 'Persistent Memory (legacy)', start: 0x140000000n, size: 1n << 30n, targetNode: 0, namespace: { name: 'namespace0.0', size: 18n << 20n } }),
    ]);
    expect(b.daxRegions[0]?.devices[0]).toMatchObject({ name: 'dax0.0', ranges: [{ start: 0x141200000n, size: 0x3ee00000n }], driver: 'device_dax' });
  });

  it('splits boot RAM by node: node 1 is the GiB at 0x180000000', () => {
    expect(b.ram.map((r) => r.node)).toEqual([0, 0, 0, 1]);
    expect(b.ram[3]).toEqual({ start: 0x180000000n, size: 1n << 30n, node: 1 });
  });

  it('is the boot the corpus was recorded with', () => {
    expect(writeEvent(b)).toBe(writeEvent(corpusBoot('pmem/walkthrough.jsonl')));
  });
});

describe('matchMachine', () => {
  it('matches each derived boot, and each generator boot, to its own machine only', () => {
    for (const m of ['hmem', 'pmem'] as const) {
      const b = derive(m).boot.event;
      expect(matchMachine(b)).toMatchObject({ ok: true, machine: { name: m } });
      expect(matchMachine(shapeBoot(MACHINES[m]))).toMatchObject({ ok: true, machine: { name: m } });
      const other = m === 'hmem' ? 'pmem' : 'hmem';
      expect(matchMachine(b, other).ok).toBe(false);
    }
  });

  it('accepts a hand-written boot of the same shape (block-aligned RAM, defaults)', () => {
    const b = parseLogText(readFileSync(new URL('../../examples/hmem-node1.jsonl', import.meta.url), 'utf8'), 'hmem-node1.jsonl')[0]?.event;
    expect(b?.type === 'boot' && matchMachine(b).ok).toBe(true);
  });

  it('refuses a machine the harness does not have, naming every difference', () => {
    const b = parseLogText(readFileSync(new URL('../../examples/qemu-pmem-kmem.jsonl', import.meta.url), 'utf8'), 'x')[0]?.event;
    if (b?.type !== 'boot') throw new Error('no boot');
    const m = matchMachine(b);
    expect(m.ok).toBe(false);
    if (m.ok) return;
    expect(m.message).toContain('matches no harness machine');
    expect(m.message).toContain('daxRegions[0] is 0x80000000+512M, the machine\'s is 0x140000000+1G');
    expect(m.message).toContain('ram[] covers blocks 0-15 (node 0), 32-47 (node 0)');
  });
});

describe('profileFor and staticBusy', () => {
  it('picks the newest profile not newer than the kernel', () => {
    expect(profileFor('6.1.0-56-cloud-amd64')).toEqual({ profile: '6.1', exact: true });
    expect(profileFor('6.5.3')).toEqual({ profile: '6.1', exact: false });
    expect(profileFor('6.12.0-rc1')).toEqual({ profile: '6.12', exact: true });
    expect(profileFor('6.12.118+deb12-cloud-amd64')).toEqual({ profile: '6.12', exact: true });
    expect(profileFor('6.10.2')).toEqual({ profile: '6.8', exact: false });
    expect(profileFor('5.0.0')).toBeNull();
    expect(profileFor('garbage')).toBeNull();
  });

  it("boots the harness kernel a log's boot.kernel names, else the default (6.12)", () => {
    expect(harnessKernelFor('6.1')).toBe('6.1');
    expect(harnessKernelFor('6.12')).toBe('6.12');
    expect(harnessKernelFor('6.8')).toBe('6.12');
    expect(harnessKernelFor('5.1')).toBe('6.12');
    expect(harnessKernelFor(undefined)).toBe('6.12');
  });

  it('marks what e820 and setup_arch reserve as BUSY, not bus windows or platform devices', () => {
    expect(['Reserved', 'Kernel code', 'System ROM', 'IOAPIC 0', 'Local APIC'].every(staticBusy)).toBe(true);
    expect(['PCI Bus 0000:00', 'hmem.0', 'PNP0103:00'].some(staticBusy)).toBe(false);
  });
});
