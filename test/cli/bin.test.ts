import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, DIVERGING, EXAMPLE, ROOT, parseDoc, tempLog } from './helpers.js';

function spawn(args: string[], env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: merged, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bin/memhp.js as a process', () => {
  it('replays the example as one JSON document, exit 0', () => {
    const r = spawn(['replay', EXAMPLE, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const doc = parseDoc(r.out);
    expect(doc.events).toHaveLength(12);
    expect(doc.state.blocks.find((b) => b.id === 17)).toMatchObject({ state: 'online', zone: 'Movable' });
  });

  it('bare memhp shows /proc/iomem with the kmem memory', () => {
    const r = spawn([], { NO_COLOR: '1' });
    expect(r.code).toBe(0);
    expect(r.out).toContain('    88000000-9fffffff : System RAM (kmem)\n');
  });

  it('exits 1 on a divergence and 2 on a missing file, without a stack trace', () => {
    expect(spawn(['check', tempLog('bin-div.jsonl', DIVERGING)]).code).toBe(1);
    const r = spawn(['replay', 'missing.jsonl']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^memhp: missing\.jsonl: /);
    expect(r.err).not.toMatch(/^\s+at /m);
  });

  it('NO_COLOR=1 gives no escape codes, even with FORCE_COLOR', () => {
    const log = tempLog('bin-color.jsonl', DIVERGING);
    for (const args of [[], ['check', log], ['replay', log], ['replay', 'missing.jsonl']]) {
      const r = spawn(args, { NO_COLOR: '1', FORCE_COLOR: '1' });
      expect(r.out + r.err).not.toContain('\x1b');
    }
  });

  it('FORCE_COLOR without NO_COLOR does colour (so the test above means something)', () => {
    const r = spawn(['check', tempLog('bin-color2.jsonl', DIVERGING)], { NO_COLOR: undefined, FORCE_COLOR: '1' });
    expect(r.out).toContain('\x1b[31m');
  });

  it('output is byte-identical across runs', () => {
    const a = spawn([], { NO_COLOR: '1' });
    const b = spawn([], { NO_COLOR: '1' });
    expect(b.out).toBe(a.out);
  });
});

describe('colour decision (colorWanted)', () => {
  it('is off for a pipe even when CI is set, on for a TTY, NO_COLOR wins, FORCE_COLOR forces', async () => {
    const { colorWanted } = await import('../../src/cli/main.js');
    expect(colorWanted({ CI: 'true' }, false)).toBe(false);
    expect(colorWanted({}, true)).toBe(true);
    expect(colorWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colorWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorWanted({ TERM: 'dumb' }, true)).toBe(false);
  });
});
