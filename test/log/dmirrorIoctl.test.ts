/**
 * test_hmm's commands in the log (SPEC §9): an ioctl event with a dmirror
 * command takes struct hmm_dmirror_cmd's inputs as mappings and offsets, its
 * outcome carries the output fields (`out`), and both survive a write and a
 * read back, reach the guest helper as one line, and come back from it.
 */
import { describe, expect, it } from 'vitest';
import { parseLogText, shellCommand, writeEvent } from '../../src/log/index.js';
import type { LogEvent } from '../../src/log/events.js';
import type { ProgramEvent } from '../../src/log/programEvents.js';
import { sameOutcome } from '../../src/replay/compare.js';
import { decodeProgramResult, programLine, programOutcome } from '../../src/realkernel/program.js';
import { BOOT, expectLogError } from './helpers.js';

const step = (json: string) => `${BOOT}\n${json}`;
const ioctl = (args: string, extra = '') => step(`{"type":"ioctl","pid":"p1","fd":"f2","cmd":"HMM_DMIRROR_SNAPSHOT","args":${args}${extra}}`);

function events(text: string): LogEvent[] {
  return parseLogText(text, 'x.jsonl').map((l) => l.event);
}

describe('dmirror ioctl events', () => {
  it('parse into mappings and offsets, write back the same, read back equal', () => {
    const text = ioctl('{"addr":{"map":"m1","offset":"0x2000"},"npages":"16","ptr":{"map":"m2","offset":"0"}}', ',"seq":3,"result":{"ok":true,"out":{"cpages":16,"faults":0}}');
    const [, e] = events(text);
    expect(e).toEqual({
      type: 'ioctl',
      pid: 'p1',
      fd: 'f2',
      cmd: 'HMM_DMIRROR_SNAPSHOT',
      args: { addr: { map: 'm1', offset: 0x2000n }, npages: 16n, ptr: { map: 'm2', offset: 0n } },
      seq: 3,
      result: { ok: true, out: { cpages: 16, faults: 0 } },
    });
    const line = writeEvent(e as LogEvent);
    expect(line).toBe('{"seq":3,"type":"ioctl","pid":"p1","fd":"f2","cmd":"HMM_DMIRROR_SNAPSHOT","args":{"addr":{"map":"m1","offset":"0x2000"},"npages":"0x10","ptr":{"map":"m2","offset":"0x0"}},"result":{"ok":true,"out":{"cpages":16,"faults":0}}}');
    expect(events(step(line))[1]).toEqual(e);
  });

  it('a command without a buffer leaves ptr out (NULL), written without it', () => {
    const [, e] = events(step('{"type":"ioctl","pid":"p1","fd":"f2","cmd":"HMM_DMIRROR_RELEASE","args":{"addr":{"map":"m1","offset":"0"},"npages":"1"}}'));
    expect(e).toMatchObject({ args: { ptr: null } });
    expect(writeEvent(e as LogEvent)).not.toContain('"ptr"');
    expect(shellCommand(e as LogEvent)).toBe('p1: ioctl(f2, HMM_DMIRROR_RELEASE, {addr=m1, ptr=NULL, npages=1})');
  });

  it('bad arguments name the field and what the command takes', () => {
    expectLogError(ioctl('{"npages":"1"}'), { line: 2, field: 'args.addr', expected: 'an address {"map","offset"}' });
    expectLogError(ioctl('{"start":"0","length":"4096"}'), { line: 2, field: 'args.start', expected: 'a known field (addr, npages, ptr)' });
    expectLogError(ioctl('{"addr":{"map":"m1","offset":"0"},"npages":"-1"}'), { line: 2, field: 'args.npages', expected: 'a hex' });
    expectLogError(step('{"type":"ioctl","pid":"p1","fd":"f2","cmd":"HMM_DMIRROR_MIGRATE","args":{}}'), { line: 2, field: 'cmd', expected: '"HMM_DMIRROR_MIGRATE_TO_DEV"' });
    // A block command keeps its own arguments.
    expectLogError(step('{"type":"ioctl","pid":"p1","fd":"f2","cmd":"BLKDISCARD","args":{"addr":{"map":"m1","offset":"0"},"npages":"1"}}'), { line: 2, field: 'args.addr', expected: 'a known field (start, length)' });
  });

  it('out belongs to a success, with non-negative integers', () => {
    expectLogError(ioctl('{"addr":{"map":"m1","offset":"0"},"npages":"1"}', ',"result":{"ok":false,"errno":"EINVAL","out":{"cpages":0}}'), { line: 2, field: 'result.out', expected: 'no out when "ok" is false' });
    expectLogError(ioctl('{"addr":{"map":"m1","offset":"0"},"npages":"1"}', ',"result":{"ok":true,"out":{"cpages":-1}}'), { line: 2, field: 'result.out.cpages', expected: 'a non-negative integer' });
  });

  it('a recorded out agrees only with the same fields and values', () => {
    const rec = { ok: true as const, out: { cpages: 2, faults: 1 } };
    expect(sameOutcome(rec, { ok: true, out: { cpages: 2, faults: 1 } })).toBe(true);
    expect(sameOutcome(rec, { ok: true, out: { cpages: 2, faults: 0 } })).toBe(false);
    expect(sameOutcome(rec, { ok: true, out: { cpages: 2 } })).toBe(false);
    expect(sameOutcome(rec, { ok: true })).toBe(false);
    expect(sameOutcome(rec, { ok: false, errno: 'EINVAL' })).toBe(false);
  });

  it('reaches ddx as one line and comes back as an outcome', () => {
    const [, e] = events(ioctl('{"addr":{"map":"m1","offset":"0x1000"},"npages":"2","ptr":{"map":"m2","offset":"8"}}'));
    // Handles hex-encoded as every ddx string: p1 = 7031, f2 = 6632, m1 = 6d31, m2 = 6d32.
    expect(programLine(e as ProgramEvent)).toBe('dmirror 7031 6632 HMM_DMIRROR_SNAPSHOT 6d31 4096 6d32 8 2');
    const r = decodeProgramResult('RESULT out cpages=2 faults=1');
    expect(r).toEqual({ kind: 'out', out: { cpages: 2, faults: 1 } });
    expect(programOutcome(r as Exclude<typeof r, null | { kind: 'bad' }>, null)).toEqual({ ok: true, out: { cpages: 2, faults: 1 } });
    expect(decodeProgramResult('RESULT out cpages=x')).toMatchObject({ kind: 'bad' });
  });
});
