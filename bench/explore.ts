/**
 * The exhaustive search (memhp explore): distinct states and transitions per
 * second on the presets, against fuzz steps per second in the same process;
 * memory per stored state; and how the state count grows with the machine
 * (blocks of one device, interchangeable devices with and without symmetry
 * reduction).
 */
import { DEFAULT_GENERATORS, generatorByName, type OperationGenerator } from '../properties/alphabet/index.js';
import { runCampaign } from '../properties/campaign.js';
import { explore, type ExploreResult } from '../properties/explore.js';
import { presetByName } from '../properties/presets.js';
import type { BootEvent } from '../src/log/events.js';
import { parseBoot } from '../src/log/parse.js';
import { gc, stats, type Stats } from './measure.js';

export interface ExploreFigures {
  readonly presets: ReadonlyArray<{ readonly name: string; readonly states: number; readonly transitions: number; readonly exhausted: boolean; readonly statesPerSecond: Stats; readonly transitionsPerSecond: Stats }>;
  readonly fuzzStepsPerSecond: number;
  /** Heap held per stored state (fingerprint, map entry, parent and operation index), measured on the largest preset. */
  readonly bytesPerState: number;
  readonly growth: ReadonlyArray<{ readonly machine: string; readonly states: number; readonly reducedStates: number | null; readonly ms: number }>;
}

function gens(names: readonly string[] | undefined): OperationGenerator[] {
  return (names ?? DEFAULT_GENERATORS.map((g) => g.name)).map((n) => generatorByName(n) as OperationGenerator);
}

function runPreset(name: string, onDone?: () => void): ExploreResult {
  const p = presetByName(name);
  if (p === undefined) throw new Error(`no preset ${name}`);
  return explore({ boot: p.boot(), machineName: name, generators: gens(p.ops), bootBlocks: p.bootBlocks ?? [], hotBlockLimit: p.hotBlockLimit ?? Infinity, symmetry: true, outDir: null, ...(onDone === undefined ? {} : { onDone }) });
}

/** hmem devices of `blocks` blocks each on their own memoryless nodes, with hot-remove. */
function hmemMachine(devices: number, blocks: number): BootEvent {
  const size = BigInt(blocks) * 128n * 2n ** 20n;
  return parseBoot({
    type: 'boot',
    kernel: '6.8',
    memoryBlockSize: '128M',
    ram: [{ start: '0x0', size: '1G', node: 0 }],
    config: { memoryHotremove: true },
    daxRegions: Array.from({ length: devices }, (_, i) => {
      const start = `0x${(0x200000000n + BigInt(i) * 0x40000000n).toString(16)}`;
      return { id: i, kind: 'hmem', start, size: `0x${size.toString(16)}`, targetNode: i + 1, devices: [{ name: `dax${i}.0`, start, size: `0x${size.toString(16)}`, driver: 'device_dax' }] };
    }),
  });
}

export function exploreBench(runs: number, quick: boolean, log: (s: string) => void): ExploreFigures {
  const names = quick ? ['pmem-2blocks'] : ['pmem-2blocks', 'hmem-6.1', 'hmem-hotremove', 'hmem-programs'];
  runPreset('pmem-2blocks');
  const presets = names.map((name) => {
    const rs: ExploreResult[] = [];
    // The largest presets once (seconds each); the others `runs` times.
    const n = name === 'hmem-hotremove' || name === 'hmem-programs' ? 1 : runs;
    for (let i = 0; i < n; i++) rs.push(runPreset(name));
    const r = rs[0] as ExploreResult;
    const f = {
      name,
      states: r.states,
      transitions: r.transitions,
      exhausted: r.exhausted,
      statesPerSecond: stats(rs.map((x) => (x.states / x.elapsedMs) * 1000)),
      transitionsPerSecond: stats(rs.map((x) => (x.transitions / x.elapsedMs) * 1000)),
    };
    log(`  ${name}: ${r.states} states, ${r.transitions} transitions, ${r.exhausted ? 'exhausted' : 'NOT exhausted'}; ${Math.round(f.statesPerSecond.median)} states/s, ${Math.round(f.transitionsPerSecond.median)} transitions/s (median of ${n})`);
    return f;
  });

  // Fuzz in the same process: steps per second of the default generator with every check.
  const fz = runCampaign({ seed: 1, seconds: quick ? 2 : 5, steps: 30, variant: null, outDir: null });
  const fuzzStepsPerSecond = (fz.steps / fz.elapsedMs) * 1000;
  log(`  fuzz (same process): ${Math.round(fuzzStepsPerSecond)} steps/s`);

  // Memory per stored state: the heap while the search still holds its states, over the heap before.
  const memPreset = quick ? 'pmem-2blocks' : 'hmem-hotremove';
  gc();
  const before = process.memoryUsage().heapUsed;
  let held = 0;
  const r = runPreset(memPreset, () => {
    gc();
    held = process.memoryUsage().heapUsed - before;
  });
  const bytesPerState = held / r.states;
  log(`  memory: ${Math.round(bytesPerState)} B per stored state (${memPreset}, ${r.states} states, ${(held / 2 ** 20).toFixed(1)} MiB held)`);

  const growth: Array<{ machine: string; states: number; reducedStates: number | null; ms: number }> = [];
  const driverBlock = gens(['driver', 'block']);
  for (const blocks of quick ? [1, 2] : [1, 2, 3, 4, 5]) {
    const t = Date.now();
    const g = explore({ boot: hmemMachine(1, blocks), machineName: `hmem x1, ${blocks} blocks`, generators: driverBlock, symmetry: true, outDir: null });
    growth.push({ machine: `1 hmem device of ${blocks} block(s)`, states: g.states, reducedStates: null, ms: Date.now() - t });
  }
  for (const devices of quick ? [1, 2] : [1, 2, 3]) {
    const t = Date.now();
    const full = explore({ boot: hmemMachine(devices, 1), machineName: `hmem x${devices}`, generators: driverBlock, symmetry: false, outDir: null });
    const red = explore({ boot: hmemMachine(devices, 1), machineName: `hmem x${devices}`, generators: driverBlock, symmetry: true, outDir: null });
    growth.push({ machine: `${devices} interchangeable hmem device(s) of 1 block`, states: full.states, reducedStates: red.states, ms: Date.now() - t });
  }
  for (const g of growth) log(`  growth: ${g.machine} (driver,block ops, hot-remove): ${g.states} states${g.reducedStates === null ? '' : `, ${g.reducedStates} with symmetry reduction`}`);
  return { presets, fuzzStepsPerSecond, bytesPerState, growth };
}
