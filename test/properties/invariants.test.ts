import { describe, expect, it } from 'vitest';
import { INVARIANTS, makeChecker, contextOf, invariantByName, FIELD_KEYS, changedFields, fieldMask } from '../../properties/invariants/index.js';
import type { Invariant } from '../../properties/invariants/index.js';
import { IORESOURCE_BUSY, IORESOURCE_MEM, updateAt, type Resource } from '../../src/kernel/resource.js';
import { internBlock, type KernelState } from '../../src/kernel/state.js';
import { replay, type Step } from '../../src/replay/engine.js';
import { parseLogText } from '../../src/log/index.js';
import { Coverage } from '../../properties/coverage.js';
import { boot } from '../helpers/machine.js';
import { exampleText, run, stepOf } from '../helpers/steps.js';

function inv(name: string): Invariant {
  const i = invariantByName(name);
  if (i === undefined) throw new Error(`no invariant ${name}`);
  return i;
}

function violations(name: string, step: Step, full = false): readonly string[] {
  return inv(name).check(contextOf(step, full));
}

const pmem = run(exampleText('qemu-pmem-kmem.jsonl'));
const hmem = run(exampleText('hmem-node1.jsonl'));
/** The pmem walkthrough after new_id kmem and three onlines. */
const pmemOnline = pmem.steps[7]!.after;

describe('invariant registry', () => {
  it('names every SPEC §5 invariant once', () => {
    expect(INVARIANTS.map((i) => i.name).sort()).toEqual(
      [
        'accounting',
        'blocks-cover-system-ram',
        'busy-no-overlap',
        'device-one-way',
        'errno-documented',
        'failed-op-unchanged',
        'hmm-device-entry',
        'hmm-device-free',
        'hmm-device-mapcount',
        'hmm-device-private-iomem',
        'kmem-resource-shape',
        'no-devdax-over-online-memory',
        'no-transient-at-rest',
        'node-respected',
        'resource-tree-wellformed',
        'vmemmap-in-own-block',
        'dax-liveness',
        'dax-granularity',
        'dax-translation',
        'dax-vma-shape',
        'dax-config-while-bound',
        'dax-cdev',
        'dax-memmap',
        'dax-pfn-user',
        'swap-types',
        'no-oops',
        // SPEC §10, the kmem-persist series.
        'persist-page-partition',
        'persist-index-wellformed',
        'persist-never-free-live-data',
        'persist-accounting',
        'persist-write-allocation',
        'persist-superblock',
        'persist-disk',
        'persist-type-refcount',
        'persist-node-exclusive',
        'persist-read-your-writes',
        // Anonymous memory (issue 12).
        'anon-mapcount',
        'anon-exclusive-write',
        'anon-frames',
        'anon-rss',
        // test_hmm's device page table (issue 12).
        'hmm-mirror-coherent',
        'hmm-dmirror-counters',
        // Device-exclusive entries (HMM_DMIRROR_EXCLUSIVE).
        'hmm-exclusive-entry',
        'hmm-exclusive-atomic',
        // Data preservation (KERNEL-FACTS-HMM §5.1 item 7).
        'anon-data-preserved',
      ].sort(),
    );
  });

  it.each([
    ['qemu-pmem-kmem.jsonl', false],
    ['qemu-pmem-kmem.jsonl', true],
    ['hmem-node1.jsonl', false],
    ['hmem-node1.jsonl', true],
  ])('%s holds every invariant after every step (paranoid %s)', (file, paranoid) => {
    const r = run(exampleText(file), makeChecker({ paranoid }));
    expect(r.steps.length).toBeGreaterThan(10);
    expect(r.violations).toEqual([]);
  });
});

