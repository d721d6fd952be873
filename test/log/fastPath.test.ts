import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { parseEvent, parseWithSchemas } from '../../src/log/parse.js';

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch {
    return { ok: false };
  }
}

const nearlyValid = fc.record(
  {
    type: fc.constantFrom('write', 'read', 'inject', 'WRITE', 7),
    path: fc.oneof(fc.constantFrom('/proc/iomem', '/sys/devices/system/memory/memory17/state', 'relative', ''), fc.string()),
    value: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    raw: fc.oneof(fc.boolean(), fc.constant('yes')),
    seq: fc.oneof(fc.integer({ min: -2, max: 2 ** 53 }), fc.double(), fc.constant('1')),
    extra: fc.string(),
  },
  { requiredKeys: ['type'] },
);

describe('the write/read fast path in parseEvent', () => {
  test.prop([nearlyValid], { numRuns: 3000, seed: 11 })('accepts and builds exactly what the schemas accept and build', (raw) => {
    const fast = outcome(() => parseEvent(raw));
    const slow = outcome(() => parseWithSchemas(raw));
    expect(fast).toEqual(slow);
  });
});

const nearlyValidAccess = fc.record(
  {
    type: fc.constantFrom('access', 'procmem', 'ACCESS'),
    pid: fc.oneof(fc.constantFrom('p1', ''), fc.integer()),
    map: fc.oneof(fc.constantFrom('m1', ''), fc.constant(null)),
    offset: fc.oneof(fc.constantFrom('0x10', '8', '0x11', '2M', '4611686018427387904', '4611686018427387912', '-8', 'x'), fc.integer({ min: -16, max: 4096 }), fc.double()),
    op: fc.constantFrom('read', 'write', 'exec'),
    value: fc.oneof(fc.constantFrom('0x1', '18446744073709551615', '18446744073709551616', 'zz'), fc.integer({ min: -1, max: 9 })),
    seq: fc.oneof(fc.integer({ min: -2, max: 2 ** 53 }), fc.constant('1')),
    extra: fc.string(),
  },
  { requiredKeys: ['type'] },
);

describe('the access/procmem fast path in parseEvent', () => {
  test.prop([nearlyValidAccess], { numRuns: 3000, seed: 12 })('accepts and builds exactly what the schemas accept and build', (raw) => {
    const fast = outcome(() => parseEvent(raw));
    const slow = outcome(() => parseWithSchemas(raw));
    expect(fast).toEqual(slow);
  });
});

// Mostly valid fields, so that every rule decides some cases.
const handleArb = fc.oneof({ arbitrary: fc.constantFrom('p1', 'm1'), weight: 6 }, fc.constantFrom(''), fc.integer(), fc.constant(null));
const seqArb = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 99 }), weight: 4 }, fc.integer({ min: -2, max: 2 ** 53 }), fc.constant('1'));
const u64Arb = fc.oneof(
  { arbitrary: fc.constantFrom('0x1000', '4611686018427387904', '4611686018427387905', '0x4000000000000001'), weight: 4 },
  fc.constantFrom('0x11', '8', '4K', '2M', '-8', '0', '', 'x'),
  fc.integer({ min: -16, max: 8192 }),
  fc.double(),
  fc.constant(null),
);
// One record per event type with that type's keys (each optional), plus a stray key now and then.
const nearlyValidProgram = fc.oneof(
  fc.record({ type: fc.constantFrom('munmap', 'munmap', 'MUNMAP'), pid: handleArb, map: handleArb, offset: u64Arb, length: u64Arb, seq: seqArb, extra: fc.string() }, { requiredKeys: ['type', 'pid', 'map', 'length'] }),
  fc.record({ type: fc.constant('fork'), pid: fc.constantFrom('p1', 'p2', ''), child: fc.oneof(fc.constantFrom('p1', 'p2', ''), fc.integer()), seq: seqArb, extra: fc.string() }, { requiredKeys: ['type', 'pid', 'child'] }),
  fc.record({ type: fc.constant('exit'), pid: handleArb, seq: seqArb, extra: fc.string(), child: fc.constant('p2') }, { requiredKeys: ['type'] }),
  fc.record(
    {
      type: fc.constant('mmap'),
      pid: handleArb,
      map: handleArb,
      fd: fc.oneof({ arbitrary: fc.constantFrom('f1', null), weight: 6 }, fc.constantFrom(''), fc.integer()),
      length: u64Arb,
      offset: u64Arb,
      prot: fc.constantFrom('rw', 'r', 'none', 'w', 'RW', 1),
      flags: fc.oneof(
        { arbitrary: fc.array(fc.constantFrom('shared', 'private', 'validate', 'sync', 'populate', 'fixed'), { maxLength: 4 }), weight: 6 },
        fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 2 }),
        fc.constantFrom('shared', null),
      ),
      addr: fc.constantFrom({ map: 'm1', offset: '0x1000' }, { map: 'm1' }, null),
      seq: seqArb,
      extra: fc.string(),
    },
    { requiredKeys: ['type', 'pid', 'map', 'fd', 'length', 'prot', 'flags'] },
  ),
);

