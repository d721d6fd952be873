import { describe, expect, it } from 'vitest';
import { DAX_DEVICE_PHASE, daxDeviceMachine, daxDeviceTable, leafStates, type DaxDeviceState } from '../../machines/index.js';

interface Edge {
  readonly source: DaxDeviceState;
  readonly event: string;
  readonly target: DaxDeviceState;
  readonly guard: string | null;
}

/** Every transition written in the machine definition, read off its state nodes (ancestors' `on` included). */
function definitionEdges(): Edge[] {
  const edges: Edge[] = [];
  const byId = new Map<string, string>();
  for (const leaf of leafStates(daxDeviceMachine)) byId.set(`daxDevice.${JSON.stringify(leaf.value)}`, leaf.name);
  for (const leaf of leafStates(daxDeviceMachine)) {
    let node = daxDeviceMachine.getStateNodeById(idOf(leaf.value));
    for (;;) {
      for (const [event, defs] of node.transitions) {
        for (const t of defs) {
          for (const target of t.target ?? []) {
            edges.push({
              source: leaf.name as DaxDeviceState,
              event,
              target: target.key as DaxDeviceState,
              guard: typeof t.guard === 'string' ? t.guard : t.guard === undefined ? null : 'inline',
            });
          }
        }
      }
      if (node.parent === undefined || node.parent === daxDeviceMachine.root) break;
      node = node.parent;
    }
  }
  return edges;
}

function idOf(value: unknown): string {
  const path: string[] = [];
  let v = value;
  while (typeof v === 'object' && v !== null) {
    const [k, inner] = Object.entries(v)[0] as [string, unknown];
    path.push(k);
    v = inner;
  }
  path.push(String(v));
  return `daxDevice.${path.join('.')}`;
}

describe('dax device machine (machines/daxDevice.machine.ts)', () => {
  const edges = definitionEdges();

  it('has the four lifecycle leaf states', () => {
    expect(leafStates(daxDeviceMachine).map((l) => l.name).sort()).toEqual(['devdax', 'kmem', 'online', 'unbound']);
    // unbound: devdax.probed, kmem.added; devdax: devdax.removed; kmem: kmem.added, block.onlined, kmem.removed;
    // online: kmem.added, kmem.removed.
    expect(edges.length).toBe(8);
  });

  it('guards the re-probe after a partial hot-remove (kmem.added in kmem/online) by hotRemove', () => {
    const reprobe = edges.filter((e) => e.event === 'kmem.added' && e.source !== 'unbound');
    expect(reprobe.map((e) => `${e.source}->${e.target}:${e.guard}`).sort()).toEqual(['kmem->kmem:hotRemove', 'online->online:hotRemove']);
  });

  it('never leads back to an earlier phase unless guarded by hotRemove (the one-way trip)', () => {
    const backwards = edges.filter((e) => DAX_DEVICE_PHASE[e.target] < DAX_DEVICE_PHASE[e.source]);
    expect(backwards.length).toBeGreaterThan(0);
    for (const e of backwards) expect(e.guard, `${e.source} -${e.event}-> ${e.target}`).toBe('hotRemove');
    for (const e of edges.filter((x) => x.guard === null)) {
      expect(DAX_DEVICE_PHASE[e.target], `${e.source} -${e.event}-> ${e.target}`).toBeGreaterThanOrEqual(DAX_DEVICE_PHASE[e.source]);
    }
  });

  it('under the one-way profile (hotRemove false) no enabled transition lowers the phase', () => {
    const oneway = daxDeviceTable.entries().filter((e) => e.contextKey === 'oneway');
    expect(oneway.length).toBe(4);
    for (const e of oneway) expect(DAX_DEVICE_PHASE[e.entry.target]).toBeGreaterThanOrEqual(DAX_DEVICE_PHASE[e.source]);
    // Reachability in the one-way graph: from unbound every later phase is reachable, nothing earlier from kmem.
    const reach = (from: DaxDeviceState): Set<DaxDeviceState> => {
      const seen = new Set<DaxDeviceState>([from]);
      const todo = [from];
      while (todo.length > 0) {
        const s = todo.pop() as DaxDeviceState;
        for (const e of oneway) if (e.source === s && !seen.has(e.entry.target)) (seen.add(e.entry.target), todo.push(e.entry.target));
      }
      return seen;
    };
    expect([...reach('unbound')].sort()).toEqual(['devdax', 'kmem', 'online', 'unbound']);
    expect([...reach('kmem')].sort()).toEqual(['kmem', 'online']);
    expect([...reach('online')]).toEqual(['online']);
  });

  it('with hot-remove only kmem.removed goes back, from kmem and online to unbound', () => {
    const back = daxDeviceTable
      .entries()
      .filter((e) => e.contextKey === 'hotremove' && DAX_DEVICE_PHASE[e.entry.target] < DAX_DEVICE_PHASE[e.source])
      .map((e) => `${e.source}-${e.event}->${e.entry.target}`)
      .sort();
    expect(back).toEqual(['kmem-kmem.removed->unbound', 'online-kmem.removed->unbound']);
  });
});
