/**
 * `memhp explore`: exit status, the JSON document, failures saved and
 * replayable, --machine from a log, --cover --emit, and bad usage (exit 2,
 * naming what was expected).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { run, tempLog } from './helpers.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'memhp-explore-cli-'));

/** The document without "timing" (the clock's), as text. */
function stable(out: string): string {
  const doc = JSON.parse(out) as Record<string, unknown>;
  delete doc['timing'];
  return JSON.stringify(doc);
}

describe('memhp explore', () => {
  it('exhausts a preset clean (exit 0) with counts, coverage denominators and the same bytes apart from timing', async () => {
    const a = await run(['explore', '--preset', 'cxl-memmap', '--json', '--out', tmp()]);
    const b = await run(['explore', '--preset', 'cxl-memmap', '--json', '--out', tmp()]);
    expect(a.code).toBe(0);
    const doc = JSON.parse(a.out) as { states: number; exhausted: boolean; failures: unknown[]; coverage: { transitions: { total: number } }; timing: unknown };
    expect(doc.exhausted).toBe(true);
    expect(doc.states).toBeGreaterThan(10);
    expect(doc.failures).toEqual([]);
    expect(doc.coverage.transitions.total).toBe(16 + 7 + 21);
    expect(Object.keys(doc).at(-1)).toBe('timing');
    expect(stable(a.out).replace(/"out":"[^"]*"/, '')).toBe(stable(b.out).replace(/"out":"[^"]*"/, ''));
    const human = await run(['explore', '--preset', 'cxl-memmap', '--out', tmp()]);
    expect(human.out).toMatch(/states: +\d[\d,]* distinct, [\d,]+ transitions, depth \d+, exhausted/);
    expect(human.out).toContain('OK: no invariant violated');
  });

  it('a bug variant fails (exit 1) and saves a shortest counterexample that replays to the violation', async () => {
    const out = tmp();
    const r = await run(['explore', '--preset', 'hmem-no-node', '--variant', 'kmem-accepts-invalid-node', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/node-respected in 3 events/);
    const files = readdirSync(out);
    expect(files.length).toBeGreaterThan(0);
    const file = join(out, files[0] as string);
    expect(readFileSync(file, 'utf8')).toMatch(/^\/\/ memhp explore failure/);
    const rep = await run(['check', file], { check: checkStep });
    expect(rep.code).toBe(1);
  });

  it('--machine searches a log\'s boot; --depth bounds it (not exhausted)', async () => {
    const log = tempLog('machine.jsonl', [
      JSON.stringify({ type: 'boot', kernel: '6.8', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '1G', node: 0 }], daxRegions: [{ id: 0, kind: 'hmem', start: '0x200000000', size: '128M', targetNode: 1, devices: [{ name: 'dax0.0', start: '0x200000000', size: '128M', driver: 'device_dax' }] }] }),
    ]);
    const r = await run(['explore', '--machine', log, '--depth', '2', '--ops', 'driver,block', '--json', '--out', tmp()]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { depth: number; exhausted: boolean; config: { ops: string[] } };
    expect(doc.depth).toBe(2);
    expect(doc.exhausted).toBe(false);
    expect(doc.config.ops).toEqual(['driver', 'block']);
  });

  it('--cover --emit writes logs without model-only events', async () => {
    const dir = tmp();
    const r = await run(['explore', '--preset', 'hmem-no-node', '--ops', 'driver,block,read', '--cover', '--emit', dir, '--out', tmp()]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/cover: +\d+ targets in \d+ sequences? /);
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8')).not.toContain('"inject"');
  });

  it.each<[string[], RegExp]>([
    [['--preset', 'nope'], /--preset nope: unknown preset; expected one of pmem-2blocks/],
    [['--ops', 'driver,nope'], /unknown operation kind "nope": expected a comma-separated list of driver, block/],
    [['--depth', '0'], /expected a depth: a whole number from 1/],
    [['--variant', 'nope'], /unknown variant "nope"/],
    [['--patches', 'kmem-persist-v2'], /unknown patch series "kmem-persist-v2"/],
    [['--emit', '/tmp/x'], /--emit DIR needs --cover/],
    [['--isolated'], /--isolated needs --cover/],
    [['--cover', '--emit', '/tmp/x', '--ops', 'driver,fault'], /fault are model only/],
    [['--preset', 'pmem-2blocks', '--machine', 'x.jsonl'], /give one machine, not both/],
    [['--machine', '/nonexistent.jsonl'], /--machine \/nonexistent.jsonl: no such file/],
  ])('bad usage %j: exit 2 naming what was expected', async (args, message) => {
    const r = await run(['explore', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a bad boot in --machine names the file, line and field (exit 2)', async () => {
    const log = tempLog('bad-boot.jsonl', ['// a comment', JSON.stringify({ type: 'boot', kernel: '6.8', memoryBlockSize: 'huge', ram: [] })]);
    const r = await run(['explore', '--machine', log]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad-boot.jsonl');
    expect(r.err).toMatch(/bad-boot\.jsonl:2/);
    expect(r.err).toContain('memoryBlockSize');
  });

  it('--list names every preset and operation kind', async () => {
    const r = await run(['explore', '--list']);
    expect(r.code).toBe(0);
    for (const name of ['pmem-2blocks', 'hmem-hotremove', 'two-nodes', 'hmem-6.1', 'hmem-programs', 'driver', 'fault', 'rebind', 'program']) expect(r.out).toContain(name);
    expect(r.out).toContain('(model only)');
    expect(r.out).toContain('(opt-in: name it in --ops)');
  });

  it('with programs, reports a known finding (B3 at depth 4) and exits 0; --known none makes it a failure', async () => {
    const r = await run(['explore', '--preset', 'hmem-programs', '--depth', '4', '--json', '--out', tmp()]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { config: { ops: string[]; symmetry: boolean }; failures: unknown[]; knownFindings: Array<{ id: string; length: number }> };
    expect(doc.config.ops).toEqual(['rebind', 'program']);
    expect(doc.failures).toEqual([]);
    expect(doc.knownFindings).toContainEqual(expect.objectContaining({ id: 'B3', length: 5 }));
    const human = await run(['explore', '--preset', 'hmem-programs', '--depth', '4', '--out', tmp()]);
    expect(human.out).toMatch(/known: +\d+ known finding/);
    const none = await run(['explore', '--preset', 'hmem-programs', '--depth', '4', '--known', 'none', '--json', '--out', tmp()]);
    expect(none.code).toBe(1);
  });
});
