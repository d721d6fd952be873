import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { DIVERGING, EXAMPLE, run, tempLog } from './helpers.js';

describe('memhp check', () => {
  it('exits 0 on the example with every invariant checked', async () => {
    const r = await run(['check', EXAMPLE], { check: checkStep });
    expect(r).toEqual({ code: 0, out: 'OK: 13 events, 0 violations, 0 divergences\n', err: '' });
  });

  it('--json gives the count and the empty lists', async () => {
    const r = await run(['check', EXAMPLE, '--json'], { check: checkStep });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ checked: 13, violations: [], divergences: [] });
  });

  it('exits 1 on a recorded result that diverges, printing only what went wrong', async () => {
    const log = tempLog('check-diverging.jsonl', DIVERGING);
    const r = await run(['check', log], { check: checkStep });
    expect(r.code).toBe(1);
    expect(r.out).toBe('  ✗ divergence at seq 2: recorded → ok, model → EINVAL\nFAILED: 3 events, 0 violations, 1 divergence\n');
    const j = await run(['check', log, '--json'], { check: checkStep });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toEqual({
      checked: 3,
      violations: [],
      divergences: [{ seq: 2, recorded: { ok: true }, model: { ok: false, errno: 'EINVAL' } }],
    });
  });

  it('shows a differing read value in the divergence', async () => {
    const log = tempLog('check-value.jsonl', [
      DIVERGING[0] ?? '',
      '{"seq":1,"type":"read","path":"/sys/devices/system/memory/block_size_bytes","result":{"ok":true,"value":"10000000\\n"}}',
    ]);
    const r = await run(['check', log]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('recorded → ok "10000000\\n", model → ok "8000000\\n"');
  });

  it('lists violations and divergences in log order', async () => {
    const log = tempLog('check-both.jsonl', DIVERGING);
    const r = await run(['check', log], {
      check: (step) => (step.index === 1 || step.index === 2 ? [{ seq: step.seq, index: step.index, invariant: 'fake', message: `at ${step.index}` }] : []),
    });
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toEqual([
      '  ✗ violation at seq 1: fake: at 1',
      '  ✗ divergence at seq 2: recorded → ok, model → EINVAL',
      '  ✗ violation at seq 2: fake: at 2',
      'FAILED: 3 events, 2 violations, 1 divergence',
      '',
    ]);
  });
});
