/**
 * Invariants of device-private pages and the entries that map them
 * (KERNEL-FACTS-HMM §5.1 items 1-4 and 10; src/kernel/hmm/devicePages.ts,
 * src/kernel/mm/migrateDevice.ts). Incremental like the anon invariants:
 * the entries of the vmas a step changed, by the keys that differ, and the
 * device pages whose record changed; everything at boot or under `paranoid`.
 */
import { PAGE_SHIFT, type Pte, type Vma } from '../../src/kernel/mm/types.js';
import type { DevicePage, DmirrorDevice, FreeStack, HmmState } from '../../src/kernel/hmm/types.js';
import { NO_PAIRS, pairsOf } from './anonPairs.js';
import type { Invariant, InvariantContext } from './types.js';
import { WideIntMap } from '../../src/util/wideIntMap.js';
import type { KernelState } from '../../src/kernel/state.js';
import { testHmmBuilt } from './testHmmBuilt.js';

function hexPfn(pfn: number): string {
  return `0x${pfn.toString(16)}`;
}

/** Device-private entries of `v` (all, or the keys that differ from `old`) counted per device pfn into `into` with `sign`. */
function countDeviceEntries(v: Vma, old: Vma | undefined, sign: number, into: Map<number, number>): void {
  // Exec's vmas (a fork's child, an exit) hold no entry: no walk and no closure.
  if (v.ptes.size === 0 && (old === undefined || old.ptes.size === 0)) return;
  const add = (pte: Pte | undefined, s: number): void => {
    if (pte?.anon?.kind !== 'device') return;
    const pfn = Number(pte.phys >> PAGE_SHIFT);
    into.set(pfn, (into.get(pfn) ?? 0) + s);
  };
  if (old === undefined) {
    v.ptes.forEach((_k, pte) => add(pte, sign));
    return;
  }
  for (const k of v.ptes.changedKeys(old.ptes)) {
    add(v.ptes.get(k), sign);
    add(old.ptes.get(k), -sign);
  }
}

function unchanged(ctx: InvariantContext): boolean {
  const { before, after, full } = ctx;
  return !full && before !== null && before.mm.procs === after.mm.procs && before.hmm === after.hmm;
}

/**
 * The number of device-private entries per device pfn in a state, kept per
 * state (keyed by its process table) and carried from the step before by
 * the entries the step changed: exact counts at incremental cost, so a
 * corrupted count reads the same here as under `paranoid`, which recounts.
 */
const COUNTS = new WeakMap<object, WideIntMap<number>>();
/** The last process table counted, beside the WeakMap: a replay asks for the step before's, and no count means no WeakMap entry per step. */
let last: { readonly procs: object; readonly counts: WideIntMap<number> } | null = null;

function countsAt(procs: object): WideIntMap<number> | undefined {
  return last !== null && last.procs === procs ? last.counts : COUNTS.get(procs);
}

function keepCounts(procs: object, counts: WideIntMap<number>): void {
  last = { procs, counts };
  // Empty counts (no device-private entry anywhere) stay out of the WeakMap: a branch back to such a state recounts.
  if (counts.size > 0) COUNTS.set(procs, counts);
}

function countAll(s: KernelState): WideIntMap<number> {
  const into = new Map<number, number>();
  for (const p of s.mm.procs.values()) for (const v of p.vmas) if (v.file === null) countDeviceEntries(v, undefined, 1, into);
  let m = WideIntMap.empty<number>();
  for (const [pfn, n] of into) if (n !== 0) m = m.set(pfn, n);
  return m;
}

/** The after-state's counts and the pfns whose count the step changed (null: all, a full count). */
function countsOf(ctx: InvariantContext): { readonly counts: WideIntMap<number>; readonly changed: readonly number[] | null } {
  const { before, after, full } = ctx;
  const have = countsAt(after.mm.procs);
  const prev = before === null ? undefined : countsAt(before.mm.procs);
  if (full || before === null || prev === undefined) {
    // Under `paranoid` a recount, never the carried counts.
    const counts = !full && have !== undefined ? have : countAll(after);
    keepCounts(after.mm.procs, counts);
    return { counts, changed: null };
  }
  const delta = new Map<number, number>();
  if (before.mm.procs !== after.mm.procs) {
    const pairs = pairsOf(ctx);
    for (const [, v, old] of pairs.added) countDeviceEntries(v, old, 1, delta);
    for (const [, v] of pairs.removed) countDeviceEntries(v, undefined, -1, delta);
  }
  let counts = prev;
  for (const [pfn, d] of delta) {
    if (d === 0) continue;
    const n = (counts.get(pfn) ?? 0) + d;
    counts = n === 0 ? counts.delete(pfn) : counts.set(pfn, n);
  }
  keepCounts(after.mm.procs, counts);
  return { counts, changed: [...delta.keys()] };
}

