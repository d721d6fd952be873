/**
 * What every memhp command gets: where to write, the invariant checker, the
 * colours, and the exit status it decides on. Commands never call
 * process.exit: `main` returns the status so tests run it in-process.
 */
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type pc from 'picocolors';
import type { Checker } from '../replay/engine.js';

export type Colors = ReturnType<typeof pc.createColors>;

/** SPEC §4 exit status, plus sysexits' EX_SOFTWARE for memhp's own bugs. */
export const EXIT = {
  ok: 0,
  /** An invariant was violated or a recorded result diverged. */
  failed: 1,
  /** Bad input or usage. */
  usage: 2,
  /** An internal error: a bug in memhp, never the user's input. */
  internal: 70,
} as const;

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export interface CliContext {
  readonly io: CliIo;
  /** The invariants run after every step; undefined runs none (tests that only look at output). */
  readonly check: Checker | undefined;
  /** Colours for standard output. */
  readonly color: Colors;
  /** Colours for standard error (its own TTY decides, not stdout's). */
  readonly errColor: Colors;
  /** What `-` as a log name reads. */
  readonly stdin: Readable | undefined;
  /** The status `main` returns; a command raises it, never lowers it. */
  exitCode: number;
}

/**
 * One command of the `memhp` program. To add one (e.g. `memhp fuzz`), write
 * a module exporting a CliCommand and list it in src/cli/commands/index.ts.
 * `register` adds the command with its arguments, options (each command
 * takes `--json`) and an async action that writes through ctx.io and sets
 * ctx.exitCode; bad input is reported by throwing UsageError or LogError.
 */
export interface CliCommand {
  readonly name: string;
  register(program: Command, ctx: CliContext): void;
}

/** Bad usage found after parsing (exit 2): the message is printed after "memhp: ". */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Raise the exit status to at least `code`. */
export function fail(ctx: CliContext, code: number): void {
  ctx.exitCode = Math.max(ctx.exitCode, code);
}
