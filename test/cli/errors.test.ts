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
    expect(r.err).toMatch(new RegExp(`^memhp: ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: expected a JSON object`));
    noStack(r.err);
  });

  it('names the field for an unknown event type, after printing the events before it', async () => {
    const log = tempLog('unknown-type.jsonl', [BOOT, '{"seq":1,"type":"read","path":"/proc/meminfo"}', '{"seq":2,"type":"frob"}']);
    for (const cmd of ['replay', 'check']) {
      const r = await run([cmd, log]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`memhp: ${log}:3: field "type": expected an event type, one of "boot", "write", "read", "inject", "reboot", "open", "close", "mmap", "munmap", "mprotect", "madvise", "mremap", "access", "procmem", "follow_pfn", "fork", "exit", "swapon", "swapoff", "pread", "pwrite", "ioctl", "modprobe", "rmmod", got "frob"\n`);
    }
    const r = await run(['replay', log]);
    expect(r.out).toContain('cat /proc/meminfo  → ok');
    const j = await run(['replay', log, '--json']);
    expect(j.out).toBe('');
  });

  it('names a missing file', async () => {
    const r = await run(['replay', 'no/such/log.jsonl']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^memhp: no\/such\/log\.jsonl: .*ENOENT/);
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

// Issue 9, item 7: what a new user met in the first hour.
describe('the first hour', () => {
  it('memhp help [command] prints the same usage as --help, for commands and subcommands', async () => {
    for (const [help, flag] of [[['help'], ['--help']], [['help', 'check'], ['check', '--help']], [['help', 'kernel', 'diff'], ['kernel', 'diff', '--help']], [['help', 'fuzz'], ['fuzz', '--help']]]) {
      const a = await run(help as string[]);
      const b = await run(flag as string[]);
      expect(a.code).toBe(0);
      expect(a.out).toBe(b.out);
      expect(a.out).toMatch(/^Usage: memhp/);
    }
    const bad = await run(['help', 'kernel', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('memhp: help: unknown command "kernel nope" (commands: record, diff, machine, fuzz)\n');
  });

  it('an option of a command given before it is an error that says where it goes, not silently dropped', async () => {
    for (const opt of ['--json', '--show=iomem']) {
      const r = await run([opt, 'check', EXAMPLE]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain(`memhp: ${opt.replace(/=.*/, '')} before the command is bare memhp's option; put it after the command: memhp check ... ${opt.replace(/=.*/, '')}\n`);
    }
    // Bare memhp's own use of them is unchanged.
    expect((await run(['--json'])).code).toBe(0);
  });

  it.each([
    [['check'], '(memhp check --help for usage)'],
    [['replay', EXAMPLE, '--bogus'], '(memhp replay --help for usage)'],
    [['kernel', 'diff'], '(memhp kernel diff --help for usage)'],
    [['fuzz', '--runs', '0'], '(memhp fuzz --help for usage)'],
    [['--bogus'], '(memhp --help for usage)'],
  ])('a usage error in %j points at that command\'s help', async (argv, hint) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().endsWith(hint)).toBe(true);
  });

  it('--until past the end of the log says so on stderr (and replays everything, exit 0)', async () => {
    const r = await run(['replay', EXAMPLE, '--until', '999', '--show', 'none']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('memhp: note: --until 999: the log ends at seq 12, before it; every event was applied\n');
    const reached = await run(['replay', EXAMPLE, '--until', '3', '--show', 'none']);
    expect(reached.err).toBe('');
  });

  it('stderr is coloured by its own terminal, not stdout\'s', async () => {
    const log = tempLog('colour-split.jsonl', [BOOT, '{"type":"frob"}']);
    const errOnly = await run(['check', log], { color: false, errColor: true });
    expect(errOnly.err).toContain('\x1b[31m');
    const outOnly = await run(['check', log], { color: true, errColor: false });
    expect(outOnly.err).not.toContain('\x1b');
  });

  it('fuzz --help names the variants and the exit statuses', async () => {
    const r = await run(['fuzz', '--help']);
    for (const s of ['walk-top-level-only', 'kmem-remove-releases-region', '\n  0    no failures', '\n  1    ', '\n  2    ', '\n  70   ', '\n  130  ']) expect(r.out).toContain(s);
  });

  it('takes lowercase size suffixes, as the kernel\'s memparse does (mem=2g)', async () => {
    const log = tempLog('lower.jsonl', ['{"type":"boot","memoryBlockSize":"128m","ram":[{"start":"0x0","size":"2g","node":0}]}', '{"type":"read","path":"/sys/devices/system/memory/block_size_bytes","result":{"ok":true,"value":"8000000\\n"}}']);
    const r = await run(['check', log]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});