/**
 * hmm-device-mapcount. migrate_vma_insert_page and remove_migration_pte
 * give a device page its entries, copy_nonpresent_pte one per child
 * (get_page + page_try_dup_anon_rmap), zap_pte_range's page_remove_rmap +
 * put_page and a migration back take them away, and the last put frees the
 * page (page_free → dmirror_devmem_free): an allocated device page is
 * mapped by as many device-private entries as it counts, at least one, and
 * every device-private entry maps an allocated page.
 */
export const hmmDeviceMapcount: Invariant = {
  name: 'hmm-device-mapcount',
  appliesTo: testHmmBuilt,
  inputs: ['mm', 'hmm'],
  summary: 'every allocated device page is mapped by exactly as many device-private entries as it counts (at least one); every device-private entry maps an allocated device page',
  kernel: 'mm/migrate_device.c migrate_vma_insert_page, migrate_device_finalize; mm/migrate.c remove_migration_pte; mm/memory.c copy_nonpresent_pte, zap_pte_range; lib/test_hmm.c dmirror_devmem_free',
  check: (ctx) => {
    // No device page and no anonymous vma changed (device-dax faults, file mmaps): no count moved either.
    const still = unchanged(ctx) || (!ctx.full && ctx.before !== null && ctx.before.hmm.pages === ctx.after.hmm.pages && pairsOf(ctx) === NO_PAIRS);
    const carried = still && ctx.before !== null ? countsAt(ctx.before.mm.procs) : undefined;
    if (carried !== undefined) {
      keepCounts(ctx.after.mm.procs, carried);
      return [];
    }
    const { before, after } = ctx;
    const { counts, changed } = countsOf(ctx);
    const pfns = new Set<number>();
    if (changed === null) {
      for (const [pfn] of counts.entries()) pfns.add(pfn);
      for (const [pfn] of after.hmm.pages.entries()) pfns.add(pfn);
    } else {
      for (const pfn of changed) pfns.add(pfn);
      if (before !== null) for (const pfn of before.hmm.pages.changedKeys(after.hmm.pages)) pfns.add(pfn);
    }
    const out: string[] = [];
    for (const pfn of pfns) {
      const page = after.hmm.pages.get(pfn);
      const mapped = counts.get(pfn) ?? 0;
      if (page === undefined) {
        if (mapped > 0) out.push(`${mapped} device-private entries map pfn ${hexPfn(pfn)}, which is no allocated device page (freed under its mappings)`);
        continue;
      }
      if (page.maps !== mapped) out.push(`device page ${hexPfn(pfn)} counts ${page.maps} mappings, page tables hold ${mapped}`);
      if (page.maps < 1) out.push(`device page ${hexPfn(pfn)} is allocated with no mapping (leaked: the last put_page did not free it)`);
    }
    return out;
  },
  culprit: ({ step }) => (step.event.type === 'fork' ? 'copy_nonpresent_pte' : 'zap_pte_range'),
};

/**
 * hmm-device-entry. A device-private entry is made only in an anonymous
 * private vma (migrate_vma_insert_page: vma_is_anonymous; collect skips
 * everything else), points at a page of a chunk of the device that owns it,
 * and is SWP_DEVICE_WRITE only in a VM_WRITE vma on a page mapped once:
 * fork (copy_nonpresent_pte) and mprotect (change_pte_range) make it
 * SWP_DEVICE_READ, and nothing but a migration back makes it writable again.
 */
