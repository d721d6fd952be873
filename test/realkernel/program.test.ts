/**
 * Program events on the real kernel (src/realkernel/program.ts): the /ops.txt
 * line harness/guest/ddx.c reads, its RESULT lines, and the oops line taken
 * from the kernel's messages.
 */
import { describe, expect, it } from 'vitest';
import { parseLogText } from '../../src/log/index.js';
import { decodeProgramResult, oopsLine, programLine, programOutcome } from '../../src/realkernel/program.js';
import { decodeResult, opsText } from '../../src/realkernel/protocol.js';
import { guestOps, planRecord } from '../../src/realkernel/record.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const hex = (s: string) => Buffer.from(s).toString('hex');
const TRACE = fileURLToPath(new URL('../traces/hmem/walkthrough.jsonl', import.meta.url));

/** A log on the hmem machine (the boot of a recorded trace) with these steps. */
function log(lines: string[]) {
  const bootLine = readFileSync(TRACE, 'utf8').split('\n').find((l) => l.startsWith('{"type":"boot"')) ?? '';
  return parseLogText([bootLine, ...lines].join('\n'), 'test.jsonl').map((l) => l.event);
}

/** Just the steps. */
function events(lines: string[]) {
  return log(lines).slice(1);
}

describe('programLine: one /ops.txt line per program event', () => {
  it('hex-encodes handles and paths, writes numbers in decimal and flag lists comma-separated', () => {
    const [open, mmap, fixed, mremap, fork, access, exit] = events([
      '{"type":"open","pid":"p1","fd":"f1","path":"/dev/dax0.0","flags":"rdonly+sync"}',
      '{"type":"mmap","pid":"p1","map":"m1","fd":"f1","length":"2M","offset":"4K","prot":"r","flags":["shared","populate"]}',
      '{"type":"mmap","pid":"p1","map":"m2","fd":"f1","length":"2M","prot":"rw","flags":["shared","fixed"],"addr":{"map":"m1","offset":"2M"}}',
      '{"type":"mremap","pid":"p1","map":"m1","offset":"0","length":"2M","newLength":"4M","flags":["maymove"]}',
      '{"type":"fork","pid":"p1","child":"p2"}',
      '{"type":"access","pid":"p2","map":"m1","offset":"8","op":"write","value":"0xff"}',
      '{"type":"exit","pid":"p2"}',
    ]);
    const line = (e: typeof open) => {
      if (e === undefined || e.type === 'boot' || e.type === 'write' || e.type === 'read' || e.type === 'inject' || e.type === 'reboot') throw new Error('not a program event');
      return programLine(e);
    };
    expect(line(open)).toBe(`open ${hex('p1')} ${hex('f1')} ${hex('/dev/dax0.0')} rdonly+sync`);
    expect(line(mmap)).toBe(`mmap ${hex('p1')} ${hex('m1')} ${hex('f1')} 2097152 4096 r shared,populate - 0`);
    expect(line(fixed)).toBe(`mmap ${hex('p1')} ${hex('m2')} ${hex('f1')} 2097152 0 rw shared,fixed ${hex('m1')} 2097152`);
    expect(line(mremap)).toBe(`mremap ${hex('p1')} ${hex('m1')} 0 2097152 4194304 maymove - 0`);
    expect(line(access)).toBe(`access ${hex('p2')} ${hex('m1')} 8 write 255`);
    expect(line(fork)).toBe(`fork ${hex('p1')} ${hex('p2')}`);
    expect(line(exit)).toBe(`exit ${hex('p2')}`);
  });

  it('a version-2 log plans as guest operations: sysfs ones as before, program ones as ddx lines', () => {
    const plan = planRecord(
      log([
        '{"type":"open","pid":"p1","fd":"f1","path":"/dev/dax0.0","flags":"rdwr"}',
        '{"type":"mmap","pid":"p1","map":"m1","fd":"f1","length":"4M","prot":"rw","flags":["shared"]}',
        '{"type":"write","path":"/sys/bus/dax/drivers/device_dax/unbind","value":"dax0.0"}',
        '{"type":"access","pid":"p1","map":"m1","offset":"0","op":"read"}',
      ]),
      'hmem',
    );
    expect(plan.ops.map((o) => o.type)).toEqual(['program', 'program', 'write', 'program']);
    expect(opsText(guestOps(plan.steps))).toBe(
      `1 open ${hex('p1')} ${hex('f1')} ${hex('/dev/dax0.0')} rdwr\n2 mmap ${hex('p1')} ${hex('m1')} ${hex('f1')} 4194304 0 rw shared - 0\n` +
        `3 write ${hex('/sys/bus/dax/drivers/device_dax/unbind')} ${hex('dax0.0')}\n4 access ${hex('p1')} ${hex('m1')} 0 read 0\n`,
    );
  });
});

describe("ddx's RESULT lines", () => {
  it('decodes a word or address, an errno, a signal with its code, and a death', () => {
    expect(decodeResult('RESULT value 0x7ffff7a00000')).toEqual({ kind: 'program', result: { kind: 'word', value: '0x7ffff7a00000' } });
    expect(decodeResult('RESULT errno ENXIO')).toEqual({ kind: 'error', stage: 'call', errno: 'ENXIO' });
    expect(decodeResult('RESULT signal SIGBUS BUS_ADRERR')).toEqual({ kind: 'program', result: { kind: 'signal', signal: 'SIGBUS', code: 'BUS_ADRERR' } });
    expect(decodeResult('RESULT signal SIGSEGV SEGV_ACCERR')).toEqual({ kind: 'program', result: { kind: 'signal', signal: 'SIGSEGV', code: 'SEGV_ACCERR' } });
    expect(decodeResult('RESULT died -1')).toEqual({ kind: 'program', result: { kind: 'died', status: -1 } });
    expect(decodeResult('RESULT ok')).toEqual({ kind: 'ok' });
  });

  it('refuses what a log cannot hold: an unknown signal code, a value that is no hex word', () => {
    expect(decodeResult('RESULT signal SIGBUS code7').kind).toBe('harness');
    expect(decodeResult('RESULT value 12').kind).toBe('harness');
    expect(decodeProgramResult('RESULT ok')).toBeNull();
  });
});

describe('oops outcomes', () => {
  it("takes the oops's first line from the kernel's messages, timestamps stripped", () => {
    const lines = ['[    5.1] dax dax0.0: p1: dax_mmap: fail', '[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008', '[   12.35] #PF: supervisor read access in kernel mode'];
    expect(oopsLine(lines)).toBe('BUG: kernel NULL pointer dereference, address: 0000000000000008');
    expect(oopsLine(['general protection fault, probably for non-canonical address 0xdead: 0000 [#1] PREEMPT SMP NOPTI'])).toMatch(/^general protection fault/);
    expect(oopsLine(['refcount_t: underflow; use-after-free.'])).toBeNull();
  });

  it('a process that died is an oops only when the kernel printed one', () => {
    expect(programOutcome({ kind: 'died', status: -1 }, 'BUG: unable to handle page fault for address: ffd4000006800008')).toEqual({
      ok: false,
      oops: 'BUG: unable to handle page fault for address: ffd4000006800008',
    });
    expect(programOutcome({ kind: 'died', status: 9 }, null)).toHaveProperty('unrecordable');
    expect(programOutcome({ kind: 'word', value: '0x0' }, null)).toEqual({ ok: true, value: '0x0' });
  });
});
