/**
 * The `memhp` command line (SPEC §4). `main` parses the arguments, runs one
 * command and returns the exit status: 0 clean, 1 a violation or divergence,
 * 2 bad input or usage, 70 a bug in memhp. It never calls process.exit, so
 * tests run it in-process; src/cli/run.ts is the process entry point.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { LogError } from '../log/index.js';
import type { Checker } from '../replay/engine.js';
import { COMMANDS } from './commands/index.js';
import { EXIT, UsageError, type CliCommand, type CliContext, type CliIo } from './context.js';
import { PACKAGE_ROOT } from './source.js';

export interface MainOptions {
  /** The invariants checked after every step (run.ts passes properties/invariants' checkStep). */
  readonly check?: Checker;
  /** Colour output; defaults to colorWanted() (NO_COLOR, FORCE_COLOR, a TTY). */
  readonly color?: boolean;
  /** What a LOG of "-" reads. */
  readonly stdin?: Readable;
  /** The commands to offer; defaults to the registry (src/cli/commands/index.ts). */
  readonly commands?: readonly CliCommand[];
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function buildProgram(ctx: CliContext, commands: readonly CliCommand[]): Command {
  const c = ctx.color;
  const program = new Command('memhp')
    .description('An executable model of the Linux DAX / kmem memory-hotplug stack.\nWithout a command: replay the embedded default machine (QEMU, 4 GiB RAM, 512 MiB legacy pmem) through the kmem walkthrough.')
    .version(packageVersion(), '-V, --version')
    // Options before the command belong to memhp, after it to the command: `replay LOG --json` is replay's.
    .enablePositionalOptions()
    .showHelpAfterError(c.dim('(memhp --help for usage)'))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      outputError: (s, write) => write(c.red(s.replace(/^error: /, 'memhp: '))),
    });
  // Subcommands copy the settings above when created, so register them after.
  for (const cmd of commands) cmd.register(program, ctx);
  // Only now (subcommands copied the strict default): bare memhp's action sees a stray word and names it.
  program.allowExcessArguments(true);
  return program;
}

function internalError(ctx: CliContext, e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  ctx.io.stderr(`${ctx.color.red(`memhp: internal error: ${msg}`)}\n`);
  ctx.io.stderr('This is a bug in memhp, not in the input. Please report it with the command line and the log that triggered it.\n');
  if (e instanceof Error && e.stack !== undefined && process.env['MEMHP_DEBUG'] !== undefined) ctx.io.stderr(`${e.stack}\n`);
  return EXIT.internal;
}

/**
 * Run memhp with `argv` (without node and the script) and return the exit status.
 * @example await main(['replay', 'examples/qemu-pmem-kmem.jsonl', '--json'], { stdout: (s) => out.push(s), stderr: (s) => err.push(s) })
 */
/**
 * Colour only for a terminal: NO_COLOR wins, FORCE_COLOR forces, otherwise
 * stdout must be a TTY. (picocolors' own detection also turns colour on when
 * CI is set, which would put escape codes into CI logs and piped output.)
 */
export function colorWanted(env: NodeJS.ProcessEnv = process.env, tty: boolean = process.stdout.isTTY === true): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  return tty && env['TERM'] !== 'dumb';
}

export async function main(argv: readonly string[], io: CliIo, options: MainOptions = {}): Promise<number> {
  const ctx: CliContext = {
    io,
    check: options.check,
    color: pc.createColors(options.color ?? colorWanted()),
    stdin: options.stdin,
    exitCode: EXIT.ok,
  };
  try {
    const program = buildProgram(ctx, options.commands ?? COMMANDS);
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every parse error (commander printed it) is a usage error.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof LogError) {
      io.stderr(`${ctx.color.red(e.message)}\n`);
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      io.stderr(`${ctx.color.red(`memhp: ${e.message}`)}\n`);
      return EXIT.usage;
    }
    return internalError(ctx, e);
  }
}
