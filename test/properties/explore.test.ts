/**
 * The exhaustive search (properties/explore.ts): fingerprints merge only
 * equivalent states, symmetry reduction hides no violation, the small
 * presets are exhausted clean, every bug variant is found with a
 * counterexample no longer than the fuzzer's shrunk one, failures replay,
 * and the conformance cover reaches every target it reports.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GENERATORS, generatorByName, type OperationGenerator } from '../../properties/alphabet/index.js';
import { runCampaign } from '../../properties/campaign.js';
import { chainedSuite, CoverTracker, coverSuite, emitSuite, MAX_CHAIN, targetsOf, type CoverSuite } from '../../properties/conformance.js';
import { alphabetFor, eventsOf, explore, type ExploreOptions, type ExploreResult } from '../../properties/explore.js';
import { Fingerprinter } from '../../properties/fingerprint.js';
import { presetByName, SMALL_PRESETS, VARIANT_PRESET, withVariant, type Preset } from '../../properties/presets.js';
import { failureKey } from '../../src/log/events.js';
import { layoutOf, symmetryApplies } from '../../properties/symmetry.js';
import { VARIANT_CAUGHT_BY } from '../../properties/variants.js';
import { checkAll } from '../../properties/sequence.js';
import { makeChecker } from '../../properties/invariants/index.js';
import { VARIANT_NAMES, type VariantName } from '../../src/kernel/profile.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { BootEvent } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { applyBoot, applyEvent, replay } from '../../src/replay/engine.js';
import { stateJson, VIEW_NAMES, renderView } from '../../src/views/index.js';
import { blockFile, boot, region, run, write } from '../helpers/machine.js';

function preset(name: string): Preset {
  const p = presetByName(name);
  if (p === undefined) throw new Error(`no preset ${name}`);
  return p;
}

function gens(names: readonly string[] | undefined): OperationGenerator[] {
  return (names ?? DEFAULT_GENERATORS.map((g) => g.name)).map((n) => generatorByName(n) as OperationGenerator);
}

function search(name: string, o: Partial<ExploreOptions> = {}, variant: VariantName | null = null): ExploreResult {
  const p = preset(name);
  return explore({
    boot: withVariant(p.boot(), variant),
    machineName: name,
    generators: gens(p.ops),
    bootBlocks: p.bootBlocks ?? [],
    hotBlockLimit: p.hotBlockLimit ?? Infinity,
    symmetry: true,
    outDir: null,
    ...o,
  });
}

/** Everything a user can see of a state, and what each offered operation does there. */
function behaviour(s: KernelState, ops: ReturnType<typeof alphabetFor>): string {
  const views = VIEW_NAMES.map((v) => renderView(v, s)).join('\n');
  const outcomes = ops.ops(s).map((e) => {
    const o = applyEvent(s, e, 1).outcome;
    return `${e.type === 'inject' ? e.site : 'path' in e ? e.path : e.type}=${o.ok ? (o.value ?? 'ok') : failureKey(o)}`;
  });
  return `${views}\n${JSON.stringify(stateJson(s))}\n${outcomes.join('\n')}`;
}

