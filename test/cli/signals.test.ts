/**
 * Issue 9, item 6: memhp under npm (`npx memhp`, `npm run fuzz`) runs as the
 * child of `sh -c`, and npm forwards a signal only to that shell. These
 * tests build the same chain without npm: a shell running bin/memhp.js,
 * with npm's npm_command in the environment or without it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporaryName, writeFileAtomic } from '../../src/util/atomicWrite.js';
import { BIN, ROOT } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'memhp-signals-'));

/** `sh -c 'node bin/memhp.js fuzz ...'` in its own process group; resolves once memhp has printed its header. */
async function fuzzUnderShell(underNpm: boolean) {
  const env: Record<string, string> = {};
  // npm test itself runs under npm: the variable is set or removed here, not inherited.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'npm_command') env[k] = v;
  if (underNpm) env['npm_command'] = 'exec';
  const child = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" fuzz --seconds 60 --progress none --out "${join(dir, 'out')}"`], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise<number>((resolve) => child.stdout.on('close', () => resolve(Date.now())));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('memhp fuzz: seed')) resolve();
    });
    child.on('error', reject);
  });
  const pid = child.pid;
  // Never `kill -0`/`-pid` of an unknown child: a group id of 0 is the caller's own group (vitest, npm, CI).
  if (pid === undefined || pid <= 1) throw new Error(`spawn gave no pid (${String(pid)})`);
  return { child, pid, closed, kill: () => spawnSync('kill', ['-KILL', '--', `-${pid}`]) };
}

/** Whether `p` settles within `ms`. */
async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

describe('memhp under npm (sh -c in between)', () => {
  it('stops when a SIGTERM to npm kills its shell, instead of running on orphaned', async () => {
    const run = await fuzzUnderShell(true);
    try {
      process.kill(run.pid, 'SIGTERM');
      // memhp's end closes the pipe it shares with the dead shell; without the watch it runs its 60 s.
      expect(await settles(run.closed, 8000)).toBe(true);
    } finally {
      run.kill();
    }
  });

  it('outside npm, a parent that exits does not stop it (memhp fuzz &, nohup)', async () => {
    const run = await fuzzUnderShell(false);
    try {
      process.kill(run.pid, 'SIGTERM');
      expect(await settles(run.closed, 1500)).toBe(false);
    } finally {
      run.kill();
    }
  });
});

describe('writeFileAtomic (saved failures, JUnit reports, kernel-fuzz divergences)', () => {
  it('a reader never sees part of a file while it is being written', async () => {
    const out = mkdtempSync(join(dir, 'atomic-'));
    const script = join(dir, 'writer.ts');
    writeFileSync(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(join(ROOT, 'src/util/atomicWrite.ts'))};\n` +
        `const body = 'x'.repeat(4 << 20);\n` +
        `for (let i = 0; ; i++) writeFileAtomic(${JSON.stringify(out)} + '/f' + (i % 2) + '.jsonl', body + 'END\\n');\n`,
    );
    const writer = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: 'ignore' });
    let reads = 0;
    const partial: string[] = [];
    try {
      // Polled for 1.5 s from the first file (the writer's start under tsx can take seconds on a busy machine).
      const started = Date.now();
      while (readdirSync(out).length === 0 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20));
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        for (const f of readdirSync(out).filter((x) => x.endsWith('.jsonl'))) {
          let text: string;
          try {
            text = readFileSync(join(out, f), 'utf8');
          } catch {
            continue; // replaced between readdir and open
          }
          reads++;
          if (!text.endsWith('END\n')) partial.push(`${f}: ${text.length} bytes`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      writer.kill('SIGKILL');
    }
    expect(reads).toBeGreaterThan(10);
    expect(partial).toEqual([]);
  });

  it('uses a dot name that replaying --out never picks up, and leaves nothing behind when it fails', () => {
    const file = join(dir, 'a.jsonl');
    expect(temporaryName(file)).toMatch(/\/\.a\.jsonl\.\d+\.tmp$/);
    writeFileAtomic(file, 'one\n');
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    // Renaming over a directory fails: the error comes through and the temporary file is gone.
    expect(() => writeFileAtomic(dir, 'two\n')).toThrow();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
