/**
 * Invariants of private anonymous memory (src/kernel/mm/anon.ts,
 * pageAlloc.ts): folio reference counts against the entries that map them,
 * write permission only on an exclusive page, allocated frames inside the
 * pool and never handed out twice, RSS against the mapped pages, and the
 * allocator's page count. Incremental: only the processes, vmas (a vma is a
 * new object when its entries change) and folios the step changed are
 * looked at (anonPairs.ts); everything at boot, after a reboot or under `paranoid`.
 */
import { inAnonPool, HPAGE_PMD_NR } from '../../src/kernel/mm/pageAlloc.js';
import { rssPages } from '../../src/kernel/mm/anonFolio.js';
import { PAGE_SHIFT, type AnonState, type Folio, type Pte, type Vma } from '../../src/kernel/mm/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { Invariant } from './types.js';
import { diffOf, pairsOf } from './anonPairs.js';

/** The head frame of the folio mapping frame `pfn` in `a`, or null. */
function headOf(a: AnonState, pfn: number): number | null {
  if (a.folios.get(pfn) !== undefined) return pfn;
  const head = pfn - (pfn % HPAGE_PMD_NR);
  return a.folios.get(head)?.order === 9 ? head : null;
}

/** The keys of `v` to judge: those that differ from `old`, or all of them. */
function keysOf(v: Vma, old: Vma | undefined): Iterable<number> {
  if (old === undefined) return [...v.ptes.entries()].map(([k]) => k);
  return v.ptes.changedKeys(old.ptes);
}

/**
 * Per folio head: the present entries mapping it (`maps`) and the
 * device-exclusive entries holding it (`devExclusive`), as a step changed them.
 */
interface Counts {
  readonly maps: Map<number, number>;
  readonly devExclusive: Map<number, number>;
}

/** Anon page entries of `v` counted per folio head into `into` (sign +1 or -1); entries with no folio are reported. */
function countMaps(a: AnonState, v: Vma, sign: number, into: Counts, orphans: string[] | null, pid: string): void {
  // Most vmas a fork or an exit brings are exec's, with no entry: no walk.
  if (v.ptes.size === 0) return;
  v.ptes.forEach((k, pte) => countEntry(a, v, k, pte, sign, into, orphans, pid));
}

/** One entry of `v` (key `k`; undefined: none) counted as countMaps does. */
function countEntry(a: AnonState, v: Vma, k: number, pte: Pte | undefined, sign: number, into: Counts, orphans: string[] | null, pid: string): void {
  const kind = pte?.anon?.kind;
  if (pte === undefined || (kind !== 'page' && kind !== 'exclusive')) return;
  const head = headOf(a, Number(pte.phys >> PAGE_SHIFT));
  if (head === null) {
    orphans?.push(`${pid} ${kind === 'page' ? 'maps' : 'holds a device-exclusive entry of'} anonymous frame 0x${pte.phys.toString(16)} at 0x${(v.start + (BigInt(k) << PAGE_SHIFT)).toString(16)}, which is no allocated folio`);
    return;
  }
  const m = kind === 'page' ? into.maps : into.devExclusive;
  m.set(head, (m.get(head) ?? 0) + sign);
}

/**
 * anon-mapcount. page_add_new_anon_rmap gives a new folio its first mapping,
 * copy_present_pte / copy_huge_pmd (page_try_dup_anon_rmap) one per child
 * entry, __split_huge_pmd page_ref_add(HPAGE_PMD_NR - 1), and zap_pte_range /
 * wp_page_copy's page_remove_rmap + put_page take one away, freeing the folio
 * with the last: a folio's count equals the entries mapping it, every anon
 * entry maps an allocated folio, and a folio mapped by nothing is freed.
 * A device-exclusive entry (page_make_device_exclusive_one) holds a
 * reference without a mapping: a folio's devExclusive count equals those
 * entries, and a folio is freed when neither count is left (zap_pte_range's
 * put_page of the last one).
 */