export const hmmDeviceEntry: Invariant = {
  name: 'hmm-device-entry',
  appliesTo: testHmmBuilt,
  inputs: ['mm', 'hmm'],
  mmParts: ['anonVmas'],
  summary: "a device-private entry lies in an anonymous private vma, maps a page inside a chunk of that page's device, and is writable only in a VM_WRITE vma on an exclusive page mapped once",
  kernel: 'mm/memory.c copy_nonpresent_pte (SWP_DEVICE_READ for a COW mapping); mm/mprotect.c change_pte_range; mm/migrate_device.c migrate_vma_insert_page',
  check: (ctx) => {
    if (unchanged(ctx)) return [];
    const { after, full, before } = ctx;
    // No anonymous vma and no device page changed (device-dax faults): no device-private entry can have.
    if (!full && before !== null && before.hmm.pages === after.hmm.pages && pairsOf(ctx).added.length === 0) return [];
    const out: string[] = [];
    const judge = (pid: string, v: Vma, k: number, pte: Pte | undefined): void => {
      const a = pte?.anon;
      if (pte === undefined || a?.kind !== 'device') return;
      const where = `${pid} 0x${(v.start + (BigInt(k) << PAGE_SHIFT)).toString(16)}`;
      const pfn = Number(pte.phys >> PAGE_SHIFT);
      if (v.file !== null || v.flags.mayshare) out.push(`${where}: a device-private entry in a ${v.file !== null ? 'file' : 'shared'} vma`);
      const page = after.hmm.pages.get(pfn);
      if (page === undefined) return; // hmm-device-mapcount reports it
      if (!inChunkOf(after.hmm, page, pfn)) out.push(`${where}: device page ${hexPfn(pfn)} lies in no chunk of hmm_dmirror${page.device}`);
      if (a.write && (v.prot !== 'rw' || !a.exclusive || page.maps !== 1)) out.push(`${where}: writable device-private entry ${v.prot !== 'rw' ? `in a ${v.prot} vma` : `on a page mapped ${page.maps} times`}`);
    };
    if (full || before === null) {
      for (const [pid, p] of after.mm.procs) for (const v of p.vmas) for (const [k, pte] of v.ptes.entries()) judge(pid, v, k, pte);
      return out;
    }
    for (const [pid, v, old] of pairsOf(ctx).added) {
      // No entry to judge (exec's vmas in a fork's child; a vma emptied): judge looks only at entries there.
      if (v.ptes.size === 0) continue;
      if (old === undefined) for (const [k, pte] of v.ptes.entries()) judge(pid, v, k, pte);
      else if (old.prot !== v.prot || old.flags !== v.flags) for (const [k, pte] of v.ptes.entries()) judge(pid, v, k, pte);
      else for (const k of v.ptes.changedKeys(old.ptes)) judge(pid, v, k, v.ptes.get(k));
    }
    // A page now mapped more than once (a fork's child) makes an unchanged writable entry elsewhere wrong: look
    // for the entries of such pages in every process (rare steps: a fork or a shared page migrating).
    const shared = new Set(before.hmm.pages.changedKeys(after.hmm.pages).filter((pfn) => (after.hmm.pages.get(pfn)?.maps ?? 0) > 1));
    if (shared.size > 0) {
      for (const [pid, p] of after.mm.procs) {
        for (const v of p.vmas) {
          if (v.file !== null) continue;
          for (const [k, pte] of v.ptes.entries()) if (pte.anon?.kind === 'device' && pte.anon.write && shared.has(Number(pte.phys >> PAGE_SHIFT))) judge(pid, v, k, pte);
        }
      }
    }
    return [...new Set(out)];
  },
  culprit: ({ step }) => (step.event.type === 'fork' ? 'copy_nonpresent_pte' : step.event.type === 'mprotect' ? 'change_pte_range' : 'migrate_vma_insert_page'),
};

function inChunkOf(h: HmmState, page: DevicePage, pfn: number): boolean {
  const dev = h.devices[page.device];
  const phys = BigInt(pfn) << PAGE_SHIFT;
  return dev !== undefined && dev.chunks.some((c) => c.start <= phys && phys <= c.end);
}

/** A node of a device's free stack. */
type FreeNode = NonNullable<FreeStack>;

/**
 * What hmm-device-free knows of a free stack it last found clean (no page
 * twice, none allocated, all in the device's chunks): each page's position
 * counted from the bottom (stable under pushes and pops above it, and the
 * stack's order, so messages come out top-down as a walk gives them), the
 * allocated pages and the chunks it was judged against. Keyed by the top
 * node: stack nodes are immutable and shared, so the next stack of the same
 * device is new nodes pushed on a tail of this one, and only those, the
 * popped ones and the pages allocated since need looking at, not the whole
 * stack (10^5 pages after a large migration back).
 */
interface StackIndex {
  readonly depth: Map<number, number>;
  readonly size: number;
  readonly pages: HmmState['pages'];
  readonly chunks: DmirrorDevice['chunks'];
}

