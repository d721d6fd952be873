/**
 * Must-succeed properties (SPEC §5): operations that must work when their
 * preconditions hold. They catch bugs that make things fail rather than go
 * wrong (a walk that cannot see nested RAM, a registration that cannot nest).
 * Preconditions are computed on the state before the step; none may have a
 * fault pending.
 */
import { kmemPersistNodeRefuses } from '../src/kernel/dax/kmemPersist.js';
import { daxBusMatch } from '../src/kernel/dax/bus.js';
import { failureKey } from '../src/log/events.js';
import { daxKmemRange } from '../src/kernel/dax/kmem.js';
import { requestRegion } from '../src/kernel/resource.js';
import { deviceSize, findRegion, type DaxDevice, type KernelState } from '../src/kernel/state.js';
import type { Step, Violation } from '../src/replay/engine.js';
import { canonicalPath } from '../src/sysfs/surface.js';
import { alignUp } from '../src/util/u64.js';

export interface MustSucceed {
  readonly name: string;
  readonly summary: string;
  /** A message when the step broke the property, else null; `w` is the step's write (parsed once for all four). */
  readonly check: (step: Step, before: KernelState, w: Write) => string | null;
}

/** A write step's canonical path, written bytes, and which of the two path shapes it has. */
interface Write {
  readonly path: string;
  readonly value: string;
  /** [driver, file] of a driver bind/unbind/new_id file. */
  readonly drv: readonly [string, string] | null;
  /** [block id, file] of a block state/online file. */
  readonly block: readonly [number, string] | null;
}

const DRV = /^\/sys\/bus\/dax\/drivers\/(device_dax|kmem)\/(bind|unbind|new_id)$/;
const BLOCK = /^\/sys\/devices\/system\/memory\/memory(\d+)\/(state|online)$/;

function strip(v: string): string {
  return v.endsWith('\n') ? v.slice(0, -1) : v;
}

function writeOf(step: Step): Write | null {
  const e = step.event;
  if (e.type !== 'write') return null;
  const path = canonicalPath(e.path);
  const d = DRV.exec(path);
  const b = d === null ? BLOCK.exec(path) : null;
  return {
    path,
    value: e.raw ? e.value : `${e.value}\n`,
    drv: d === null ? null : [d[1] as string, d[2] as string],
    block: b === null ? null : [Number(b[1]), b[2] as string],
  };
}

/** The range kmem's probe will try first, per profile (dax_kmem_range, or v5.1's whole-region arithmetic). */
function firstKmemRange(s: KernelState, dev: DaxDevice): { start: bigint; size: bigint } | null {
  if (s.profile.kmemPerRange) {
    for (const r of dev.ranges) {
      const a = daxKmemRange(s.blockSize, r);
      if (a !== null) return { start: a.start, size: a.end - a.start + 1n };
    }
    return null;
  }
  const first = dev.ranges[0];
  const last = dev.ranges[dev.ranges.length - 1];
  if (first === undefined || last === undefined) return null;
  const start = alignUp(first.start, s.blockSize);
  const end = ((last.end + 1n) / s.blockSize) * s.blockSize;
  return end > start ? { start, size: end - start } : null;
}

/** Whether kmem's probe of `dev` must succeed on `s`. */
export function kmemProbeMustSucceed(s: KernelState, dev: DaxDevice): boolean {
  if (s.faults.length > 0 || dev.driver !== null || dev.phase !== 'unbound' || deviceSize(dev) === 0n) return false;
  if (dev.targetNode < 0 || !s.possibleNodes.includes(dev.targetNode)) return false;
  // The kmem-persist series refuses a node that already has memory (RFC 2/4's node check).
  if (s.profile.kmemPersist && kmemPersistNodeRefuses(s, dev, dev.targetNode)) return false;
  const r = firstKmemRange(s, dev);
  if (r === null) return false;
  if (r.start + r.size > 1n << BigInt(s.config.physmemBits)) return false;
  for (const _ of s.blocks.range(Number(r.start / s.blockSize), Number((r.start + r.size) / s.blockSize) - 1)) return false;
  return requestRegion(s.iomem, r.start, r.size, dev.name).ok;
}

/** Whether device_dax's probe of `dev` must succeed on `s`. */
export function devdaxProbeMustSucceed(s: KernelState, dev: DaxDevice): boolean {
  if (s.faults.length > 0 || dev.driver !== null || dev.phase !== 'unbound' || deviceSize(dev) === 0n || dev.pgmap) return false;
  const region = findRegion(s, dev.regionId);
  if (region === undefined || (region.isStatic && dev.ranges.length > 1)) return false;
  let iomem = s.iomem;
  for (const r of dev.ranges) {
    const req = requestRegion(iomem, r.start, r.end - r.start + 1n, dev.name);
    if (!req.ok) return false;
    iomem = req.root;
  }
  for (const r of dev.ranges) {
    for (const [, b] of s.blocks.range(Number(r.start / s.blockSize), Number(r.end / s.blockSize))) if (b !== undefined) return false;
  }
  return true;
}

