/**
 * The generators of the search's operation alphabet, in the order their
 * operations are tried: the sysfs writes, reads and fault injection by
 * default, and the program events of SPEC §7 (programs.ts) when asked for.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { faultOps } from './faults.js';
import { pfnUserOps } from './pfnUsers.js';
import { swapOps } from './swap.js';
import { hmmOps } from './hmm.js';
import { hmmMigrateOps } from './hmmMigrate.js';
import { programOps } from './programs.js';
import { readOps } from './reads.js';
import { attrOps, blockOps, driverOps, invalidOps, rebindOps } from './sysfs.js';
import type { AlphabetScope, OperationGenerator } from './types.js';

export type { AlphabetScope, OperationGenerator } from './types.js';

export const GENERATORS: readonly OperationGenerator[] = [driverOps, blockOps, attrOps, invalidOps, readOps, faultOps, rebindOps, programOps, pfnUserOps, swapOps, hmmOps, hmmMigrateOps];

export const GENERATOR_NAMES: readonly string[] = GENERATORS.map((g) => g.name);

/** The generators used when neither --ops nor the preset names any: all but the opt-in ones (programs). */
export const DEFAULT_GENERATORS: readonly OperationGenerator[] = GENERATORS.filter((g) => g.byDefault !== false);

export const DEFAULT_GENERATOR_NAMES: readonly string[] = DEFAULT_GENERATORS.map((g) => g.name);

export function generatorByName(name: string): OperationGenerator | undefined {
  return GENERATORS.find((g) => g.name === name);
}

/** The second input of a generator that reads one part of the state. */
const NO_SECOND = {};

/** The alphabet of a search: its generators and scope; `ops(s)` is every operation offered in `s`. */
export class Alphabet {
  /** Per generator: its list for each combination of its inputs (two levels of weak maps; one-input generators use the first). */
  private readonly caches: Array<WeakMap<object, WeakMap<object, readonly StepEvent[]>>>;

  constructor(
    readonly generators: readonly OperationGenerator[],
    readonly scope: AlphabetScope,
  ) {
    this.caches = generators.map(() => new WeakMap());
  }

  /** Generator `i`'s list in `s`, built once per combination of the state parts it reads (its inputs). */
  private listOf(i: number, s: KernelState): readonly StepEvent[] {
    const g = this.generators[i] as OperationGenerator;
    const cache = this.caches[i] as WeakMap<object, WeakMap<object, readonly StepEvent[]>>;
    const inputs = g.inputs(s);
    const a = inputs[0];
    const b = inputs[1] ?? NO_SECOND;
    let inner = cache.get(a);
    if (inner === undefined) cache.set(a, (inner = new WeakMap()));
    let list = inner.get(b);
    if (list === undefined) inner.set(b, (list = g.ops(s, this.scope)));
    return list;
  }

  ops(s: KernelState): StepEvent[] {
    const out: StepEvent[] = [];
    const pending = s.faults.length > 0;
    for (let i = 0; i < this.generators.length; i++) if (!pending || (this.generators[i] as OperationGenerator).reachesFaults) for (const e of this.listOf(i, s)) out.push(e);
    return out;
  }

  get names(): string[] {
    return this.generators.map((g) => g.name);
  }
}
