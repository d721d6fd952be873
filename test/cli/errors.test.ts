import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import type { CliCommand } from '../../src/cli/context.js';
import { BOOT, EXAMPLE, run, tempLog } from './helpers.js';

function noStack(err: string): void {
  expect(err).not.toMatch(/^\s+at /m);
  expect(err).not.toContain('internal error');
}

describe('exit 2: bad input', () => {
  it('names file, line and what was expected for malformed JSON', async () => {
    const log = tempLog('malformed.jsonl', [BOOT, '{"seq":1,"type":"read",']);
    const r = await run(['replay', log]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: expected a JSON object`));
    noStack(r.err);
  });

  it('names the field for an unknown event type, after printing the events before it', async () => {
    const log = tempLog('unknown-type.jsonl', [BOOT, '{"seq":1,"type":"read","path":"/proc/meminfo"}', '{"seq":2,"type":"frob"}']);
    for (const cmd of ['replay', 'check']) {
      const r = await run([cmd, log]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`${log}:3: field "type": expected an event type, one of "boot", "write", "read", "inject", got "frob"\n`);
    }
    const r = await run(['replay', log]);
    expect(r.out).toContain('cat /proc/meminfo  → ok');
    const j = await run(['replay', log, '--json']);
    expect(j.out).toBe('');
  });

  it('names a missing file', async () => {
    const r = await run(['replay', 'no/such/log.jsonl']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^no\/such\/log\.jsonl: .*ENOENT/);
    noStack(r.err);
    expect((await run(['check', 'no/such/log.jsonl'])).code).toBe(2);
  });

  it('rejects a log without a boot event', async () => {
    const r = await run(['check', tempLog('empty.jsonl', ['// nothing here'])]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('a log whose first event is a "boot" event');
  });
});

describe('exit 2: bad usage', () => {
  it.each(['0', '-1', 'abc', '1.5', '', '9999999999999999999'])('--until %j', async (v) => {
    const r = await run(['replay', EXAMPLE, `--until=${v}`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--until');
    expect(r.out).toBe('');
  });

  it('an unknown --show view names the known ones', async () => {
    const r = await run(['replay', EXAMPLE, '--show', 'iomem,bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown view "bogus"');
    expect(r.err).toContain('iomem, lsmem, meminfo, devices');
  });

  it.each([
    [['replay', EXAMPLE, '--bogus'], "unknown option '--bogus'"],
    [['replay'], "missing required argument 'LOG'"],
    [['check'], "missing required argument 'LOG'"],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['replay', EXAMPLE, 'extra'], 'too many arguments'],
  ])('%j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err.startsWith('memhp: ')).toBe(true);
  });

  it('--help and --version exit 0', async () => {
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('Usage: memhp');
    expect(h.out).toContain('replay');
    expect((await run(['replay', '--help'])).out).toContain('--until <SEQ>');
    expect((await run(['--version'])).out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('exit 70: internal errors', () => {
  it('reports a bug in memhp as such, not as bad input', async () => {
    const r = await run(['check', EXAMPLE], {
      check: () => {
        throw new Error('boom');
      },
    });
    expect(r.code).toBe(70);
    expect(r.err).toContain('memhp: internal error: boom\n');
    expect(r.err).toContain('bug in memhp');
  });
});

describe('the commands registry', () => {
  it('holds the default, replay and check commands', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['(default)', 'replay', 'check', 'fuzz', 'explore', 'kernel']);
  });

  it('takes a new command without other changes (the extension point for fuzz)', async () => {
    const hello: CliCommand = {
      name: 'hello',
      register(program: Command, ctx) {
        program
          .command('hello')
          .option('--json')
          .action((flags: { json?: boolean }) => {
            ctx.io.stdout(flags.json === true ? '{"hello":true}\n' : 'hello\n');
            ctx.exitCode = 1;
          });
      },
    };
    const r = await run(['hello', '--json'], { commands: [...COMMANDS, hello] });
    expect(r).toEqual({ code: 1, out: '{"hello":true}\n', err: '' });
  });
});