describe('each invariant can fail', () => {
  it('resource-tree-wellformed: overlapping siblings, a child outside its parent', () => {
    const s = pmemOnline;
    const bad: KernelState = {
      ...s,
      iomem: updateAt(s.iomem, [], (root) => ({
        ...root,
        children: [...root.children, { start: 0x1000n, end: 0x1fffn, name: 'late', flags: IORESOURCE_MEM, desc: 0, children: [] }],
      })),
    };
    expect(violations('resource-tree-wellformed', stepOf(s, bad)).join()).toMatch(/unsorted or overlap/);
    const outside: KernelState = {
      ...s,
      iomem: updateAt(s.iomem, [0], (ram) => ({ ...ram, children: [{ start: 0x100000000n, end: 0x100000fffn, name: 'stray', flags: IORESOURCE_MEM, desc: 0, children: [] }] })),
    };
    expect(violations('resource-tree-wellformed', stepOf(s, outside)).join()).toMatch(/not inside its parent/);
  });

  it('hmm-device-private-iomem: a chunk moved off its node, one unaligned above PHYSMEM_END, and one left behind after unload', () => {
    const text = [
      '{"type":"boot","kernel":"6.1","config":{"devicePrivate":true,"testHmm":"m","physAddrBits":40},"memoryBlockSize":"128M","ram":[{"start":"0x0","size":"1G","node":0}]}',
      '{"type":"modprobe","module":"test_hmm"}',
    ].join('\n');
    const s = run(text).final;
    expect(violations('hmm-device-private-iomem', stepOf(s, s), true)).toEqual([]);
    const [d0, d1] = s.hmm.devices;
    const c = d0!.chunks[0]!;
    // The driver's record says one range, iomem holds another.
    const moved: KernelState = { ...s, hmm: { ...s.hmm, devices: [{ ...d0!, chunks: [{ start: c.start - (128n << 20n), end: c.end - (128n << 20n) }] }, d1!] } };
    expect(violations('hmm-device-private-iomem', stepOf(s, moved))).toEqual(['test_hmm chunk [0xffe8000000-0xfff7ffffff] is no top-level iomem node']);
    // Unloaded, but the nodes are still in iomem (rmmod without release_mem_region).
    const leaked: KernelState = { ...s, hmm: { ...s.hmm, loaded: false, devices: [] } };
    expect(violations('hmm-device-private-iomem', stepOf(s, leaked))).toEqual(['2 device-private iomem nodes, expected 0 from the boot plus 0 test_hmm chunks (test_hmm not loaded)']);
    // A 52-bit machine's chunk one byte past the section boundary, straddling PHYSMEM_END (the off-by-one variant).
    const top = 1n << 46n;
    const odd = { start: top - (256n << 20n) + 1n, end: top };
    const node: Resource = { start: odd.start, end: odd.end, name: 'hmm_dmirror', flags: (IORESOURCE_MEM | IORESOURCE_BUSY) >>> 0, desc: 6, children: [] };
    const wide: KernelState = { ...s, config: { ...s.config, physAddrBits: 52 }, iomem: { ...s.iomem, children: [s.iomem.children[0]!, node] }, hmm: { ...s.hmm, devices: [{ chunks: [odd], free: null, fresh: null }] } };
    expect(violations('hmm-device-private-iomem', stepOf(s, wide))).toEqual([
      'test_hmm chunk [0x3ffff0000001-0x400000000000] is not section-aligned (128 MiB)',
      'test_hmm chunk [0x3ffff0000001-0x400000000000] ends above min(iomem end, PHYSMEM_END) = 0x3fffffffffff',
    ]);
  });

  it('busy-no-overlap: two BUSY nodes side by side over the same bytes', () => {
    const s = pmemOnline;
    const busy = (start: bigint, end: bigint, name: string): Resource => ({ start, end, name, flags: (IORESOURCE_MEM | IORESOURCE_BUSY) >>> 0, desc: 0, children: [] });
    const bad: KernelState = { ...s, iomem: { ...s.iomem, children: [busy(0n, 0xfffn, 'a'), busy(0x800n, 0x1fffn, 'b')] } };
    expect(violations('busy-no-overlap', stepOf(s, bad))).toEqual(['BUSY a [0x0-0xfff] and BUSY b [0x800-0x1fff] overlap']);
    expect(violations('busy-no-overlap', stepOf(s, s), true)).toEqual([]);
  });

  it('kmem-resource-shape: the daxX.Y node left BUSY', () => {
    const s = pmemOnline;
    // Persistent Memory (legacy) is top-level child 1; dax0.0 is its child 1.
    const bad: KernelState = { ...s, iomem: updateAt(s.iomem, [1, 1], (n) => ({ ...n, flags: (n.flags | IORESOURCE_BUSY) >>> 0 })) };
    expect(violations('kmem-resource-shape', stepOf(s, bad)).join()).toMatch(/expected exactly IORESOURCE_SYSTEM_RAM/);
    expect(violations('kmem-resource-shape', stepOf(s, s), true)).toEqual([]);
  });

  it('blocks-cover-system-ram: a hot-added block missing, and a block without System RAM', () => {
    const s = pmemOnline;
    const missing: KernelState = { ...s, blocks: s.blocks.delete(18) };
    expect(violations('blocks-cover-system-ram', stepOf(s, missing))).toEqual([
      'System RAM System RAM (kmem) [0x88000000-0x9fffffff] has no memory block 18',
    ]);
    const extra: KernelState = { ...s, blocks: s.blocks.set(60, { ...s.blocks.get(18)! }) };
    expect(violations('blocks-cover-system-ram', stepOf(s, extra))).toEqual(['memory60 is covered by 0 of 32768 pages of BUSY System RAM']);
  });

  it('vmemmap-in-own-block: struct pages hosted by another block (hand-built) and by the memmap-whole-range variant', () => {
    const s = pmemOnline;
    const b17 = s.blocks.get(17)!;
    const bad: KernelState = { ...s, blocks: s.blocks.set(18, internBlock({ ...s.blocks.get(18)!, memmapHost: -1 })).set(17, internBlock({ ...b17, vmemmapPages: 1024, memmapHost: 0 })) };
    const msgs = violations('vmemmap-in-own-block', { ...stepOf(s, bad) });
    expect(msgs.join('\n')).toMatch(/memory18's struct pages live in memory17/);
    expect(msgs.join('\n')).toMatch(/unsupported here/);
  });

  it('accounting: MemTotal out of step with the online blocks', () => {
    const s = pmemOnline;
    const bad: KernelState = { ...s, managedPages: s.managedPages + 1 };
    expect(violations('accounting', stepOf(s, bad)).join()).toMatch(/managed pages moved by 1, blocks by 0/);
    expect(violations('accounting', stepOf(null, bad)).join()).toMatch(/but online blocks sum to/);
  });

  it('node-respected: a kmem block on another node', () => {
    const s = hmem.steps[8]!.after;
    const b = s.blocks.get(49)!;
    const bad: KernelState = { ...s, blocks: s.blocks.set(49, internBlock({ ...b, nid: 0 })) };
    expect(violations('node-respected', stepOf(s, bad))).toEqual(['memory49 of dax0.0 is on node 0, target_node is 1']);
  });

  it('device-one-way: a device back from online to devdax, a block back offline', () => {
    const s = pmemOnline;
    const back: KernelState = { ...s, devices: s.devices.map((d) => ({ ...d, phase: 'devdax' as const })), blocks: s.blocks.set(17, internBlock({ ...s.blocks.get(17)!, state: 'offline', zone: null })) };
    expect(violations('device-one-way', stepOf(s, back))).toEqual(['dax0.0 went back from online to devdax', 'memory17 went from online to offline']);
  });

  it('no-devdax-over-online-memory: device_dax bound over online memory', () => {
    const s = hmem.steps[11]!.after;
    const bad: KernelState = { ...s, devices: s.devices.map((d) => ({ ...d, driver: 'device_dax' as const, phase: 'devdax' as const })) };
    const msgs = violations('no-devdax-over-online-memory', stepOf(s, bad));
    expect(msgs).toContain('dax0.0 is bound to device_dax over online memory48');
  });

  it('failed-op-unchanged: a failing step that changed the tree', () => {
    const s = pmemOnline;
    const changed: KernelState = { ...s, iomem: updateAt(s.iomem, [1, 1], (n) => ({ ...n, name: 'renamed' })) };
    expect(violations('failed-op-unchanged', stepOf(s, changed, { ok: false, errno: 'EBUSY' }))).toEqual(['failed with EBUSY but iomem changed']);
    expect(violations('failed-op-unchanged', stepOf(s, changed, { ok: true }))).toEqual([]);
  });

  it('errno-documented: ENOSPC from a memory block state write', () => {
    const s = pmemOnline;
    const step = stepOf(s, s, { ok: false, errno: 'ENOSPC' }, { event: { type: 'write', path: '/sys/devices/system/memory/memory20/state', value: 'online', raw: false } });
    expect(violations('errno-documented', step).join()).toMatch(/failed with ENOSPC, which it cannot return/);
    const ok = stepOf(s, s, { ok: false, errno: 'EINVAL' }, { event: { type: 'write', path: '/sys/devices/system/memory/memory20/state', value: 'online', raw: false } });
    expect(violations('errno-documented', ok)).toEqual([]);
  });

  // Issue 9, item 2: the VFS resolves `//`, `.` and `..`, so the tables must too.
  it.each(['memory20//state', 'memory20/./state', 'memory19/../memory20/state', '/memory20/state'])(
    'errno-documented and coverage look a path up canonically: %s',
    (tail) => {
      const path = `/sys/devices/system/memory/${tail}`;
      const step = stepOf(pmemOnline, pmemOnline, { ok: false, errno: 'EINVAL' }, { event: { type: 'write', path, value: 'bogus', raw: false } });
      expect(violations('errno-documented', step)).toEqual([]);
      const bad = stepOf(pmemOnline, pmemOnline, { ok: false, errno: 'ENOSPC' }, { event: { type: 'write', path, value: 'bogus', raw: false } });
      expect(violations('errno-documented', bad).join()).toMatch(/failed with ENOSPC, which it cannot return \(documented: ENOENT EACCES EISDIR EINVAL EBUSY/);
      const cov = new Coverage();
      cov.record(step);
      expect(cov.report([]).errnos.missing).not.toContain('state_store, online_store, memory_block_online, offline_pages: EINVAL');
    },
  );

  it('errno-documented: a replayed write through memory1//state that fails with EINVAL is no violation', () => {
    const text = `${JSON.stringify(boot())}\n{"type":"write","path":"/sys/devices/system/memory/memory1//state","value":"bogus"}\n`;
    const r = run(text, makeChecker());
    expect(r.steps[1]?.outcome).toEqual({ ok: false, errno: 'EINVAL' });
    expect(r.violations).toEqual([]);
  });

  it('no-transient-at-rest: a block left going-offline', () => {
    const s = pmemOnline;
    const bad: KernelState = { ...s, blocks: s.blocks.set(19, internBlock({ ...s.blocks.get(19)!, state: 'going-offline' })) };
    expect(violations('no-transient-at-rest', stepOf(s, bad))).toEqual(['memory19 is still going-offline']);
  });

  it('swap-types: one type too many (6.1 with DEVICE_PRIVATE: MAX_SWAPFILES 22), a device active twice, a slot left SWP_USED, a device without signature', () => {
    const devs = ['/dev/ram0', '/dev/ram1', '/dev/ram2'];
    const swapBoot = { ...boot(), kernel: '6.1', config: { devicePrivate: true, memoryFailure: true }, blockDevices: devs, swapAreas: devs.slice(0, 2) };
    const text = `${JSON.stringify(swapBoot)}\n{"type":"swapon","path":"/dev/ram0"}\n{"type":"swapon","path":"/dev/ram1"}\n`;
    const r = run(text, makeChecker());
    expect(r.violations).toEqual([]);
    const s = r.steps[2]!.after;
    const active = s.swap.info;
    expect(active.map((si) => si.path)).toEqual(['/dev/ram0', '/dev/ram1']);
    const tooMany: KernelState = { ...s, swap: { ...s.swap, info: Array.from({ length: 23 }, () => ({ used: false, path: null })) } };
    expect(violations('swap-types', stepOf(s, tooMany))).toEqual(['23 swap types allocated (nr_swapfiles), MAX_SWAPFILES is 22']);
    const twice: KernelState = { ...s, swap: { ...s.swap, info: [active[0]!, active[0]!] } };
    expect(violations('swap-types', stepOf(s, twice))).toEqual(['/dev/ram0 is active as swap types 0 and 1']);
    const stuck: KernelState = { ...s, swap: { ...s.swap, info: [active[0]!, { used: true, path: null }] } };
    expect(violations('swap-types', stepOf(s, stuck))).toEqual(['swap type 1 is SWP_USED with no swap file (a swapon that neither finished nor went to bad_swap)']);
    const blank: KernelState = { ...s, swap: { ...s.swap, info: [active[0]!, { used: true, path: '/dev/ram2' }] } };
    expect(violations('swap-types', stepOf(s, blank))).toEqual(['swap type 1 is active on /dev/ram2, which holds no swap signature']);
    expect(violations('swap-types', stepOf(s, s), true)).toEqual([]);
  });
});

describe('the checker skips what a step cannot have broken', () => {
  it('a change to any KernelState field sets its own bit, and no other, in the written-out comparison (changedFields against FIELD_KEYS)', () => {
    const s = replay(parseLogText(JSON.stringify(boot()), 't.jsonl').map((l) => l.event)).final;
    expect(changedFields(s, { ...s })).toBe(0);
    expect(new Set(FIELD_KEYS).size).toBe(Object.keys(s).length);
    for (const k of FIELD_KEYS) {
      const changed = { ...s, [k]: { changed: k } } as unknown as KernelState;
      expect(changedFields(s, changed), k).toBe(fieldMask([k]));
    }
  });

  it('a store through an installed entry changes only memory words: only the invariants that judge the outcome (or memory) run', () => {
    const text = [
      JSON.stringify({ type: 'boot', kernel: '6.1', memoryBlockSize: '128M', ram: [{ start: '0x0', size: '4G', node: 0 }], daxRegions: [{ id: 0, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 0, devices: [{ name: 'dax0.0', start: '0x180000000', size: '1G', driver: 'device_dax' }] }] }),
      JSON.stringify({ type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', flags: 'rdwr' }),
      JSON.stringify({ type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: '2M', offset: '0', prot: 'rw', flags: ['shared'] }),
      JSON.stringify({ type: 'access', pid: 'p1', map: 'm1', offset: '0', op: 'write', value: '0x1' }),
      JSON.stringify({ type: 'access', pid: 'p1', map: 'm1', offset: '8', op: 'write', value: '0x2' }),
    ].join('\n');
    const r = replay(parseLogText(text, 't.jsonl').map((l) => l.event), { keepSteps: true });
    const store = r.steps[4];
    if (store === undefined || store.before === null) throw new Error('no step');
    // The second store found the entry the first one faulted in: memory changed, nothing else.
    expect(store.before.mm.mem).not.toBe(store.after.mm.mem);
    expect(store.before.mm.procs).toBe(store.after.mm.procs);
    const seen: string[] = [];
    const spy = INVARIANTS.map((inv) => ({ inv, check: inv.check }));
    for (const { inv } of spy) (inv as { check: Invariant['check'] }).check = () => (seen.push(inv.name), []);
    try {
      makeChecker()(store);
      expect(seen.sort()).toEqual(
        INVARIANTS.filter((i) => (i.onOutcome === true || i.readsMemory === true) && i.appliesTo?.(store.after) !== false && (i.onEvents?.includes('access') ?? true))
          .map((i) => i.name)
          .sort(),
      );
      seen.length = 0;
      // The fault that installed the entry changed a process: every invariant ran but those whose declared inputs
      // (swap, the test_hmm chunks, the devices alone) the step left as they were.
      const fault = r.steps[3] as typeof store;
      makeChecker()(fault);
      // The parts of mm it changed: a process's page-table pages and a file vma's entries, no anonymous vma, folio or RSS.
      const reads = (i: Invariant) => i.inputs === undefined || i.inputs.some((k) => fault.before?.[k] !== fault.after[k] && (k !== 'mm' || i.mmParts === undefined));
      expect(seen.sort()).toEqual(INVARIANTS.filter((i) => i.appliesTo?.(store.after) !== false && reads(i) && (i.onEvents?.includes('access') ?? true)).map((i) => i.name).sort());
      expect(seen).not.toContain('errno-documented');
      expect(seen).toContain('dax-granularity');
      expect(seen).not.toContain('swap-types');
      expect(seen).not.toContain('anon-mapcount');
      expect(seen).toContain('anon-data-preserved');
    } finally {
      for (const { inv, check } of spy) (inv as { check: Invariant['check'] }).check = check;
    }
  });
});

describe('onEvents: an invariant is not called on the event types it cannot judge', () => {
  it('on every step of the recorded logs of another type, each invariant that names its events finds nothing, even judging the whole state', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const named = INVARIANTS.filter((i) => i.onEvents !== undefined);
    expect(named.map((i) => i.name).sort()).toEqual(['dax-pfn-user', 'errno-documented', 'hmm-dmirror-counters', 'persist-write-allocation']);
    const judged = new Map<string, number>();
    for (const root of ['test/traces', 'test/traces-6.12', 'test/traces-custom']) {
      for (const dir of readdirSync(root)) {
        for (const f of readdirSync(join(root, dir)).filter((x) => x.endsWith('.jsonl'))) {
          const r = replay(parseLogText(readFileSync(join(root, dir, f), 'utf8'), f).map((l) => l.event), { keepSteps: true });
          for (const step of r.steps) {
            if (step.before === null) continue;
            for (const inv of named) {
              if (inv.onEvents?.includes(step.event.type) === true || inv.appliesTo?.(step.after) === false) continue;
              expect(inv.check(contextOf(step, true)), `${inv.name} on ${f} step ${step.index} (${step.event.type})`).toEqual([]);
              judged.set(inv.name, (judged.get(inv.name) ?? 0) + 1);
            }
          }
        }
      }
    }
    // Each was asked about many steps of other types (failed ones among them: failures are most of a fuzz log's).
    for (const inv of named) expect(judged.get(inv.name) ?? 0, inv.name).toBeGreaterThan(100);
  });
});

describe('appliesTo depends on the profile and the config only (the checker asks it once per pair)', () => {
  it('answers the same for a state and for its profile and config alone, on every profile the recorded logs boot', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const withApplies = INVARIANTS.filter((i) => i.appliesTo !== undefined);
    expect(withApplies.length).toBeGreaterThan(5);
    const answers = new Set<string>();
    for (const root of ['test/traces', 'test/traces-custom']) {
      for (const dir of readdirSync(root)) {
        const f = readdirSync(join(root, dir)).find((x) => x.endsWith('.jsonl'));
        if (f === undefined) continue;
        const s = replay(parseLogText(readFileSync(join(root, dir, f), 'utf8'), f).map((l) => l.event)).final;
        // Every field but these two missing: an appliesTo reading another would answer differently or throw.
        const bare = { profile: s.profile, config: s.config } as unknown as KernelState;
        for (const inv of withApplies) {
          expect(inv.appliesTo?.(bare), inv.name).toBe(inv.appliesTo?.(s));
          answers.add(`${inv.name}:${String(inv.appliesTo?.(s))}`);
        }
      }
    }
    // Both answers occur (the kmem-persist logs apply the persist invariants, the others do not).
    expect(answers.has('persist-disk:true') && answers.has('persist-disk:false')).toBe(true);
  });
});
