import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { INVARIANT_NAMES, checkStep } from '../../properties/invariants/index.js';
import { MUST_SUCCEED } from '../../properties/mustSucceed.js';
import { checkAll } from '../../properties/sequence.js';
import { runFuzz } from '../../src/cli/commands/fuzz.js';
import type { CliContext } from '../../src/cli/context.js';
import { fuzzConfig } from '../../src/cli/fuzz/options.js';
import type { FuzzDocument } from '../../src/cli/fuzz/report.js';
import { VARIANT_NAMES } from '../../src/kernel/profile.js';
import { BIN, EXAMPLE, ROOT, run } from './helpers.js';

const check = checkAll(checkStep);
const VARIANT = 'walk-top-level-only';
const tempDir = (): string => mkdtempSync(join(tmpdir(), 'memhp-fuzz-'));
const doc = (out: string): FuzzDocument => JSON.parse(out) as FuzzDocument;
/** The --json text before the clock-dependent part (the last key). */
const untimed = (out: string): string => out.slice(0, out.indexOf('\n  "timing"'));

describe('memhp fuzz', () => {
  it('a short default run exits 0 and prints the summary with coverage denominators', async () => {
    const r = await run(['fuzz', '--runs', '50', '--seed', '7', '--out', join(tempDir(), 'f')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^memhp fuzz: seed 7, 50 runs of up to 30 steps, variant none; failures saved under /);
    expect(r.out).toMatch(/\nruns: +50 \(/);
    expect(r.out).toMatch(/\nsteps: +\d+ \([\d.]+ steps\/s\); valid \d+ \(\d+\.\d%\), succeeded \d+ \(\d+\.\d%\)\n/);
    for (const what of ['transitions', 'errnos', 'branches']) expect(r.out).toMatch(new RegExp(`\\n  ${what} +\\d+/\\d+`));
    expect(r.out).toMatch(/\n  goals +\d+\/\d+ reached\n/);
    // Issue 9, item 7: counts by default, the missing items only with --coverage.
    expect(r.out).toMatch(/\n  errnos +\d+\/\d+, \d+ missing\n/);
    expect(r.out).not.toContain('never reached');
    expect(r.out.split('\n').length).toBeLessThan(15);
    const detail = await run(['fuzz', '--runs', '50', '--seed', '7', '--out', join(tempDir(), 'f'), '--coverage']);
    expect(detail.out).toContain('\n    never reached  ');
    expect(detail.out).toMatch(/\n  errnos +\d+\/\d+, missing:\n    /);
    expect(r.out.endsWith('OK: no failures\n')).toBe(true);
  });

  it('the default seed is fixed and printed; --seconds alone, and both limits (whichever comes first)', async () => {
    const out = join(tempDir(), 'f');
    const a = await run(['fuzz', '--runs', '3', '--out', out, '--json']);
    expect(doc(a.out).config).toMatchObject({ seed: 1, runs: 3, seconds: null, steps: 30, variant: null });
    expect((await run(['fuzz', '--runs', '3', '--out', out])).out).toMatch(/^memhp fuzz: seed 1, /);
    const t = doc((await run(['fuzz', '--seconds', '0.3', '--out', out, '--json'])).out);
    expect(t.config).toMatchObject({ runs: null, seconds: 0.3 });
    expect(t.runs).toBeGreaterThan(0);
    expect(t.timing.elapsedMs).toBeLessThan(5000);
    expect(doc((await run(['fuzz', '--runs', '4', '--seconds', '60', '--out', out, '--json'])).out).runs).toBe(4);
  });

  it('--json is one document, deterministic for a seed apart from "timing"', async () => {
    const out = join(tempDir(), 'f');
    const a = await run(['fuzz', '--runs', '50', '--seed', '7', '--out', out, '--json']);
    const b = await run(['fuzz', '--runs', '50', '--seed', '7', '--out', out, '--json']);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    const d = doc(a.out);
    expect(Object.keys(d)).toEqual(['config', 'knownFindings', 'interrupted', 'replayed', 'runs', 'steps', 'validSteps', 'okSteps', 'validShare', 'okShare', 'failed', 'failures', 'coverage', 'timing']);
    expect(Object.keys(d.timing)).toEqual(['elapsedMs', 'runsPerSecond', 'stepsPerSecond', 'shrinkMs']);
    expect(d.validShare).toBeCloseTo(d.validSteps / d.steps, 3);
    expect(d.coverage.transitions.total).toBeGreaterThan(0);
    expect(d.coverage.transitions.reached + d.coverage.transitions.missing.length).toBe(d.coverage.transitions.total);
    expect(untimed(a.out).length).toBeGreaterThan(100);
    expect(untimed(a.out)).toBe(untimed(b.out));
    const c = await run(['fuzz', '--runs', '50', '--seed', '8', '--out', out, '--json']);
    expect(untimed(c.out)).not.toBe(untimed(a.out));
  });

  it('a bug variant fails (exit 1), saves a replayable log, and the next run replays it first', async () => {
    const out = join(tempDir(), 'f');
    const r = await run(['fuzz', '--variant', VARIANT, '--runs', '200', '--seed', '7', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\nfailures: [1-9]\d*\n  1\. must-succeed:online: /);
    expect(r.out).toMatch(/\n     shrunk to \d+ events from \d+ in \d+ ms\n/);
    const files = readdirSync(out).map((f) => join(out, f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(r.out).toContain(`\n     replay: memhp replay ${f}\n`);
    const file = files[0] as string;
    expect(readFileSync(file, 'utf8')).toContain(`// variant: ${VARIANT}`);
    const again = await run(['replay', file], { check });
    expect(again.code).toBe(1);
    expect(again.out).toContain('must-succeed:online');

    const second = await run(['fuzz', '--runs', '1', '--seed', '7', '--out', out]);
    expect(second.code).toBe(1);
    expect(second.out).toContain(`\nsaved failures replayed: ${files.length}, still failing: ${files.length}\n`);
    expect(second.out).toContain(`  FAILS   ${file}: must-succeed:online: `);
    expect(second.out.indexOf('saved failures replayed')).toBeLessThan(second.out.indexOf('\nruns:'));
    const j = doc((await run(['fuzz', '--runs', '1', '--seed', '7', '--out', out, '--json'])).out);
    expect(j.replayed.map((x) => x.stillFails)).toEqual(files.map(() => true));
    expect(j.failed).toBe(files.length);
  });

  it('a saved log that no longer fails is reported as passing and does not fail the run', async () => {
    const out = tempDir();
    copyFileSync(EXAMPLE, join(out, 'fixed.jsonl'));
    const r = await run(['fuzz', '--runs', '5', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`saved failures replayed: 1, still failing: 0\n  passes  ${join(out, 'fixed.jsonl')}\n`);
  });

  it('--junit writes well-formed JUnit XML: a testcase per property, a <failure> for the violated one', async () => {
    const dir = tempDir();
    const xml = join(dir, 'report.xml');
    const r = await run(['fuzz', '--variant', VARIANT, '--runs', '200', '--seed', '7', '--out', join(dir, 'f'), '--junit', xml]);
    expect(r.code).toBe(1);
    const errors: string[] = [];
    const parsed = new DOMParser({ onError: (level, msg) => void (level === 'warning' || errors.push(`${level}: ${msg}`)) }).parseFromString(readFileSync(xml, 'utf8'), 'text/xml');
    expect(errors).toEqual([]);
    const suites = parsed.getElementsByTagName('testsuite');
    expect(suites.length).toBe(1);
    expect(suites[0]?.getAttribute('name')).toBe('memhp fuzz');
    const cases = Array.from(parsed.getElementsByTagName('testcase'));
    const names = cases.map((c) => c.getAttribute('name'));
    expect(names).toEqual([...INVARIANT_NAMES, ...MUST_SUCCEED.map((m) => m.name), 'saved failures replayed']);
    const failed = cases.filter((c) => c.getElementsByTagName('failure').length > 0).map((c) => c.getAttribute('name'));
    expect(failed).toEqual(['must-succeed:online']);
    expect(suites[0]?.getAttribute('failures')).toBe('1');
    expect(suites[0]?.getAttribute('tests')).toBe(String(cases.length));
    const body = cases.find((c) => c.getAttribute('name') === 'must-succeed:online')?.getElementsByTagName('failure')[0]?.textContent ?? '';
    expect(body).toContain('memhp replay ');
    expect(body).toContain('{"type":"boot"');

    const clean = join(dir, 'clean.xml');
    expect((await run(['fuzz', '--runs', '5', '--out', join(dir, 'g'), '--junit', clean])).code).toBe(0);
    expect(readFileSync(clean, 'utf8')).not.toContain('<failure');
  });

  it('bad options exit 2 with a message naming what was expected', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const cases: Array<[string[], RegExp]> = [
      [['--runs', '0'], /--runs <N>.*'0' is invalid\. expected the number of runs/],
      [['--runs', 'abc'], /'abc' is invalid/],
      [['--seconds', '-1'], /expected a positive number of seconds/],
      [['--seconds', 'soon'], /expected a positive number of seconds/],
      [['--steps', '0'], /expected the most steps per run: a whole number from 1 to 10000/],
      [['--steps', '10001'], /from 1 to 10000/],
      [['--seed', '1.5'], /--seed <S>.*expected a whole number from -2147483648 to 4294967295/],
      [['--seed', '4294967296'], /expected a whole number/],
      [['--variant', 'nope'], new RegExp(`unknown variant "nope": expected one of none, ${VARIANT_NAMES.join(', ')}\\.`)],
      [['--shard', '2/2'], /expected I\/N with 0 <= I < N/],
      [['--shard', '0/0'], /expected I\/N/],
      [['--shard', '1-2'], /expected I\/N/],
      [['--progress', 'fancy'], /expected one of auto, bar, plain, none/],
      [['--out', join(dir, 'file')], /--out .*file: not a directory/],
      [['--junit', join(dir, 'missing', 'r.xml')], /--junit .*: the directory .*missing does not exist/],
      [['--junit', dir], /is a directory/],
      [['--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['fuzz', '--runs', '1', '--out', join(dir, 'f'), ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.err).toMatch(message);
      expect(r.out).toBe('');
    }
    expect(existsSync(join(dir, 'f'))).toBe(false);
  });

  it('--shard I/N: the shards run different seeds, each deterministically', async () => {
    const out = join(tempDir(), 'f');
    const shard = async (s: string) => untimed((await run(['fuzz', '--runs', '30', '--seed', '3', '--shard', s, '--out', out, '--json'])).out).replace(/"shard": \{[^}]*\}/, '');
    const [a0, a1, b0, b1] = [await shard('0/2'), await shard('1/2'), await shard('0/2'), await shard('1/2')];
    expect(a0).toBe(b0);
    expect(a1).toBe(b1);
    expect(a0).not.toBe(a1);
    const v = doc((await run(['fuzz', '--variant', VARIANT, '--runs', '150', '--seed', '7', '--shard', '1/3', '--out', join(tempDir(), 'g'), '--json'])).out);
    expect(v.failures.length).toBeGreaterThan(0);
    for (const f of v.failures) expect(f.run % 3).toBe(1);
  });
});

describe('memhp fuzz interrupted', () => {
  function ctxFor(): { ctx: CliContext; out: () => string } {
    let out = '';
    const ctx: CliContext = { io: { stdout: (s) => void (out += s), stderr: () => undefined }, check: undefined, color: pc.createColors(false), errColor: pc.createColors(false), stdin: undefined, exitCode: 0 };
    return { ctx, out: () => out };
  }

  it('stops between runs, prints the summary so far, exit 130 (1 with failures, which are saved)', async () => {
    const ac = new AbortController();
    const { ctx, out } = ctxFor();
    setTimeout(() => ac.abort(), 300);
    const r = await runFuzz(ctx, fuzzConfig({ seconds: 60, out: join(tempDir(), 'f'), progress: 'none' }), ac.signal);
    expect(r.elapsedMs).toBeLessThan(10_000);
    expect(ctx.exitCode).toBe(130);
    expect(out()).toContain('interrupted (SIGINT): the summary so far');
    expect(out()).toContain('OK: no failures (interrupted)');

    const bad = ctxFor();
    const dir = join(tempDir(), 'f');
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 500);
    const r2 = await runFuzz(bad.ctx, fuzzConfig({ seconds: 60, variant: VARIANT, out: dir, progress: 'none' }), ac2.signal);
    expect(r2.failures.length).toBeGreaterThan(0);
    expect(bad.ctx.exitCode).toBe(1);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
  });

  it('a real SIGINT to bin/memhp.js: plain progress lines, then the summary and exit 130', async () => {
    const child = spawn(process.execPath, [BIN, 'fuzz', '--seconds', '60', '--out', join(tempDir(), 'f')], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // Once only: a second SIGINT ends the process at once (Node's default action).
      if (!sent && /^fuzz: \d+ runs, \d+ steps/m.test(err)) sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(err).toContain('memhp fuzz: interrupted; finishing the current run');
    expect(code).toBe(130);
    expect(out).toMatch(/^memhp fuzz: seed 1, 60 s of up to 30 steps/);
    expect(out).toContain('OK: no failures (interrupted)');
  });
});