export const anonMapcount: Invariant = {
  name: 'anon-mapcount',
  inputs: ['mm'],
  mmParts: ['anonVmas', 'anon'],
  summary: 'every anonymous folio is mapped by exactly as many page-table entries as its count says, held by as many device-exclusive entries as its devExclusive says (and by at least one of the two); every anon entry maps an allocated folio',
  kernel: 'mm/rmap.c page_add_new_anon_rmap / page_try_dup_anon_rmap / page_remove_rmap; mm/memory.c copy_present_pte, zap_pte_range, wp_page_copy; mm/huge_memory.c __split_huge_pmd',
  check: (ctx) => {
    const d = diffOf(ctx);
    const { before, after } = ctx;
    const a = after.mm.anon;
    // split_huge_page (a migration collecting a THP) turns one folio into 512 under entries of other processes that
    // did not change: their count moves from the head to each subpage, which the per-entry delta cannot see. Such a
    // step recounts everything (rare: the splits of migrate_vma_collect_pmd).
    const split = ctx.before !== null && !ctx.full && ctx.before.mm.anon.folios !== a.folios && ctx.before.mm.anon.folios.changedKeys(a.folios).some((h) => ctx.before?.mm.anon.folios.get(h)?.order === 9 && !a.folios.range(h, h + HPAGE_PMD_NR - 1).next().done && a.folios.get(h)?.order !== 9);
    const whole = ctx.full || before === null || split;
    // No anonymous vma and no folio changed (a device-dax fault, an mmap of a file): no count moved.
    if (!whole && d.added.length === 0 && d.removed.length === 0 && before.mm.anon.folios === a.folios) return [];
    const out: string[] = [];
    const delta: Counts = { maps: new Map(), devExclusive: new Map() };
    // A vma replaced by one at the same start (its entries changed) counts only the keys that differ: a step's
    // cost follows what it changed, not how many pages the vma holds.
    const pairs = pairsOf(ctx);
    if (split) for (const [pid, p] of after.mm.procs) for (const v of p.vmas) if (v.file === null) countMaps(a, v, 1, delta, out, pid);
    for (const [pid, v, old] of split ? [] : pairs.added) {
      if (old === undefined || before === null) {
        countMaps(a, v, 1, delta, out, pid);
        continue;
      }
      for (const k of v.ptes.changedKeys(old.ptes)) {
        countEntry(a, v, k, v.ptes.get(k), 1, delta, out, pid);
        countEntry(before.mm.anon, old, k, old.ptes.get(k), -1, delta, null, pid);
      }
    }
    if (!whole) for (const [pid, v] of pairs.removed) countMaps(before.mm.anon, v, -1, delta, null, pid);
    const was = (head: number): Folio | undefined => (whole ? undefined : before.mm.anon.folios.get(head));
    const heads = new Set([...delta.maps.keys(), ...delta.devExclusive.keys()]);
    if (whole) for (const [head] of a.folios.entries()) heads.add(head);
    else for (const head of before.mm.anon.folios.changedKeys(a.folios)) heads.add(head);
    for (const head of heads) {
      const f = a.folios.get(head);
      const expected = (was(head)?.maps ?? 0) + (delta.maps.get(head) ?? 0);
      const actual = f?.maps ?? 0;
      if (expected !== actual) out.push(`anonymous folio at pfn 0x${head.toString(16)} counts ${actual} mappings, page tables hold ${expected}`);
      const expectedX = (was(head)?.devExclusive ?? 0) + (delta.devExclusive.get(head) ?? 0);
      const actualX = f?.devExclusive ?? 0;
      if (expectedX !== actualX) out.push(`anonymous folio at pfn 0x${head.toString(16)} counts ${actualX} device-exclusive references, page tables hold ${expectedX} device-exclusive entries`);
      if (f !== undefined && f.maps + actualX < 1) out.push(`anonymous folio at pfn 0x${head.toString(16)} is allocated with no mapping (leaked: the last put_page did not free it)`);
    }
    return out;
  },
  culprit: () => 'page_remove_rmap',
};