describe('fingerprints', () => {
  it.each(['pmem-2blocks', 'hmem-hotremove', 'two-nodes', 'cxl-memmap', 'hmem-programs'])('%s: states with one fingerprint render identical views and enable the same operations with the same outcomes', (name) => {
    const p = preset(name);
    const b = p.boot();
    const root = applyBoot(b).after;
    const alphabet = alphabetFor({ generators: gens(p.ops) }, root);
    let compared = 0;
    let seen = 0;
    search(name, {
      symmetry: false,
      depth: 4,
      onDuplicate: (path, found) => {
        // Every third duplicate (replaying each stored path costs a boot): a few hundred pairs per preset.
        if (seen++ % 3 !== 0 || compared >= 300) return;
        const { steps } = eventsOf(b, alphabet, path);
        const stored = steps.length === 0 ? root : (steps[steps.length - 1]?.after as KernelState);
        if (stored === found) return;
        compared++;
        expect(behaviour(found, alphabet)).toBe(behaviour(stored, alphabet));
      },
    });
    expect(compared).toBeGreaterThan(20);
  });

  it('hmm-52bit: the test_hmm part tells loaded from unloaded and whose chunk is whose, and merges a reload with the first load', () => {
    const b = preset('hmm-52bit').boot();
    const fp = new Fingerprinter(layoutOf(applyBoot(b).after, false));
    const mod = (type: 'modprobe' | 'rmmod') => ({ type, module: 'test_hmm' as const });
    const after = (...events: ReturnType<typeof mod>[]): KernelState => replay([b, ...events]).final;
    const loaded = after(mod('modprobe'));
    expect(fp.key(after(mod('modprobe'), mod('rmmod'), mod('modprobe')))).toBe(fp.key(loaded));
    expect(fp.key(after())).not.toBe(fp.key(loaded));
    // The same iomem, the chunks' owners swapped: dmirror0 holds the lower range.
    const [d0, d1] = loaded.hmm.devices;
    const swapped: KernelState = { ...loaded, hmm: { ...loaded.hmm, loaded: true, devices: [d1!, d0!] } };
    expect(fp.key(swapped)).not.toBe(fp.key(loaded));
  });

  it('leave out only fields that never change after boot', () => {
    const root = applyBoot(preset('hmem-hotremove').boot()).after;
    let n = 0;
    search('hmem-hotremove', {
      depth: 4,
      onTransition: (_f, _v, step) => {
        const s = step.after;
        n++;
        expect([s.profile, s.config, s.blockSize, s.blockPages, s.regions, s.possibleNodes, s.bootReservedPages]).toEqual([root.profile, root.config, root.blockSize, root.blockPages, root.regions, root.possibleNodes, root.bootReservedPages]);
      },
    });
    expect(n).toBeGreaterThan(1000);
  });

  it('tell apart states that differ in what the kernel shows or does next', () => {
    const root = applyBoot(preset('pmem-2blocks').boot()).after;
    const fp = new Fingerprinter(layoutOf(root, true));
    const after = (s: KernelState, ...events: Parameters<typeof applyEvent>[1][]): KernelState => events.reduce((x, e) => applyEvent(x, e, 1).after, s);
    const dax = '/sys/bus/dax/drivers';
    const kmem = after(root, { type: 'write', path: `${dax}/device_dax/unbind`, value: 'dax0.0', raw: false }, { type: 'write', path: `${dax}/kmem/new_id`, value: 'dax0.0', raw: false });
    const variants: KernelState[] = [
      root,
      after(root, { type: 'write', path: '/sys/devices/system/memory/auto_online_blocks', value: 'online', raw: false }),
      after(root, { type: 'inject', site: 'add_memory', errno: 'ENOMEM', nth: 1 }),
      after(root, { type: 'inject', site: 'add_memory', errno: 'EEXIST', nth: 1 }),
      kmem,
      after(kmem, { type: 'write', path: blockFile(64, 'state'), value: 'online_movable', raw: false }),
      after(kmem, { type: 'write', path: blockFile(65, 'state'), value: 'online_movable', raw: false }),
      after(kmem, { type: 'write', path: blockFile(64, 'state'), value: 'online_kernel', raw: false }),
    ];
    const keys = variants.map((s) => fp.key(s));
    expect(new Set(keys).size).toBe(variants.length);
  });
  it('with programs: tell apart what processes hold and did, and not the file ids an open used', () => {
    const root = applyBoot(preset('hmem-programs').boot()).after;
    const fp = new Fingerprinter(layoutOf(root, false));
    const after = (s: KernelState, ...events: Parameters<typeof applyEvent>[1][]): KernelState => events.reduce((x, e) => applyEvent(x, e, 1).after, s);
    const open = { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', mode: 'rdwr', sync: false } as const;
    const close = { type: 'close', pid: 'p1', fd: 'f1' } as const;
    const mmap = { type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: 4n << 20n, offset: 0n, prot: 'rw', flags: ['shared'], addr: null } as const;
    const load = { type: 'access', pid: 'p1', map: 'm1', offset: 0n, op: 'read', value: null } as const;
    const store = { type: 'access', pid: 'p1', map: 'm1', offset: 0n, op: 'write', value: 0x5an } as const;
    const unbind = { type: 'write', path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0', raw: false } as const;
    const bind = { type: 'write', path: '/sys/bus/dax/drivers/device_dax/bind', value: 'dax0.0', raw: false } as const;
    const opened = after(root, open);
    const mapped = after(opened, mmap);
    const distinct: KernelState[] = [
      root,
      opened,
      after(opened, { type: 'fork', pid: 'p1', child: 'p2' }),
      mapped,
      after(mapped, load),
      after(mapped, store),
      after(mapped, { type: 'madvise', pid: 'p1', map: 'm1', offset: 0n, length: 2n << 20n, advice: 'nohugepage' }),
      after(mapped, close),
      // A file of the bind before (B1's stale file) is not one of the current bind.
      after(opened, unbind, bind),
      after(root, unbind, bind, open),
    ];
    expect(new Set(distinct.map((s) => fp.key(s))).size).toBe(distinct.length);
    // Closing and opening again takes a new file id (nextFile): the same state.
    expect(fp.key(after(opened, close, open))).toBe(fp.key(opened));
    expect(after(opened, close, open).mm.nextFile).not.toBe(opened.mm.nextFile);
    // Memory contents outlive the mapping and the process.
    expect(fp.key(after(mapped, store, { type: 'exit', pid: 'p1' }))).not.toBe(fp.key(after(mapped, { type: 'exit', pid: 'p1' })));
  });
});

describe('symmetry reduction', () => {
  /** Every state's key under the reduced layout, from a search with or without reduction. */
  function orbitKeys(name: string, symmetry: boolean, variant: VariantName | null): { keys: Set<string>; r: ExploreResult } {
    const root = applyBoot(withVariant(preset(name).boot(), variant)).after;
    const reduced = new Fingerprinter(layoutOf(root, true));
    const keys = new Set<string>([reduced.key(root)]);
    const r = search(
      name,
      {
        symmetry,
        onTransition: (_f, _v, step, violations) => {
          if (violations.length === 0) keys.add(reduced.key(step.after));
        },
      },
      variant,
    );
    return { keys, r };
  }

  it('finds the two-nodes devices interchangeable, and not devices that share a node or differ', () => {
    expect(layoutOf(applyBoot(preset('two-nodes').boot()).after, true).groups).toEqual([[0, 1]]);
    const shared = boot({ ram: [{ start: '0x0', size: '1G', node: 0 }], daxRegions: [{ ...region('hmem', 0, '0x200000000', '128M'), targetNode: 1 }, { ...region('hmem', 1, '0x240000000', '128M'), targetNode: 1 }] });
    const differ = boot({ ram: [{ start: '0x0', size: '1G', node: 0 }], daxRegions: [{ ...region('hmem', 0, '0x200000000', '128M'), targetNode: 1 }, { ...region('hmem', 1, '0x240000000', '256M'), targetNode: 2 }] });
    for (const b of [shared, differ]) expect(layoutOf(run(b).final, true).groups).toEqual([]);
  });

  it.each<[string, VariantName | null]>([
    ['two-nodes', null],
    ['two-nodes', 'kmem-remove-releases-region'],
    ['two-nodes', 'register-top-level-only'],
  ])('%s (variant %s): the reduced search finds every violation the unreduced one does, at the same depth, and represents every state', (name, variant) => {
    const full = orbitKeys(name, false, variant);
    const reduced = orbitKeys(name, true, variant);
    const found = (r: ExploreResult): string[] => r.failures.map((f) => `${f.invariant}:${f.length}`).sort();
    expect(found(reduced.r)).toEqual(found(full.r));
    expect(reduced.keys).toEqual(full.keys);
    expect(full.r.exhausted && reduced.r.exhausted).toBe(true);
    expect(reduced.r.states).toBeLessThan(full.r.states);
    if (variant !== null) expect(reduced.r.failures.length).toBeGreaterThan(0);
  });

  it('is not applied with program events, whose part of the fingerprint names devices outside the slots', () => {
    expect(symmetryApplies(gens(['driver', 'block']))).toBe(true);
    expect(symmetryApplies(gens(['rebind', 'program']))).toBe(false);
    const r = search('two-nodes', { generators: gens(['rebind', 'program']), depth: 3 });
    expect(r.symmetry).toBe(false);
  });

  it('leaves blocks of one device apart: which block went online first changes what the others do', () => {
    // Three blocks of one hmem device: online_movable 64 and 66 puts 65 inside the Movable span, so plain
    // "online" gives it Movable; swapping blocks 64 and 65 leaves 64 outside the span, and it gets Normal.
    const b = boot({ ram: [{ start: '0x0', size: '1G', node: 0 }], daxRegions: [{ ...region('hmem', 0, '0x200000000', '384M'), targetNode: 1 }] }, { memoryHotremove: true });
    const toKmem = [write('/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0'), write('/sys/bus/dax/drivers/kmem/new_id', 'dax0.0')];
    const a = run(b, ...toKmem, write(blockFile(64, 'state'), 'online_movable'), write(blockFile(66, 'state'), 'online_movable'), write(blockFile(65, 'state'), 'online'));
    const swapped = run(b, ...toKmem, write(blockFile(65, 'state'), 'online_movable'), write(blockFile(66, 'state'), 'online_movable'), write(blockFile(64, 'state'), 'online'));
    expect(a.final.blocks.get(65)?.zone).toBe('Movable');
    expect(swapped.final.blocks.get(64)?.zone).toBe('Normal');
  });
});

describe('presets', () => {
  it.each(SMALL_PRESETS.filter((n) => n !== 'hmem-hotremove' && n !== 'hmem-programs' && n !== 'pmem-none-programs'))('%s is exhausted clean', (name) => {
    const r = search(name);
    expect(r.failures.map((f) => f.invariant)).toEqual([]);
    expect(r.exhausted).toBe(true);
    expect(r.states).toBeGreaterThan(1);
  });

  it.each(['hmem-programs', 'pmem-none-programs'])('%s reports the known findings B1 and B3 it reaches, not as failures', (name) => {
    const r = search(name);
    expect(r.failures).toEqual([]);
    expect(r.exhausted).toBe(true);
    expect(r.known.map((k) => k.id)).toEqual(expect.arrayContaining(['B1', 'B3']));
    // Its shortest log replays to the finding.
    for (const k of r.known) {
      const events = parseLogText(k.log, 'known.jsonl').map((l) => l.event);
      expect(replay(events, { check: checkAll(makeChecker()) }).violations.map((v) => v.invariant)).toContain(k.invariant);
    }
  });

  // Exhausting it takes ~50,000 states (the bench and `memhp explore --preset hmem-hotremove` do); here to depth 5.
  it('hmem-hotremove is clean to depth 5 and reaches offline and hot-remove', () => {
    const r = search('hmem-hotremove', { depth: 5 });
    expect(r.failures).toEqual([]);
    expect(r.coverage.transitions.missing).not.toContain('daxDevice:hotremove:kmem:kmem.removed');
    expect(r.coverage.transitions.missing).not.toContain('memoryBlock:all:going-offline:offline.done');
  });
});

describe('bug variants', () => {
  /** The variants that need program events: their preset's alphabet has them. */
  const programVariant = (v: VariantName): boolean => preset(VARIANT_PRESET[v]).ops?.includes('program') === true;
  /** Variants whose preset has an opt-in alphabet (programs, HMM migration): the fuzz machine is searched with it. */
  const ownAlphabet = (v: VariantName): boolean => programVariant(v) || preset(VARIANT_PRESET[v]).ops?.includes('hmm-migrate') === true;

  it('every variant has a preset, the device-dax mapping ones one with program events', () => {
    expect(VARIANT_NAMES.filter((v) => presetByName(VARIANT_PRESET[v]) === undefined)).toEqual([]);
    expect(VARIANT_NAMES.filter(programVariant)).toEqual(['dax-no-may-split', 'mremap-no-split-check', 'dax-pte-fault-ignores-align', 'dax-unbind-skips-zap', 'follow-pfn-pte-only']);
  });

  it.each(VARIANT_NAMES)('%s: found on its preset, and on the fuzzer\'s machine no longer than the fuzzer\'s shrunk counterexample', (variant) => {
    const out = mkdtempSync(join(tmpdir(), 'memhp-explore-'));
    // Not stopped at the first violation: one transition may break several invariants and another at the same
    // depth the named one; breadth first, every invariant's first violation is at its smallest depth anyway.
    // A leaking variant's space is unbounded: 2,000 states reach every depth these bugs need (5 events at most).
    const onPreset = search(VARIANT_PRESET[variant], { outDir: out, maxStates: 2_000 }, variant);
    const first = onPreset.failures[0];
    expect(first).toBeDefined();
    // The transition that shows the bug may break several invariants; one of them is the one SPEC §6 names.
    expect(onPreset.failures.some((f) => VARIANT_CAUGHT_BY[variant].includes(f.invariant))).toBe(true);
    // The saved log replays to the same violation at its last event.
    const file = join(out, readdirSync(out)[0] as string);
    const events = parseLogText(readFileSync(file, 'utf8'), file).map((l) => l.event);
    const saved = onPreset.failures.find((f) => f.file === file);
    const rep = replay(events, { check: checkAll(makeChecker()) });
    expect(rep.violations.map((v) => [v.invariant, v.index])).toContainEqual([saved?.invariant, events.length - 1]);

    // The fuzzer's shrunk counterexample, then a search of its machine bounded by its length.
    const fuzz = runCampaign({ seed: 20261121, runs: 3000, steps: 30, variant, outDir: null, stopAtFirst: true }).failures[0];
    expect(fuzz).toBeDefined();
    const fuzzBoot = parseLogText(fuzz?.log ?? '', 'fuzz.jsonl')[0]?.event as BootEvent;
    // The default alphabet, or for a mapping or HMM migration variant its preset's (programs and device_dax unbind/bind; test_hmm).
    const generators = ownAlphabet(variant) ? gens(preset(VARIANT_PRESET[variant]).ops) : DEFAULT_GENERATORS;
    const onFuzzMachine = explore({ boot: fuzzBoot, machineName: 'fuzz', generators, symmetry: true, outDir: null, depth: (fuzz?.length ?? 1) - 1, stopAtFirst: true, maxStates: 50_000 });
    expect(onFuzzMachine.failures[0]?.length).toBeLessThanOrEqual(fuzz?.length ?? 0);
    // The programs preset is as small as the fuzzer's machines: there the preset's own log is no longer either.
    if (programVariant(variant)) expect(Math.min(...onPreset.failures.filter((f) => VARIANT_CAUGHT_BY[variant].includes(f.invariant)).map((f) => f.length))).toBeLessThanOrEqual(fuzz?.length ?? 0);
  });
});

describe('conformance cover', () => {
  const tracker = new CoverTracker();
  const b = preset('pmem-2blocks').boot();
  const r = search('pmem-2blocks', { generators: gens(['driver', 'block', 'attr', 'invalid', 'read']), onTransition: tracker.observe });

  function coversAll(suite: CoverSuite): void {
    expect(suite.targets.length).toBeGreaterThan(10);
    const reached = new Set<string>();
    const check = checkAll(makeChecker());
    for (const s of suite.sequences) {
      const rep = replay(s.events, { check, keepSteps: true });
      expect(rep.violations).toEqual([]);
      for (const st of rep.steps) for (const t of targetsOf(st)) reached.add(t);
      expect(s.events.some((e) => e.type === 'inject')).toBe(false);
    }
    for (const t of suite.targets) expect(reached).toContain(t);
  }

  it('isolated: sequences to the witnesses, picked greedily, together reach every target witnessed, each clean on the model', () => {
    const suite = coverSuite(b, r, tracker);
    coversAll(suite);
    expect(suite.sequences.length).toBeLessThan(suite.targets.length);
    const dir = mkdtempSync(join(tmpdir(), 'memhp-cover-'));
    const files = emitSuite(dir, 'pmem-2blocks', suite);
    expect(files).toHaveLength(suite.sequences.length);
    const back = parseLogText(readFileSync(files[0] as string, 'utf8'), files[0] as string).map((l) => l.event);
    expect(back).toHaveLength(suite.sequences[0]?.events.length ?? -1);
  });

  it('chained: fewer sequences, none longer than MAX_CHAIN operations, reaching every target witnessed', () => {
    const chained = chainedSuite(b, r, tracker);
    coversAll(chained);
    expect(chained.sequences.length).toBeLessThan(coverSuite(b, r, tracker).sequences.length);
    for (const s of chained.sequences) expect(s.operations).toBeLessThanOrEqual(MAX_CHAIN);
  });
});

describe.each([
  { kernel: '6.1', traceDir: '../traces/explore/' },
  { kernel: '6.12', traceDir: '../traces-6.12/explore/' },
] as const)('the conformance suite recorded on a real $kernel kernel ($traceDir)', ({ kernel, traceDir }) => {
  const dir = new URL(traceDir, import.meta.url);
  const traces = (['hmem', 'pmem'] as const).flatMap((m) => readdirSync(new URL(`${m}/`, dir)).map((f) => `${m}/${f}`)).sort();
  const load = (file: string) => parseLogText(readFileSync(new URL(file, dir), 'utf8'), file).map((l) => l.event);

  it.each(traces)('%s replays with zero divergences and zero violations', (file) => {
    const events = load(file);
    expect(events[0]?.type === 'boot' && events[0].kernel).toBe(kernel);
    expect(events.slice(1).every((e) => e.result !== undefined)).toBe(true);
    const r = replay(events, { check: checkAll(makeChecker()) });
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
  });

  it(`pmem-${kernel}: the recorded sequences are the ones \`memhp explore --preset pmem-${kernel} --cover [--isolated]\` picks today`, () => {
    const tracker = new CoverTracker();
    const name = `pmem-${kernel}`;
    const p = preset(name);
    const suite = coverSuite(p.boot(), search(name, { onTransition: tracker.observe }), tracker);
    const ops = (events: readonly { type: string }[]): string[] => events.slice(1).map((e) => JSON.stringify({ ...e, result: undefined, seq: undefined }));
    const recorded = traces.filter((t) => t.startsWith('pmem/cover-')).map((t) => ops(load(t)));
    expect(recorded).toEqual(suite.sequences.map((s) => ops(s.events)));
    const chain = chainedSuite(p.boot(), search(name, { onTransition: tracker.observe }), tracker);
    expect(traces.filter((t) => t.startsWith('pmem/chain-')).map((t) => ops(load(t)))).toEqual(chain.sequences.map((s) => ops(s.events)));
  });
});

describe('the swap alphabet (opt-in)', () => {
  it('a 6.1 machine with two swap areas and a blank device: exhausted clean, every sys_swapon/sys_swapoff branch but EPERM (MAX_SWAPFILES is 22 or more) reached', () => {
    const devs = ['/dev/ram0', '/dev/ram1', '/dev/ram2'];
    const b = parseLogText(JSON.stringify(boot({ kernel: '6.1', blockDevices: devs, swapAreas: devs.slice(0, 2) }, { devicePrivate: true })), 'swap.jsonl')[0]?.event;
    if (b?.type !== 'boot') throw new Error('no boot');
    const r = explore({ boot: b, machineName: 'swap', generators: gens(['swap']), symmetry: true, outDir: null });
    expect(r.exhausted).toBe(true);
    expect(r.failures).toEqual([]);
    // No area, ram0, ram1, both; the two orders of both differ in their types (a swap entry names its type).
    expect(r.states).toBeGreaterThanOrEqual(5);
    const swapBranches = ['file_open_name:ENOENT', 'claim_swapfile:EBUSY', 'read_swap_header:EINVAL', 'sys_swapoff:EINVAL'];
    expect(swapBranches.filter((x) => r.coverage.branches.missing.includes(x))).toEqual([]);
    expect(r.coverage.branches.missing).toContain('alloc_swap_info:EPERM');
  });
});
