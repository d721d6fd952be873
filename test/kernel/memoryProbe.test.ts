/**
 * /sys/devices/system/memory/probe (src/kernel/memoryProbe.ts, probe_store of
 * drivers/base/memory.c v6.1) with CONFIG_ARCH_MEMORY_PROBE, and the seed claim
 * of the HMM area it checks (KERNEL-FACTS-HMM §4.3): a hot-add over a
 * device-private range is EEXIST after the "Unaddressable device" warning.
 * The last test replays a recording from the harness's custom kernel.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { checkAll } from '../../properties/sequence.js';
import { kstrtoull } from '../../src/kernel/kstrtox.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { boot, read, run, write, type Json } from '../helpers/machine.js';

const PROBE = '/sys/devices/system/memory/probe';
/** 6.1 with the probe file, and test_hmm's two 256 MiB device-private chunks at the top of a 40-bit space (as the custom kernel boots). */
const machine = (probe = true): Json =>
  boot(
    {
      kernel: '6.1',
      iomem: [
        { start: '0xfce0000000', end: '0xfcefffffff', name: 'hmm_dmirror', busy: true },
        { start: '0xfcf0000000', end: '0xfcffffffff', name: 'hmm_dmirror', busy: true },
      ],
    },
    { archMemoryProbe: probe },
  );

describe('kstrtoull (base 0)', () => {
  it('takes hex after "0x" and a hex digit, octal after a leading 0, decimal, an optional "+", one trailing newline', () => {
    const v = (s: string) => {
      const r = kstrtoull(s);
      return r.ok ? r.value : r.errno;
    };
    expect([v('0x180000000\n'), v('+0x10'), v('0777'), v('4096'), v('0')]).toEqual([0x180000000n, 16n, 511n, 4096n, 0n]);
    expect([v(''), v('garbage'), v('0x'), v('0xg'), v('12 '), v('1\n\n'), v('08')]).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL']);
    expect([v('18446744073709551615'), v('18446744073709551616'), v('0x10000000000000000')]).toEqual([(1n << 64n) - 1n, 'ERANGE', 'ERANGE']);
    // Base 16 (range_parse): "0x" optional, and no octal.
    const h = (s: string) => {
      const r = kstrtoull(s, 16);
      return r.ok ? r.value : r.errno;
    };
    expect([h('1a0000000'), h('0x1a0000000\n'), h('+010'), h('0x'), h('x1'), h('10000000000000000')]).toEqual([0x1a0000000n, 0x1a0000000n, 16n, 'EINVAL', 'EINVAL', 'ERANGE']);
  });
});

describe('probe_store', () => {
  it('exists only with CONFIG_ARCH_MEMORY_PROBE, write-only', () => {
    expect(run(machine(false), write(PROBE, '0x200000000')).results).toEqual(['ENOENT']);
    expect(run(machine(), read(PROBE)).results).toEqual(['EACCES']);
  });

  it('adds one offline block of plain System RAM at a block-aligned free address; the same address again is EEXIST; unaligned is EINVAL', () => {
    const r = run(machine(), write(PROBE, '0x200001000'), write(PROBE, '0x200000000'), read('/sys/devices/system/memory/memory64/state'), write(PROBE, '0x200000000'), read('/proc/iomem'));
    expect(r.results.slice(0, 4)).toEqual(['EINVAL', 'ok', 'offline\n', 'EEXIST']);
    expect(r.results[4]).toContain('200000000-207ffffff : System RAM\n');
  });

  it('every errno it documents: ERANGE past 2^64, E2BIG above MAX_PHYSMEM_BITS (mhp_range_allowed), ENOMEM from an allocation that fails in add_memory_resource', () => {
    const r = run(machine(), write(PROBE, '18446744073709551616'), write(PROBE, '0x400000000000'), { type: 'inject', site: 'add_memory', errno: 'ENOMEM' }, write(PROBE, '0x200000000'), read('/proc/iomem'));
    expect(r.results.slice(0, 2)).toEqual(['ERANGE', 'E2BIG']);
    expect(r.results[3]).toBe('ENOMEM');
    // release_memory_resource: the failed add leaves no System RAM behind.
    expect(r.results[4]).not.toContain('200000000-207ffffff');
  });

  it('over test_hmm\'s device-private chunk: the "Unaddressable device" warning of __request_region, then EEXIST; over System RAM EEXIST without it', () => {
    const r = run(machine(), write(PROBE, '0xfce0000000'), write(PROBE, '0x100000000'));
    expect(r.results).toEqual(['EEXIST', 'EEXIST']);
    expect(r.steps[0]?.outcome.log).toEqual(['resource: Unaddressable device hmm_dmirror [mem 0xfce0000000-0xfcefffffff] conflicts with [mem 0xfce0000000-0xfce7ffffff]']);
    expect(r.steps[1]?.outcome.log ?? []).toEqual([]);
  });

  it('the recording from the custom hmm kernel (test/traces-custom/hmm) replays with no divergence and no violation', () => {
    const file = new URL('../traces-custom/hmm/probe-device-private.jsonl', import.meta.url);
    const events = parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event);
    expect(events.filter((e) => e.type !== 'boot' && e.result === undefined)).toEqual([]);
    const r = replay(events, { check: checkAll(makeChecker()) });
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.steps.length).toBe(12);
  });
});