/**
 * anon-exclusive-write. A private vma's entries get write permission only
 * where the page is the mapping's own: do_anonymous_page's new page,
 * wp_page_copy's copy and do_wp_page's reuse make it PageAnonExclusive, and
 * fork's page_try_dup_anon_rmap clears the bit while write-protecting both
 * sides (copy_present_pte). So a writable entry needs VM_WRITE and an
 * exclusive page, and an exclusive frame is mapped once (never by two
 * processes, never writable in one while mapped in another).
 */
export const anonExclusiveWrite: Invariant = {
  name: 'anon-exclusive-write',
  inputs: ['mm'],
  mmParts: ['anonVmas', 'anon'],
  summary: 'a writable anonymous entry maps an exclusive page in a VM_WRITE vma; an exclusive frame is mapped by one entry only',
  kernel: 'mm/memory.c copy_present_pte (ptep_set_wrprotect, page_try_dup_anon_rmap), do_wp_page / wp_page_reuse, do_anonymous_page; mm/mprotect.c change_pte_range',
  check: (ctx) => {
    const d = diffOf(ctx);
    const { before, after } = ctx;
    // Folios now mapped more than once: an exclusive entry that did not change may be wrong now (a fork's child
    // mapping its page): their entries are looked up in every process (rare steps: fork, a shared page migrating).
    const shared = before === null || ctx.full || before.mm.anon.folios === after.mm.anon.folios ? [] : before.mm.anon.folios.changedKeys(after.mm.anon.folios).filter((h) => (after.mm.anon.folios.get(h)?.maps ?? 0) > 1);
    if (d.added.length === 0 && shared.length === 0) return [];
    const out: string[] = [];
    const a = ctx.after.mm.anon;
    const exclusive = new Map<number, readonly [string, Vma, number]>();
    // A vma with no entry (exec's, in a fork's child) has nothing to judge.
    const judged: Array<readonly [string, Vma, Iterable<number>]> = [];
    for (const [pid, v, old] of pairsOf(ctx).added) if (v.ptes.size > 0) judged.push([pid, v, keysOf(v, old)]);
    if (shared.length > 0) {
      const heads = new Set(shared);
      for (const [pid, p] of after.mm.procs) {
        for (const v of p.vmas) {
          if (v.file !== null || v.ptes.size === 0) continue;
          const keys: number[] = [];
          v.ptes.forEach((k, pte) => {
            if (pte.anon?.kind === 'page' && pte.anon.exclusive && heads.has(headOf(a, Number(pte.phys >> PAGE_SHIFT)) ?? -1)) keys.push(k);
          });
          judged.push([pid, v, keys]);
        }
      }
    }
    // Judged once per (process, vma, key); addresses are worded only for a violation (a THP split judges 512).
    const seen = new Map<string, Map<Vma, Set<number>>>();
    const whereOf = (pid: string, v: Vma, k: number): string => `${pid} 0x${(v.start + (BigInt(k) << PAGE_SHIFT)).toString(16)}`;
    for (const [pid, v, keys] of judged) {
      let byVma = seen.get(pid);
      if (byVma === undefined) seen.set(pid, (byVma = new Map()));
      let done = byVma.get(v);
      if (done === undefined) byVma.set(v, (done = new Set()));
      for (const k of keys) {
        if (done.has(k)) continue;
        done.add(k);
        const pte = v.ptes.get(k);
        const e = pte?.anon;
        if (pte === undefined) continue;
        // Device-private and device-exclusive entries have their own rules (hmm-device-entry, hmm-exclusive-entry).
        if (e === undefined || e.kind === 'device' || e.kind === 'exclusive') continue;
        if (e.write && (e.kind !== 'page' || !e.exclusive || v.prot !== 'rw')) out.push(`${whereOf(pid, v, k)}: writable ${e.kind === 'zero' ? 'zero-page' : e.exclusive ? '' : 'shared '}entry in a ${v.prot} vma`);
        if (e.kind !== 'page' || !e.exclusive) continue;
        const pfn = Number(pte.phys >> PAGE_SHIFT);
        const other = exclusive.get(pfn);
        if (other !== undefined) out.push(`frame 0x${pfn.toString(16)} is exclusive to ${whereOf(...other)} and mapped again at ${whereOf(pid, v, k)}`);
        exclusive.set(pfn, [pid, v, k]);
        // An order-0 exclusive page's folio has this one mapping; a THP's subpages each carry their own bit.
        const f = a.folios.get(pfn);
        if (f !== undefined && f.order === 0 && f.maps !== 1) out.push(`${whereOf(pid, v, k)}: exclusive page mapped ${f.maps} times`);
        if (pte.level === 'pmd' && f !== undefined && f.maps !== 1) out.push(`${whereOf(pid, v, k)}: exclusive THP mapped ${f.maps} times`);
      }
    }
    return out;
  },
  culprit: () => 'copy_present_pte',
};

