/** Recording's pure parts (src/realkernel/record.ts): the plan, comments, the written log. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLogText } from '../../src/log/index.js';
import type { LogEvent } from '../../src/log/events.js';
import { shapeBoot } from '../../src/realkernel/generate.js';
import { MACHINES } from '../../src/realkernel/machine.js';
import { commentsByEvent, guestOps, planRecord, RecordRefused, renderRecording, type Recording } from '../../src/realkernel/record.js';

const TRACE = new URL('../traces/hmem/stale-pgmap.jsonl', import.meta.url);

describe('planRecord', () => {
  it('accepts a recorded trace (its results are ignored) and turns its events into guest operations', () => {
    const events = parseLogText(readFileSync(TRACE, 'utf8'), 'stale-pgmap').map((l) => l.event);
    const plan = planRecord(events);
    expect(plan.def.name).toBe('hmem');
    expect(plan.ops).toHaveLength(events.length - 1);
    expect(plan.ops[0]).toEqual({ type: 'write', path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0', raw: false });
  });

  it('refuses inject events and a second machine', () => {
    const boot = shapeBoot(MACHINES.pmem);
    expect(() => planRecord([boot, { type: 'inject', site: 'add_memory', errno: 'ENOMEM', nth: 1 }])).toThrow(RecordRefused);
    expect(() => planRecord([boot], 'hmem')).toThrow(/matches no harness machine/);
    expect(guestOps([{ type: 'write', path: '/x', value: '', raw: true }])).toEqual([{ type: 'write', path: '/x', value: '', raw: true }]);
  });
});

describe('commentsByEvent and renderRecording', () => {
  it('keeps each comment before its event and writes a valid log with a header', () => {
    const boot = JSON.stringify({ type: 'boot', memoryBlockSize: '128M', ram: [{ start: 0, size: '1G', node: 0 }] });
    const text = ['// about the machine', boot, '', '// step one', '{"type":"read","path":"/proc/iomem"}', '// recorded on Linux old (dropped)', '{"type":"read","path":"/proc/meminfo"}'].join('\n');
    const located = parseLogText(text, 'x');
    expect(commentsByEvent(text, located)).toEqual([['// about the machine'], ['// step one'], ['// recorded on Linux old (dropped)']]);
    const events: LogEvent[] = located.map((l, i) => (l.event.type === 'boot' ? l.event : { ...l.event, seq: i, result: { ok: true, value: 'v\n' } }));
    const first = events[0];
    if (first?.type !== 'boot') throw new Error('no boot');
    const rec: Recording = { machine: MACHINES.hmem, uname: '6.1.0-test', boot: { json: {}, event: first, notes: [] }, events, seconds: 1, notes: [], consoleLog: '' };
    const out = renderRecording(rec, commentsByEvent(text, located));
    expect(out.split('\n').filter((l) => l.startsWith('//'))).toEqual(['// recorded on Linux 6.1.0-test by memhp kernel record (machine hmem) in 1.0 s under QEMU', '// about the machine', '// step one']);
    const again = parseLogText(out, 'out').map((l) => l.event);
    expect(again.slice(1).map((e) => e.result)).toEqual([{ ok: true, value: 'v\n' }, { ok: true, value: 'v\n' }]);
  });
});