/**
 * One index per stack top, handed on from a step's before-stack to its
 * after-stack (the old entry is dropped, since the map is reused): a second
 * step from the same state (a search's sibling, a re-check) finds none and
 * walks the whole stack, as does a stack found broken, so a violation is
 * reported again at every later change of the device, as a full walk does.
 */
const stackIndexes = new WeakMap<FreeNode, StackIndex>();

/** The nodes popped from `was` and pushed to make `now` (each top-down): both walked in turn until one meets a node of the other, their common tail. */
function stackDiff(was: FreeStack, now: FreeStack): { readonly popped: readonly FreeNode[]; readonly pushed: readonly FreeNode[] } {
  if (was === now) return { popped: [], pushed: [] };
  const popped: FreeNode[] = [];
  const pushed: FreeNode[] = [];
  const inWas = new Set<FreeNode>();
  const inNow = new Set<FreeNode>();
  let a = was;
  let b = now;
  for (;;) {
    if (a !== null) {
      // A node of `was` the walk of `now` passed: the common tail starts here, and `now`'s walk may have overshot it.
      if (inNow.has(a)) return { popped, pushed: pushed.slice(0, pushed.indexOf(a)) };
      inWas.add(a);
      popped.push(a);
      a = a.next;
    }
    if (b !== null) {
      if (inWas.has(b)) return { popped: popped.slice(0, popped.indexOf(b)), pushed };
      inNow.add(b);
      pushed.push(b);
      b = b.next;
    }
    if (a === null && b === null) return { popped, pushed };
  }
}

function inChunks(chunks: DmirrorDevice['chunks'], pfn: number): boolean {
  const phys = BigInt(pfn) << PAGE_SHIFT;
  return chunks.some((c) => c.start <= phys && phys <= c.end);
}

/** The whole free stack of device `i`, top-down; indexed when clean. */
function judgeStack(i: number, dev: DmirrorDevice, h: HmmState, out: string[]): void {
  const n = out.length;
  const seen = new Set<number>();
  const pfns: number[] = [];
  for (let s: FreeStack = dev.free; s !== null; s = s.next) {
    if (seen.has(s.pfn)) out.push(`hmm_dmirror${i}: device page ${hexPfn(s.pfn)} is on the free stack twice`);
    seen.add(s.pfn);
    pfns.push(s.pfn);
    if (h.pages.get(s.pfn) !== undefined) out.push(`hmm_dmirror${i}: device page ${hexPfn(s.pfn)} is free and allocated`);
    if (!inChunks(dev.chunks, s.pfn)) out.push(`hmm_dmirror${i}: free page ${hexPfn(s.pfn)} lies in none of its chunks`);
  }
  if (dev.free === null || out.length > n) return;
  const depth = new Map<number, number>();
  pfns.forEach((pfn, k) => depth.set(pfn, pfns.length - 1 - k));
  stackIndexes.set(dev.free, { depth, size: pfns.length, pages: h.pages, chunks: dev.chunks });
}

/**
 * The free stack of device `i` from the index of the stack it had before
 * (clean, with the same chunks): the messages a whole walk would give, in
 * its order — the pushed nodes first, then the nodes of the old tail that
 * now hold a pushed page again or a page allocated since the index.
 */
function judgeStackDelta(i: number, was: DmirrorDevice, dev: DmirrorDevice, idx: StackIndex, h: HmmState, out: string[]): void {
  const n = out.length;
  const { popped, pushed } = stackDiff(was.free, dev.free);
  const depth = idx.depth;
  for (const node of popped) depth.delete(node.pfn);
  const size = idx.size - popped.length;
  const seen = new Set<number>();
  for (const node of pushed) {
    if (seen.has(node.pfn)) out.push(`hmm_dmirror${i}: device page ${hexPfn(node.pfn)} is on the free stack twice`);
    seen.add(node.pfn);
    if (h.pages.get(node.pfn) !== undefined) out.push(`hmm_dmirror${i}: device page ${hexPfn(node.pfn)} is free and allocated`);
    if (!inChunks(dev.chunks, node.pfn)) out.push(`hmm_dmirror${i}: free page ${hexPfn(node.pfn)} lies in none of its chunks`);
  }
  // The old tail was clean: only a page pushed again above it or allocated since can be wrong there (its chunks are the same).
  const flagged = new Set<number>();
  for (const pfn of seen) if (depth.has(pfn)) flagged.add(pfn);
  for (const pfn of idx.pages.changedKeys(h.pages)) if (depth.has(pfn) && h.pages.get(pfn) !== undefined) flagged.add(pfn);
  const tail = [...flagged].sort((x, y) => (depth.get(y) as number) - (depth.get(x) as number));
  for (const pfn of tail) {
    if (seen.has(pfn)) out.push(`hmm_dmirror${i}: device page ${hexPfn(pfn)} is on the free stack twice`);
    if (h.pages.get(pfn) !== undefined) out.push(`hmm_dmirror${i}: device page ${hexPfn(pfn)} is free and allocated`);
  }
  if (dev.free === null || out.length > n) return;
  pushed.forEach((node, k) => depth.set(node.pfn, size + pushed.length - 1 - k));
  stackIndexes.set(dev.free, { depth, size: size + pushed.length, pages: h.pages, chunks: dev.chunks });
}