/**
 * anon-frames. The page allocator hands a frame to one owner at a time
 * (__rmqueue takes it off the free list): a folio lies inside the memory
 * anonymous pages come from (online RAM of the local node), overlaps no
 * other folio or the huge zero page, and is not on a free list; offlining
 * leaves no folio in the block (offline_pages migrates or fails); the
 * allocator's page count is the folios' size plus the huge zero page.
 */
export const anonFrames: Invariant = {
  name: 'anon-frames',
  inputs: ['mm', 'blocks', 'hmm'],
  mmParts: ['anon'],
  summary: 'allocated anonymous frames lie in online RAM, are allocated once (no overlap, not free), and the allocator counts exactly them (with the backing pages of test_hmm device pages)',
  kernel: 'mm/page_alloc.c __rmqueue / __free_pages; mm/memory_hotplug.c offline_pages (do_migrate_range)',
  check: (ctx) => {
    const { before, after, full } = ctx;
    const a = after.mm.anon;
    const whole = full || before === null;
    const out: string[] = [];
    if (!whole && before.mm.anon === a && before.hmm.pages === after.hmm.pages && (before.blocks === after.blocks || a.folios.size === 0)) return [];
    const heads = whole ? [...a.folios.entries()].map(([h]) => h) : before.mm.anon.folios.changedKeys(a.folios).filter((h) => a.folios.get(h) !== undefined);
    for (const head of heads) checkFolio(after, a, head, a.folios.get(head) as Folio, out);
    if (!whole) {
      // A block that went offline this step must hold no folio.
      for (const c of ctx.blockChanges) {
        if (c.after?.state === 'online' || c.before?.state !== 'online' || a.folios.size === 0) continue;
        const lo = c.id * after.blockPages;
        for (const [head] of a.folios.range(lo, lo + after.blockPages - 1)) out.push(`anonymous folio at pfn 0x${head.toString(16)} is in memory block ${c.id}, which went offline`);
      }
    }
    // __free_pages / alloc_pages count: 2^order per folio, plus the huge zero page, plus one backing page per
    // test_hmm device page (dmirror_devmem_alloc_page's alloc_page, freed by dmirror_devmem_free).
    const size = (f: Folio | undefined): number => (f === undefined ? 0 : 1 << f.order);
    let expected: number;
    if (whole) {
      expected = (a.hugeZero === null ? 0 : HPAGE_PMD_NR) + after.hmm.pages.size;
      for (const [, f] of a.folios.entries()) expected += size(f);
    } else {
      const b = before.mm.anon;
      expected = b.pages + (a.hugeZero !== null && b.hugeZero === null ? HPAGE_PMD_NR : 0) + after.hmm.pages.size - before.hmm.pages.size;
      for (const h of b.folios.changedKeys(a.folios)) expected += size(a.folios.get(h)) - size(b.folios.get(h));
    }
    if (expected !== a.pages) out.push(`the allocator counts ${a.pages} anonymous pages, its folios hold ${expected}`);
    return out;
  },
  culprit: () => 'alloc_pages',
};

