/**
 * "Sometimes" goals: states and events the generator must be able to reach.
 * A campaign reports each as reached or never reached; npm test asserts the
 * default budget reaches them all.
 */
import type { DaxDevice } from '../src/kernel/state.js';
import type { Step } from '../src/replay/engine.js';
import { canonicalPath } from '../src/sysfs/surface.js';

export interface Goal {
  readonly name: string;
  /**
   * Set when only a step with this can reach the goal: coverage skips the
   * goal on steps without transitions, failure branches or changed blocks
   * (most steps take no transition). A test in test/properties/checker.test.ts
   * shows `reached` is false on such steps.
   */
  readonly needs?: 'transitions' | 'branches' | 'changed';
  /** `changed`: the block ids the step changed (goals about blocks look only there). */
  readonly reached: (step: Step, changed: readonly number[]) => boolean;
}

function branch(s: Step, prefix: string): boolean {
  for (const b of s.branches) if (b.startsWith(prefix)) return true;
  return false;
}
function transition(s: Step, suffix: string): boolean {
  for (const t of s.transitions) if (t.endsWith(suffix)) return true;
  return false;
}
/** The zone of an online block, else null. */
function onlineZone(s: Step, id: number): string | null {
  const b = s.after.blocks.get(id);
  return b?.state === 'online' ? b.zone : null;
}
/** Whether kmem holds blocks of `d` both online and not (stops at the first of each). */
function partlyOnline(s: Step, d: DaxDevice): boolean {
  if (d.kmem === null) return false;
  let on = false;
  let off = false;
  const B = s.after.blockSize;
  for (const r of d.kmem.res) {
    if (r === null) continue;
    for (const [, b] of s.after.blocks.range(Number(r.start / B), Number((r.end + 1n) / B) - 1)) {
      if (b.state === 'online') on = true;
      else off = true;
      if (on && off) return true;
    }
  }
  return false;
}
/** The page-table levels of entries the step installed (program events only). */
function newEntryLevels(s: Step): Set<string> {
  const out = new Set<string>();
  if (s.before === null || s.before.mm.procs === s.after.mm.procs) return out;
  for (const [pid, p] of s.after.mm.procs) {
    const was = s.before.mm.procs.get(pid);
    if (was === p) continue;
    for (const v of p.vmas) {
      if (was?.vmas.includes(v) === true) continue;
      const old = was?.vmas.find((o) => o.start === v.start);
      const keys = old === undefined ? [...v.ptes.entries()].map(([k]) => k) : v.ptes.changedKeys(old.ptes);
      for (const k of keys) {
        const pte = v.ptes.get(k);
        if (pte !== undefined) out.add(pte.level);
      }
    }
  }
  return out;
}
/** An access that worked through a file opened before the device's last bind: the vma revived after unbind and rebind. */
function revived(s: Step): boolean {
  const e = s.event;
  if (e.type !== 'access' || !s.outcome.ok) return false;
  const p = s.after.mm.procs.get(e.pid);
  return (p?.vmas ?? []).some((v) => {
    const f = v.file === null ? undefined : s.after.mm.files.get(v.file);
    const d = s.after.devices.find((x) => x.name === f?.dev);
    return f !== undefined && d !== undefined && f.gen < d.cdevGen && v.ptes.size > 0;
  });
}
function movableNextToNormal(a: string | null, b: string | null): boolean {
  return (a === 'Movable' && b === 'Normal') || (a === 'Normal' && b === 'Movable');
}

export const GOALS: readonly Goal[] = [
  { name: 'kmem probe added memory', needs: 'transitions', reached: (s) => transition(s, ':kmem.added') },
  { name: 'a kmem device online', reached: (s) => s.after.devices.some((d) => d.phase === 'online') },
  {
    name: 'leaked kmem device (unbound, memory pinned)',
    reached: (s) => s.after.devices.some((d) => d.driver === null && (d.phase === 'kmem' || d.phase === 'online')),
  },
  { name: 'partially onlined kmem device', needs: 'changed', reached: (s, changed) => changed.length > 0 && s.after.devices.some((d) => partlyOnline(s, d)) },
  {
    name: 'Movable block next to a Normal one',
    needs: 'changed',
    reached: (s, changed) => {
      for (const id of changed) {
        const z = onlineZone(s, id);
        if (z !== null && (movableNextToNormal(z, onlineZone(s, id - 1)) || movableNextToNormal(z, onlineZone(s, id + 1)))) return true;
      }
      return false;
    },
  },
  { name: 'probe skipped a too-small range', needs: 'transitions', reached: (s) => s.outcome.ok && branch(s, 'dev_dax_kmem_probe:skip(too-small)') && transition(s, ':kmem.added') },
  { name: 'memmap_on_memory block online', needs: 'changed', reached: (s, changed) => changed.some((id) => { const b = s.after.blocks.get(id); return b?.state === 'online' && b.vmemmapPages > 0; }) },
  { name: 'hot-added block offlined', needs: 'transitions', reached: (s) => transition(s, ':going-offline:offline.done') },
  { name: 'offline failed and rolled back', needs: 'transitions', reached: (s) => transition(s, ':going-offline:offline.failed') },
  { name: 'kmem memory hot-removed', needs: 'transitions', reached: (s) => transition(s, ':kmem.removed') },
  { name: 'rebind refused: pinned memory (EBUSY)', needs: 'branches', reached: (s) => branch(s, 'dev_dax_kmem_probe:EBUSY') || branch(s, 'dev_dax_probe:EBUSY') },
  { name: 'stale pgmap refused a device_dax probe', needs: 'branches', reached: (s) => branch(s, 'dev_dax_probe:EINVAL(pgmap)') },
  { name: 'add_memory failed inside a probe', reached: (s) => s.outcome.log?.some((l) => l.includes('memory add failed')) ?? false },
  { name: 'auto-online at add', needs: 'transitions', reached: (s) => transition(s, ':kmem.added') && s.transitions.some((t) => t.includes('memoryBlock:all:offline:online')) },
  { name: 'target_node -1 rejected', needs: 'branches', reached: (s) => branch(s, 'dev_dax_kmem_probe:EINVAL(node)') },
  { name: 'device-dax PTE fault served (align 4K)', reached: (s) => newEntryLevels(s).has('pte') },
  { name: 'device-dax PMD fault served after the PUD size fell back', reached: (s) => newEntryLevels(s).has('pmd') },
  { name: 'device-dax PUD fault served (align 1G)', reached: (s) => newEntryLevels(s).has('pud') },
  { name: 'device-dax fault ended in SIGBUS', reached: (s) => !s.outcome.ok && 'signal' in s.outcome && s.outcome.signal === 'SIGBUS' },
  { name: 'a mapping revived after unbind and rebind', reached: revived },
  { name: 'device resized', reached: (s) => s.event.type === 'write' && canonicalPath(s.event.path).endsWith('/size') && s.outcome.ok && s.before !== null && s.before.devices !== s.after.devices },
];
