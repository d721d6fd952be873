import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { DIVERGING, EXAMPLE, parseDoc, run, tempLog } from './helpers.js';

describe('bare memhp (the embedded default machine)', () => {
  it('replays the kmem walkthrough and shows every view', async () => {
    const r = await run([], { check: checkStep });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id  → ok\n');
    expect(r.out).toContain('echo online_movable > /sys/devices/system/memory/memory17/state  → EINVAL\n');
    // Profile 6.12: really_probe's dev_err form (probeFailedDevErr).
    expect(r.out).toContain('    kernel: device_dax dax0.0: probe with driver device_dax failed with error -16\n');
    for (const title of ['/proc/iomem', 'lsmem', '/proc/meminfo', 'daxctl list']) expect(r.out).toContain(`\n== ${title} ==\n`);
    const iomem = r.out.slice(r.out.indexOf('== /proc/iomem =='));
    expect(iomem).toContain('\n    88000000-9fffffff : System RAM (kmem)\n');
    expect(r.out).toContain('Memory block size:       128M');
    expect(r.out.endsWith('13 events, 0 violations, 0 divergences\n')).toBe(true);
  });

  it('prints the read values indented under the command', async () => {
    const r = await run([]);
    expect(r.out).toContain('cat /proc/meminfo  → ok\n    MemTotal:');
    expect(r.out).toContain('cat /proc/iomem  → ok\n    00000000-7fffffff : System RAM\n');
  });

  it('--json gives the document with every view', async () => {
    const r = await run(['--json']);
    expect(r.code).toBe(0);
    const doc = parseDoc(r.out);
    expect(Object.keys(doc)).toEqual(['events', 'state', 'violations', 'divergences', 'views']);
    expect(Object.keys(doc.views ?? {})).toEqual(['iomem', 'lsmem', 'meminfo', 'devices', 'maps', 'memmap']);
  });
});

describe('memhp replay', () => {
  it('--json prints exactly the SPEC §4 document', async () => {
    const r = await run(['replay', EXAMPLE, '--json'], { check: checkStep });
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const doc = parseDoc(r.out);
    expect(Object.keys(doc)).toEqual(['events', 'state', 'violations', 'divergences']);
    expect(doc.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(doc.events[1]).toEqual({ seq: 2, type: 'write', path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0', result: { ok: true } });
    expect(doc.events[7]?.result).toEqual({ ok: false, errno: 'EINVAL' });
    expect(doc.events[0]?.result.value).toContain('80200000-9fffffff : dax0.0');
    expect(Object.keys(doc.state)).toEqual(['kernel', 'iomem', 'memoryBlockSize', 'blocks', 'devices', 'memTotalKiB']);
    expect(doc.state.memoryBlockSize).toBe('0x8000000');
    const ids = doc.state.blocks.map((b) => b.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(doc.state.blocks.find((b) => b.id === 17)).toEqual({ id: 17, state: 'online', zone: 'Movable', node: 0, vmemmapPages: 0 });
    expect(doc.state.devices).toEqual([{ name: 'dax0.0', state: 'online', driver: null, targetNode: 0 }]);
    expect(doc.state.iomem).toContain('    88000000-9fffffff : System RAM (kmem)\n');
    expect(doc.violations).toEqual([]);
    expect(doc.divergences).toEqual([]);
  });

  it('--until stops after that seq (human and JSON)', async () => {
    const j = await run(['replay', EXAMPLE, '--until', '5', '--json']);
    expect(j.code).toBe(0);
    const doc = parseDoc(j.out);
    expect(doc.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(doc.state.blocks.find((b) => b.id === 17)?.state).toBe('online');
    expect(doc.state.blocks.find((b) => b.id === 18)).toMatchObject({ state: 'offline', zone: null });
    expect(doc.state.devices[0]).toMatchObject({ state: 'online', driver: 'kmem' });
    const h = await run(['replay', EXAMPLE, '--until=3', '--show', 'none']);
    expect(h.out).toContain('kmem/new_id  → ok\n');
    expect(h.out).not.toContain('memory17');
    expect(h.out).not.toContain('== ');
  });

  it('--until past the end replays everything', async () => {
    const doc = parseDoc((await run(['replay', EXAMPLE, '--until', '999', '--json'])).out);
    expect(doc.events).toHaveLength(12);
  });

  it('--show picks the views, in the order given', async () => {
    const r = await run(['replay', EXAMPLE, '--show', 'devices,lsmem']);
    expect(r.out).not.toContain('== /proc/iomem ==');
    expect(r.out).not.toContain('== /proc/meminfo ==');
    expect(r.out.indexOf('== daxctl list ==')).toBeLessThan(r.out.indexOf('== lsmem =='));
    const doc = parseDoc((await run(['replay', EXAMPLE, '--show', 'iomem', '--json'])).out);
    expect(Object.keys(doc.views ?? {})).toEqual(['iomem']);
  });

  it('replays without views unless asked', async () => {
    const r = await run(['replay', EXAMPLE]);
    expect(r.out).not.toContain('== ');
  });

  it('reads standard input for "-"', async () => {
    const stdin = Readable.from(DIVERGING.slice(0, 2).map((l) => `${l}\n`));
    const r = await run(['replay', '-', '--json'], { stdin });
    expect(r.code).toBe(0);
    expect(parseDoc(r.out).events[0]?.result).toEqual({ ok: true, value: '8000000\n' });
  });

  it('exits 1 and reports a divergence with its seq', async () => {
    const log = tempLog('diverging.jsonl', DIVERGING);
    const h = await run(['replay', log]);
    expect(h.code).toBe(1);
    expect(h.out).toContain('echo offline > /sys/devices/system/memory/memory3/state  → EINVAL\n  ✗ divergence at seq 2: recorded → ok, model → EINVAL\n');
    const j = await run(['replay', log, '--json']);
    expect(j.code).toBe(1);
    expect(parseDoc(j.out).divergences).toEqual([{ seq: 2, recorded: { ok: true }, model: { ok: false, errno: 'EINVAL' } }]);
  });

  it('exits 1 and reports violations from the checker, in red with colour on', async () => {
    const r = await run(['replay', EXAMPLE, '--show', 'none'], {
      color: true,
      check: (step) => (step.seq === 5 ? [{ seq: step.seq, index: step.index, invariant: 'test-invariant', message: 'made up' }] : []),
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain('\x1b[31m  ✗ violation at seq 5: test-invariant: made up\x1b[39m');
    const j = await run(['replay', EXAMPLE, '--json'], {
      check: (step) => (step.seq === 5 ? [{ seq: step.seq, index: step.index, invariant: 'test-invariant', message: 'made up' }] : []),
    });
    expect(j.code).toBe(1);
    expect(parseDoc(j.out).violations).toEqual([{ seq: 5, invariant: 'test-invariant', message: 'made up' }]);
  });

  it('numbers events without seq by their place in the log', async () => {
    const log = tempLog('noseq.jsonl', [DIVERGING[0] ?? '', '{"type":"read","path":"/sys/devices/system/memory/auto_online_blocks"}']);
    const doc = parseDoc((await run(['replay', log, '--json'])).out);
    expect(doc.events[0]).toMatchObject({ seq: 1, type: 'read' });
  });

  it('is deterministic: the same log gives byte-identical output', async () => {
    for (const argv of [[], ['--json'], ['replay', EXAMPLE, '--json'], ['check', EXAMPLE]]) {
      const a = await run(argv, { check: checkStep });
      const b = await run(argv, { check: checkStep });
      expect(b.out).toBe(a.out);
      expect(b.code).toBe(a.code);
    }
  });
});
