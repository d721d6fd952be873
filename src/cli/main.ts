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
  /** Colour on standard output; defaults to colorWanted() (NO_COLOR, FORCE_COLOR, stdout a TTY). */
  readonly color?: boolean;
  /** Colour on standard error; defaults to `color` when given, else colorWanted() for stderr's TTY. */
  readonly errColor?: boolean;
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

/** The options bare `memhp` takes that every command takes too, after its name. */
const COMMAND_OPTIONS = ['json', 'show'] as const;

function buildProgram(ctx: CliContext, commands: readonly CliCommand[]): Command {
  const e = ctx.errColor;
  const program = new Command('memhp')
    .description('An executable model of the Linux DAX / kmem memory-hotplug stack.\nWithout a command: replay the embedded default machine (QEMU, 4 GiB RAM, 512 MiB legacy pmem) through the kmem walkthrough.')
    .version(packageVersion(), '-V, --version')
    // Options before the command belong to memhp, after it to the command: `replay LOG --json` is replay's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      outputError: (s, write) => write(e.red(s.replace(/^error: /, 'memhp: '))),
    });
  // Subcommands copy the settings above when created, so register them after.
  for (const cmd of commands) cmd.register(program, ctx);
  // `memhp help [command]`, as git and npm have it: the same text as --help.
  program
    .command('help')
    .description('show the usage of memhp or of one command')
    .argument('[command...]', 'a command, or a command and its subcommand (kernel diff)')
    .action((names: string[]) => {
      let cmd: Command = program;
      for (const name of names) {
        const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
        const known = cmd.commands.map((c) => c.name()).join(', ');
        if (sub === undefined) throw new UsageError(`help: unknown command "${[...names.slice(0, names.indexOf(name)), name].join(' ')}" (commands: ${known})`);
        cmd = sub;
      }
      // outputHelp, not helpInformation: it adds the text commands append (fuzz's variants and exit statuses).
      cmd.outputHelp();
    });
  // Every usage error points at the help of the command it is about, `memhp kernel diff --help` rather than `memhp --help`.
  const hint = (cmd: Command): void => {
    const names: string[] = [];
    for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
    cmd.showHelpAfterError(e.dim(`(${names.join(' ')} --help for usage)`));
    for (const sub of cmd.commands) hint(sub);
  };
  hint(program);
  // `memhp --json check LOG`: --json went to bare memhp, and check would run without it. Say where it goes.
  program.hook('preSubcommand', (_thisCommand, sub) => {
    const opts = program.opts<Record<string, unknown>>();
    const given = COMMAND_OPTIONS.find((o) => opts[o] !== undefined);
    if (given !== undefined)
      throw new UsageError(`--${given} before the command is bare memhp's option; put it after the command: memhp ${sub.name()} ... --${given}`);
  });
  // Only now (subcommands copied the strict default): bare memhp's action sees a stray word and names it.
  program.allowExcessArguments(true);
  return program;
}

function internalError(ctx: CliContext, e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  ctx.io.stderr(`${ctx.errColor.red(`memhp: internal error: ${msg}`)}\n`);
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
  // Each stream decides for itself: `memhp check LOG 2>err.txt` on a terminal colours stdout only.
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  return tty && env['TERM'] !== 'dumb';
}

export async function main(argv: readonly string[], io: CliIo, options: MainOptions = {}): Promise<number> {
  const ctx: CliContext = {
    io,
    check: options.check,
    color: pc.createColors(options.color ?? colorWanted()),
    errColor: pc.createColors(options.errColor ?? options.color ?? colorWanted(process.env, process.stderr.isTTY === true)),
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
    // Bad input and bad usage alike: "memhp: " first, so it reads as memhp's message in a script's output.
    if (e instanceof LogError || e instanceof UsageError) {
      io.stderr(`${ctx.errColor.red(`memhp: ${e.message}`)}\n`);
      return EXIT.usage;
    }
    return internalError(ctx, e);
  }
}