/** The index of the stack `dev` had, if it was found clean against the same chunks: an empty stack needs none. */
function indexOf(was: DmirrorDevice, dev: DmirrorDevice, h: HmmState): StackIndex | undefined {
  if (was.chunks !== dev.chunks) return undefined;
  if (was.free === null) return { depth: new Map(), size: 0, pages: h.pages, chunks: was.chunks };
  const idx = stackIndexes.get(was.free);
  // Handed on: the map is about to change into the next stack's.
  stackIndexes.delete(was.free);
  return idx?.chunks === dev.chunks ? idx : undefined;
}

/**
 * hmm-device-free. dmirror_devmem_alloc_page takes a page off the device's
 * free stack (or a new chunk's), dmirror_devmem_free pushes it back: a page
 * is free or allocated, never both, never on the stack twice; the stack
 * holds pages of the device's own chunks; each allocated page has its own
 * backing system page, which is no anonymous folio. Incremental: a device
 * whose record changed has its stack judged by the nodes pushed and popped
 * (stackDiff) against the index of the stack before; the whole stack at
 * boot, under `paranoid`, when the chunks changed or no index is at hand.
 */
export const hmmDeviceFree: Invariant = {
  name: 'hmm-device-free',
  appliesTo: testHmmBuilt,
  inputs: ['hmm', 'mm'],
  mmParts: ['anon'],
  summary: "a device page is free or allocated, never both and never free twice; free pages belong to the device's chunks; each allocated page has a backing page of its own that is no anonymous folio",
  kernel: 'lib/test_hmm.c dmirror_devmem_alloc_page, dmirror_devmem_free, dmirror_allocate_chunk, dmirror_remove_free_pages',
  check: ({ before, after, full }) => {
    const h = after.hmm;
    if (!full && before !== null && before.hmm === h) return [];
    const out: string[] = [];
    h.devices.forEach((dev, i) => {
      const was = full || before === null ? undefined : before.hmm.devices[i];
      if (was === dev) return;
      const idx = was === undefined ? undefined : indexOf(was, dev, h);
      if (was === undefined || idx === undefined) judgeStack(i, dev, h, out);
      else judgeStackDelta(i, was, dev, idx, h, out);
      if (dev.fresh !== null) for (const [pfn] of h.pages.range(dev.fresh.lo, dev.fresh.next)) out.push(`hmm_dmirror${i}: device page ${hexPfn(pfn)} was never handed out and is allocated`);
    });
    const pfns = full || before === null ? [...h.pages.entries()].map(([p]) => p) : before.hmm.pages.changedKeys(h.pages);
    const backing = full || before === null ? new Map<number, number>() : null;
    for (const pfn of pfns) {
      const page = h.pages.get(pfn);
      if (page === undefined) continue;
      if (!inChunkOf(h, page, pfn)) out.push(`device page ${hexPfn(pfn)} lies in no chunk of hmm_dmirror${page.device}`);
      if (after.mm.anon.folios.get(page.rpage) !== undefined) out.push(`device page ${hexPfn(pfn)}'s backing page ${hexPfn(page.rpage)} is also an anonymous folio`);
      if (backing !== null) {
        const other = backing.get(page.rpage);
        if (other !== undefined) out.push(`device pages ${hexPfn(other)} and ${hexPfn(pfn)} share the backing page ${hexPfn(page.rpage)}`);
        backing.set(page.rpage, pfn);
      }
    }
    return out;
  },
  culprit: () => 'dmirror_devmem_free',
};

export const HMM_DEVICE_INVARIANTS: readonly Invariant[] = [hmmDeviceMapcount, hmmDeviceEntry, hmmDeviceFree];