function checkFolio(s: KernelState, a: AnonState, head: number, f: Folio, out: string[]): void {
  const nr = 1 << f.order;
  const name = `anonymous folio at pfn 0x${head.toString(16)}`;
  if (head % nr !== 0) out.push(`${name} (order ${f.order}) is not aligned to its size`);
  if (!inAnonPool(s, head) || !inAnonPool(s, head + nr - 1)) out.push(`${name} lies outside the online RAM anonymous pages come from`);
  if (a.free4k.get(head) !== undefined || a.free2m.get(head) !== undefined || a.free2m.get(head - (head % HPAGE_PMD_NR)) !== undefined) out.push(`${name} is also on a free list (double allocation)`);
  if (a.hugeZero !== null && head < a.hugeZero + HPAGE_PMD_NR && a.hugeZero < head + nr) out.push(`${name} overlaps the huge zero page`);
  if (f.order === 9) {
    for (const [k] of a.folios.range(head + 1, head + nr - 1)) out.push(`${name} (a THP) overlaps the folio at pfn 0x${k.toString(16)}`);
  } else {
    const big = head - (head % HPAGE_PMD_NR);
    if (big !== head && a.folios.get(big)?.order === 9) out.push(`${name} lies inside the THP at pfn 0x${big.toString(16)}`);
  }
}

/**
 * anon-rss. MM_ANONPAGES moves with every anon page mapped or unmapped
 * (inc_mm_counter in do_anonymous_page, __do_huge_pmd_anonymous_page
 * (HPAGE_PMD_NR), wp_page_copy from the zero page, copy_present_pte /
 * copy_huge_pmd for the child; dec in zap_pte_range / zap_huge_pmd):
 * a process's RSS equals the anon pages its entries map (zero pages none).
 */
export const anonRss: Invariant = {
  name: 'anon-rss',
  inputs: ['mm'],
  mmParts: ['anonVmas', 'rss'],
  summary: "a process's MM_ANONPAGES equals the 4 KiB anonymous pages its page tables map (a THP PMD 512, the zero pages none)",
  kernel: 'mm/memory.c do_anonymous_page / wp_page_copy / copy_present_pte / zap_pte_range (inc/dec_mm_counter MM_ANONPAGES); mm/huge_memory.c',
  check: (ctx) => {
    const d = diffOf(ctx);
    if (d.procs.length === 0) return [];
    const out: string[] = [];
    const anonChanged = d.added.length > 0 || d.removed.length > 0;
    for (const [pid, p, was] of d.procs) {
      if (p === undefined) continue;
      let expected: number;
      if (was === undefined) expected = sum(p.vmas);
      else if (!anonChanged) expected = was.rssAnon;
      else {
        // Paired vmas by the keys that differ; the rest whole.
        expected = was.rssAnon;
        const pairs = pairsOf(ctx);
        for (const [q, v, old] of pairs.added) {
          if (q !== pid) continue;
          if (old === undefined) expected += sum([v]);
          else for (const k of v.ptes.changedKeys(old.ptes)) expected += rssOf(v.ptes.get(k)) - rssOf(old.ptes.get(k));
        }
        for (const [q, v] of pairs.removed) if (q === pid) expected -= sum([v]);
      }
      if (expected !== p.rssAnon) out.push(`${pid}: MM_ANONPAGES is ${p.rssAnon}, its page tables map ${expected} anonymous pages`);
    }
    return out;
  },
  culprit: () => 'zap_pte_range',
};

/** The anon pages the entries of `vs` map (a module function: a closure per check would be wrapped by tsx's keepNames). */
function sum(vs: readonly Vma[]): number {
  let n = 0;
  for (const v of vs) if (v.file === null && v.ptes.size > 0) v.ptes.forEach((_k, pte) => (n += rssPages(pte)));
  return n;
}

function rssOf(pte: Pte | undefined): number {
  return pte === undefined ? 0 : rssPages(pte);
}

export const ANON_INVARIANTS: readonly Invariant[] = [anonMapcount, anonExclusiveWrite, anonFrames, anonRss];
