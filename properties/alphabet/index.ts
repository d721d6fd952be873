/**
 * The generators of the search's operation alphabet, in the order their
 * operations are tried: the sysfs writes, reads and fault injection by
 * default, and the program events of SPEC §7 (programs.ts) when asked for.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { faultOps } from './faults.js';
import { programOps } from './programs.js';
import { readOps } from './reads.js';
import { attrOps, blockOps, driverOps, invalidOps, rebindOps } from './sysfs.js';
import type { AlphabetScope, OperationGenerator } from './types.js';

export type { AlphabetScope, OperationGenerator } from './types.js';

export const GENERATORS: readonly OperationGenerator[] = [driverOps, blockOps, attrOps, invalidOps, readOps, faultOps, rebindOps, programOps];

export const GENERATOR_NAMES: readonly string[] = GENERATORS.map((g) => g.name);

/** The generators used when neither --ops nor the preset names any: all but the opt-in ones (programs). */
export const DEFAULT_GENERATORS: readonly OperationGenerator[] = GENERATORS.filter((g) => g.byDefault !== false);

export const DEFAULT_GENERATOR_NAMES: readonly string[] = DEFAULT_GENERATORS.map((g) => g.name);

export function generatorByName(name: string): OperationGenerator | undefined {
  return GENERATORS.find((g) => g.name === name);
}

/** The alphabet of a search: its generators and scope; `ops(s)` is every operation offered in `s`. */
export class Alphabet {
  constructor(
    readonly generators: readonly OperationGenerator[],
    readonly scope: AlphabetScope,
  ) {}

  ops(s: KernelState): StepEvent[] {
    const out: StepEvent[] = [];
    const pending = s.faults.length > 0;
    for (const g of this.generators) if (!pending || g.reachesFaults) for (const e of g.ops(s, this.scope)) out.push(e);
    return out;
  }

  get names(): string[] {
    return this.generators.map((g) => g.name);
  }
}
