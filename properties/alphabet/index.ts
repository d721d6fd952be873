/**
 * The generators of the search's operation alphabet, in the order their
 * operations are tried. Program events (SPEC §7) join as one more file and
 * one more entry here.
 */
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import { faultOps } from './faults.js';
import { readOps } from './reads.js';
import { attrOps, blockOps, driverOps, invalidOps } from './sysfs.js';
import type { AlphabetScope, OperationGenerator } from './types.js';

export type { AlphabetScope, OperationGenerator } from './types.js';

export const GENERATORS: readonly OperationGenerator[] = [driverOps, blockOps, attrOps, invalidOps, readOps, faultOps];

export const GENERATOR_NAMES: readonly string[] = GENERATORS.map((g) => g.name);

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
