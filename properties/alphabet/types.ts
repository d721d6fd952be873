/**
 * The operation alphabet of the exhaustive search (properties/explore.ts):
 * a list of generators, each giving the operations it offers in a state.
 * The search applies every operation of every generator to every state, so
 * the alphabet is finite per state and deterministic (same state, same list
 * in the same order: a counterexample is stored as the index of its
 * operation in its parent's list).
 *
 * A new kind of operation is a new file exporting an OperationGenerator,
 * listed in ./index.ts; nothing else changes (programs.ts is one).
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';

/** What a preset fixes about where operations act, beyond what the state shows. */
export interface AlphabetScope {
  /**
   * Boot memory blocks to act on. Hot-added blocks are always in the
   * alphabet; boot blocks only when named (a machine has dozens, and on a
   * real guest offlining them takes its own RAM away).
   */
  readonly bootBlocks: readonly number[];
  /** Only the lowest this many hot-added block ids get operations (Infinity: all). */
  readonly hotBlockLimit: number;
  /** Each device's size at boot: a size write puts it back (the state only knows the current size). */
  readonly bootSizes: ReadonlyMap<string, bigint>;
}

export interface OperationGenerator {
  /** The name `--ops` selects it by. */
  readonly name: string;
  /** One line: what it offers. */
  readonly summary: string;
  /** False when a real kernel cannot perform these operations (fault injection is model-only): `--emit` leaves them out. */
  readonly onRealKernel: boolean;
  /**
   * True when its operations can reach a fault site (kernel paths that
   * allocate, add, online or offline). While a fault is pending only these
   * are offered: a read or a refused write cannot meet the fault, so trying
   * it in between would only repeat states.
   */
  readonly reachesFaults: boolean;
  /**
   * False for an opt-in kind: used only when `--ops` or a preset names it.
   * Program events are: they multiply every sysfs state by every process
   * state, which would take the presets out of "exhausted in seconds".
   */
  readonly byDefault?: false;
  /** The operations offered in `s`, in a fixed order. */
  ops(s: KernelState, scope: AlphabetScope): readonly StepEvent[];
  /**
   * The parts of the state `ops` reads (with the scope and the boot constants,
   * which one search never changes): immutable objects, so two states holding
   * the same ones are offered the same list, and the search (Alphabet) builds
   * it once for all of them. Everything `ops` reads must be in here.
   */
  inputs(s: KernelState): readonly [object] | readonly [object, object];
}
