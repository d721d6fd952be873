/**
 * The differential fuzzer's loop and shrinker (src/realkernel/fuzz.ts), with
 * a stand-in for the real kernel: the model itself, with one behaviour changed.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent, Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { compareWithModel } from '../../src/realkernel/diff.js';
import { fuzz, recheckSaved, shrink, type KernelRunner } from '../../src/realkernel/fuzz.js';
import { shapeBoot } from '../../src/realkernel/generate.js';
import { MACHINES } from '../../src/realkernel/machine.js';
import { Replayer } from '../../src/replay/engine.js';

/** A "kernel" that is the model except where `quirk` says otherwise; counts its runs. */
function fakeKernel(quirk: (e: LogEvent, model: Outcome) => Outcome | undefined): KernelRunner & { runs: number } {
  const runner = async (events: readonly LogEvent[]): Promise<readonly LogEvent[]> => {
    runner.runs++;
    const r = new Replayer({ keepSteps: false });
    return events.map((e) => {
      const { result: _ignored, ...bare } = e;
      const step = r.feed(bare as LogEvent);
      if (e.type === 'boot' || step === null) return bare as LogEvent;
      return { ...(bare as LogEvent), result: quirk(e, step.outcome) ?? step.outcome } as LogEvent;
    });
  };
  runner.runs = 0;
  return runner;
}

/** Offlining a hot-added block is refused, as if it held unmovable pages. */
const busyOffline = (e: LogEvent, model: Outcome): Outcome | undefined =>
  e.type === 'write' && /memory(4[89]|5\d)\/state$/.test(e.path) && e.value === 'offline' && model.ok ? { ok: false, errno: 'EBUSY' } : undefined;

const D = '/sys/bus/dax/drivers';
const M = '/sys/devices/system/memory';
const w = (path: string, value: string): LogEvent => ({ type: 'write', path, value, raw: false });
const r = (path: string): LogEvent => ({ type: 'read', path });

describe('shrink', () => {
  it('cuts what follows the divergence, drops reads and writes it does not need, within the run budget', async () => {
    const steps: LogEvent[] = [
      r('/proc/iomem'),
      w(`${M}/auto_online_blocks`, 'offline'),
      w(`${D}/device_dax/unbind`, 'dax0.0'),
      r(`${M}/memory48/state`),
      w(`${D}/kmem/new_id`, 'dax0.0'),
      w(`${D}/kmem/bind`, 'dax0.1'),
      w(`${M}/memory49/state`, 'online_movable'),
      w(`${M}/memory48/state`, 'online'),
      r('/proc/meminfo'),
      w(`${M}/memory48/state`, 'offline'),
      w(`${M}/memory49/state`, 'offline'),
    ].map((e, i) => ({ ...e, seq: i + 1 }) as LogEvent);
    const kernel = fakeKernel(busyOffline);
    const recorded = await kernel([shapeBoot(MACHINES.hmem), ...steps], 't');
    const d = compareWithModel(recorded).divergences[0];
    expect(d?.seq).toBe(10);
    if (d === undefined) return;
    const before = kernel.runs;
    const s = await shrink(recorded, d, 30, kernel, 't');
    expect(kernel.runs - before).toBe(s.runs);
    expect(s.runs).toBeLessThanOrEqual(30);
    const left = s.events.slice(1).map((e) => (e.type === 'write' ? `${e.path.split('/').slice(-2).join('/')}=${e.value}` : e.type));
    expect(left).toEqual(['device_dax/unbind=dax0.0', 'kmem/new_id=dax0.0', 'memory48/state=online', 'memory48/state=offline']);
    const last = compareWithModel(s.events).divergences;
    expect(last.map((x) => x.index)).toEqual([s.events.length - 1]);
  });

  it('stops at the budget', async () => {
    const kernel = fakeKernel(busyOffline);
    const steps = [w(`${D}/device_dax/unbind`, 'dax0.0'), w(`${D}/kmem/new_id`, 'dax0.0'), w(`${M}/memory48/state`, 'online'), w(`${M}/memory48/state`, 'offline')];
    const recorded = await kernel([shapeBoot(MACHINES.hmem), ...steps.map((e, i) => ({ ...e, seq: i + 1 }) as LogEvent)], 't');
    const d = compareWithModel(recorded).divergences[0];
    if (d === undefined) throw new Error('no divergence');
    const s = await shrink(recorded, d, 2, kernel, 't');
    expect(s.runs).toBe(2);
  });
});

describe('fuzz', () => {
  it('finds nothing when the kernel is the model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'memhp-kfuzz-'));
    const res = await fuzz({ runs: 8, seed: 7, machines: ['hmem', 'pmem'], minSteps: 10, maxSteps: 25, shrinkRuns: 5, outDir: out, jobs: 2, runner: fakeKernel(() => undefined) });
    expect(res.runs).toBe(8);
    expect(res.findings).toEqual([]);
    expect(res.errors).toEqual([]);
    expect(res.steps).toBeGreaterThanOrEqual(80);
  });

  it('saves each divergence as a shrunk, replayable log that `memhp check` (recheckSaved) still flags', async () => {
    const out = mkdtempSync(join(tmpdir(), 'memhp-kfuzz-'));
    const all = mkdtempSync(join(tmpdir(), 'memhp-kfuzz-all-'));
    const kernel = fakeKernel(busyOffline);
    const res = await fuzz({ runs: 12, seed: 3, machines: ['hmem'], minSteps: 20, maxSteps: 30, shrinkRuns: 12, outDir: out, saveAllDir: all, jobs: 1, runner: kernel });
    expect(res.findings.length).toBeGreaterThan(0);
    expect(readdirSync(all)).toHaveLength(12);
    for (const f of res.findings) {
      expect(f.kind).toBe('divergence');
      expect(f.signature).toBe('write /sys/devices/system/memory/memoryN/state="offline": kernel EBUSY, model ok');
      expect(f.shrunkSteps).toBeLessThanOrEqual(f.originalSteps);
      const text = readFileSync(f.file, 'utf8');
      expect(text).toMatch(/^\/\/ memhp kernel fuzz: seed 3, run \d+/);
      const events = parseLogText(text, f.file).map((l) => l.event);
      const c = compareWithModel(events);
      expect(c.divergences.map((d) => d.index)).toEqual([events.length - 1]);
    }
    expect(recheckSaved(out).failing).toHaveLength(res.findings.length);
    // The next fuzz run replays them first.
    const again = await fuzz({ runs: 1, seed: 4, machines: ['hmem'], minSteps: 10, maxSteps: 10, shrinkRuns: 0, outDir: out, jobs: 1, runner: fakeKernel(() => undefined) });
    expect(again.savedChecked).toBe(res.findings.length);
    expect(again.stillFailing).toHaveLength(res.findings.length);
  });

  it('reports a guest that fails as an error, not a finding', async () => {
    const out = mkdtempSync(join(tmpdir(), 'memhp-kfuzz-'));
    const res = await fuzz({
      runs: 2,
      seed: 1,
      machines: ['hmem'],
      minSteps: 10,
      maxSteps: 10,
      shrinkRuns: 0,
      outDir: out,
      jobs: 1,
      runner: async () => {
        throw new Error('the guest never reached /init');
      },
    });
    expect(res.findings).toEqual([]);
    expect(res.errors).toHaveLength(2);
    expect(res.errors[0]).toContain('the guest never reached /init');
  });
});