export const kmemBind: MustSucceed = {
  name: 'must-succeed:kmem-bind',
  summary: 'binding kmem (bind or new_id) to an unbound, matching device with a valid target node, an aligned block and a free range, no fault pending, adds its memory',
  check: (step, before, w) => {
    const m = w.drv;
    if (m === null || m[0] !== 'kmem' || (m[1] !== 'bind' && m[1] !== 'new_id')) return null;
    const dev = before.devices.find((d) => d.name === strip(w.value));
    if (dev === undefined || !kmemProbeMustSucceed(before, dev)) return null;
    // new_id adds the id before attaching, so the device matches by id in any profile.
    if (m[1] === 'bind' && !daxBusMatch(before, 'kmem', dev)) return null;
    if (!step.outcome.ok && 'oops' in step.outcome) return null;
    // new_id's driver_attach may bind another device of the node first; with the kmem-persist series the node
    // then has memory and the node check refuses this one.
    if (before.profile.kmemPersist && m[1] === 'new_id' && before.devices.some((d) => d !== dev && d.driver === null && d.targetNode === dev.targetNode)) return null;
    const after = step.after.devices.find((d) => d.name === dev.name);
    if (step.outcome.ok && after !== undefined && (after.phase === 'kmem' || after.phase === 'online')) return null;
    return `kmem ${m[1]} of ${dev.name} should have added its memory: ${step.outcome.ok ? `device is ${after?.phase}` : failureKey(step.outcome)}`;
  },
};

export const devdaxBind: MustSucceed = {
  name: 'must-succeed:devdax-bind',
  summary: 'binding device_dax to an unbound, intact, matching device whose ranges are free, no fault pending, succeeds',
  check: (step, before, w) => {
    const m = w.drv;
    if (m === null || m[0] !== 'device_dax' || m[1] !== 'bind') return null;
    const dev = before.devices.find((d) => d.name === strip(w.value));
    if (dev === undefined || !devdaxProbeMustSucceed(before, dev) || !daxBusMatch(before, 'device_dax', dev)) return null;
    return step.outcome.ok ? null : `device_dax bind of ${dev.name} should have succeeded: ${failureKey(step.outcome)}`;
  },
};

export const unbindBound: MustSucceed = {
  name: 'must-succeed:unbind',
  summary: 'unbinding a device from the driver it is bound to always succeeds',
  check: (step, before, w) => {
    const m = w.drv;
    if (m === null || m[1] !== 'unbind') return null;
    const dev = before.devices.find((d) => d.name === strip(w.value));
    if (dev === undefined || dev.driver !== m[0]) return null;
    // A crash in the driver's remove (the kmem persistence RFC's NULL ops) is no-oops' to judge.
    if (!step.outcome.ok && 'oops' in step.outcome) return null;
    const after = step.after.devices.find((d) => d.name === dev.name);
    return step.outcome.ok && after?.driver === null ? null : `unbind of ${dev.name} from ${m[0]} should have succeeded`;
  },
};

export const onlineHotAdded: MustSucceed = {
  name: 'must-succeed:online',
  summary: 'onlining an offline hot-added block (state online*/online 1), no fault pending, succeeds',
  check: (step, before, w) => {
    const m = w.block;
    if (m === null || before.faults.length > 0) return null;
    const id = m[0];
    const b = before.blocks.get(id);
    if (b === undefined || b.boot || b.state !== 'offline') return null;
    const v = strip(w.value);
    const wantsOnline = m[1] === 'state' ? ['online', 'online_kernel', 'online_movable'].includes(v) : ['1', 'y', 'Y', 'on'].includes(v);
    if (!wantsOnline) return null;
    // A memory notifier may veto (NOTIFY_BAD: EPERM): the kmem-persist fix's keeps its device's blocks out of ZONE_MOVABLE.
    if (before.profile.kmemPersistOnlineKernel && !step.outcome.ok && 'errno' in step.outcome && step.outcome.errno === 'EPERM') return null;
    return step.outcome.ok && step.after.blocks.get(id)?.state === 'online' ? null : `onlining hot-added memory${id} should have succeeded: ${step.outcome.ok ? 'still offline' : failureKey(step.outcome)}`;
  },
};

export const MUST_SUCCEED: readonly MustSucceed[] = [kmemBind, devdaxBind, unbindBound, onlineHotAdded];

const NONE: readonly Violation[] = Object.freeze([]);

export function checkMustSucceed(step: Step): readonly Violation[] {
  const before = step.before;
  if (before === null) return NONE;
  // Only driver and block-state writes have a must-succeed rule.
  const w = writeOf(step);
  if (w === null || (w.drv === null && w.block === null)) return NONE;
  const out: Violation[] = [];
  for (const p of MUST_SUCCEED) {
    const msg = p.check(step, before, w);
    if (msg !== null) out.push({ seq: step.seq, index: step.index, invariant: p.name, message: msg });
  }
  return out;
}
