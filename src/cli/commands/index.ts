/**
 * The commands registry: `main` registers these, in this order, on the
 * `memhp` program. A new command (`memhp fuzz`) is a module exporting a
 * CliCommand (see ../context.ts) added to this list; nothing else changes.
 */
import type { CliCommand } from '../context.js';
import { checkCommand } from './check.js';
import { fuzzCommand } from './fuzz.js';
import { defaultCommand, replayCommand } from './replay.js';
import { exploreCommand } from './explore.js';
import { kernelCommand } from './kernel.js';

export const COMMANDS: readonly CliCommand[] = [defaultCommand, replayCommand, checkCommand, fuzzCommand, exploreCommand, kernelCommand];
