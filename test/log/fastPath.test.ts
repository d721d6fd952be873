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