describe('the munmap/fork/exit/mmap fast path in parseEvent', () => {
  test.prop([nearlyValidProgram], { numRuns: 6000, seed: 13 })('accepts and builds exactly what the schemas accept and build', (raw) => {
    const fast = outcome(() => parseEvent(raw));
    const slow = outcome(() => parseWithSchemas(raw));
    expect(fast).toEqual(slow);
  });
});

// Mostly valid mmaps (every key but one right most of the time), so that each rule of the fast path decides cases.
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> => fc.oneof({ arbitrary: good, weight: 9 }, { arbitrary: bad, weight: 1 });
const nearlyValidMmap = fc.record(
  {
    type: fc.constant('mmap'),
    pid: mostly(fc.constant('p1'), fc.constantFrom('', 7)),
    map: mostly(fc.constantFrom('m1', 'm2'), fc.constantFrom('', null)),
    fd: mostly(fc.constantFrom('f1', null), fc.constantFrom('', 3)),
    length: mostly(fc.constantFrom('0x200000', '0x1000', '4611686018427387904'), fc.constantFrom('4611686018427387905', '-1', 'x', null)),
    offset: mostly(fc.constantFrom('0x0', '0x200000', '4611686018427387904'), fc.constantFrom('4611686018427387905', 'x', 1.5)),
    prot: mostly(fc.constantFrom('rw', 'r', 'none'), fc.constantFrom('w', 'RW', 1)),
    flags: mostly(fc.array(fc.constantFrom('shared', 'private', 'validate', 'sync', 'populate', 'fixed'), { maxLength: 3 }), fc.constantFrom(['bogus'], 'shared', [1])),
    addr: fc.constantFrom({ map: 'm1', offset: '0x1000' }),
    seq: mostly(fc.integer({ min: 1, max: 99 }), fc.constantFrom(0, '1', 1.5)),
    extra: fc.string(),
  },
  { requiredKeys: ['type', 'pid', 'map', 'fd', 'length', 'prot', 'flags'] },
).map((r) => {
  // addr and stray keys rarely: each sends the event the long way whatever the rest says.
  const { addr, extra, ...rest } = r;
  const seed = rest.map === 'm2' ? 1 : 0;
  return seed === 1 && addr !== undefined ? { ...rest, addr } : seed === 1 && extra !== undefined ? { ...rest, extra } : rest;
});

describe('the mmap fast path in parseEvent', () => {
  test.prop([nearlyValidMmap], { numRuns: 4000, seed: 14 })('accepts and builds exactly what the schemas accept and build', (raw) => {
    const fast = outcome(() => parseEvent(raw));
    const slow = outcome(() => parseWithSchemas(raw));
    expect(fast).toEqual(slow);
  });
});
