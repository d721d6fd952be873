/**
 * Mirrors type BLK of the 2022 kmem persistence RFC (patch 4/4,
 * drivers/dax/kmem_blk.c as posted; KERNEL-FACTS-PERSIST §1.5, seed
 * L889-1552): device page 0 is the superblock, pages 1..n the index (entry i
 * of logical block i is the u64 at index page 1 + i/512, slot i%512: a
 * device page index, 0 = unmapped), the rest the data pool. The disk
 * kmem<node> has one 4 KiB logical block per pool page. The index and the
 * data live in the device's memory words (SPEC §7), so they persist with
 * the device and a device_dax user writing there changes them, as on pmem.
 */
import { IntervalSet } from '../../util/intervalSet.js';
import { err, OK, type Ret } from '../errno.js';
import { physFillPage, physFillWords, physPageRuns, physRead, physWrite } from '../mm/physmem.js';
import { KernelOops } from '../oops.js';
import type { Op } from '../op.js';
import type { KernelState } from '../state.js';
import { stepKmemBlock, type KmemBlockEvent, type KmemBlockState } from '../../../machines/index.js';
import { kmemDiskOwner } from '../block/kmemDisk.js';
import { daxKmemAllocPage, daxKmemIndexToPhys, freeDevicePage, persistOf, readSuper, setPersist, writeSuperHeader } from './kmemPersist.js';
import { INDEX_ENTRIES_PER_PAGE, KMEM_PERSIST_BLK, KMEM_PERSIST_MAGIC, type KmemPersistInstance } from './kmemPersistTypes.js';

const U32 = 0xffff_ffffn;
const M64 = 0xffff_ffff_ffff_ffffn;
/** KMALLOC_MAX_SIZE on x86-64 (order-10 pages): a larger kzalloc fails. */
const KMALLOC_MAX = 4n << 20n;

/** The counts the RFC's kmem_blk_format computes for N pages: n = (N + 511) / 513 index pages, e = N - 1 - n blocks. */
export function kmemBlkGeometry(numPages: number): { readonly n: number; readonly e: number } {
  const n = Math.floor((numPages + INDEX_ENTRIES_PER_PAGE - 1) / (INDEX_ENTRIES_PER_PAGE + 1));
  return { n, e: Math.max(0, numPages - 1 - n) };
}

/** struct kmem_blk_super __packed: n (u64) at byte 12, e (u64) at byte 20, across the words at 8, 16 and 24. */
export function readBlkSuper(s: KernelState, p: KmemPersistInstance): { readonly n: bigint; readonly e: bigint } {
  const base = daxKmemIndexToPhys(p, 0);
  const w1 = physRead(s.mm, base + 8n);
  const w2 = physRead(s.mm, base + 16n);
  const w3 = physRead(s.mm, base + 24n);
  return { n: (w1 >> 32n) | ((w2 & U32) << 32n), e: (w2 >> 32n) | ((w3 & U32) << 32n) };
}

function writeBlkSuper(op: Op, p: KmemPersistInstance, n: number, e: number): void {
  writeSuperHeader(op, p, KMEM_PERSIST_BLK);
  const base = daxKmemIndexToPhys(p, 0);
  const N = BigInt(n);
  const E = BigInt(e);
  const w1 = physRead(op.state.mm, base + 8n);
  const w3 = physRead(op.state.mm, base + 24n);
  physWrite(op, base + 8n, (w1 & U32) | ((N & U32) << 32n));
  physWrite(op, base + 16n, ((N >> 32n) & U32) | ((E & U32) << 32n));
  physWrite(op, base + 24n, (w3 & (M64 ^ U32)) | ((E >> 32n) & U32));
}

/** The physical address of index entry i (logical block i). */
export function indexEntryPhys(p: KmemPersistInstance, i: number): bigint {
  return daxKmemIndexToPhys(p, 1 + Math.floor(i / INDEX_ENTRIES_PER_PAGE)) + BigInt(i % INDEX_ENTRIES_PER_PAGE) * 8n;
}

/** Index entry i as the media holds it (a device page index, 0 = unmapped). */
export function indexEntry(s: KernelState, p: KmemPersistInstance, i: number): bigint {
  return physRead(s.mm, indexEntryPhys(p, i));
}

/**
 * The non-zero entries of slots [0, slots) of index pages 1..n, ascending:
 * page by page through the compressed contents, so a 16 GiB disk's probe
 * reads its written entries, not 4 million zero words.
 */
export function* mappedEntries(s: KernelState, p: KmemPersistInstance, n: number, slots: number): IterableIterator<readonly [number, bigint]> {
  for (let k = 0; k < n; k++) {
    const pfn = Number(daxKmemIndexToPhys(p, 1 + k) >> 12n);
    let at = 0;
    for (const [v, count] of physPageRuns(s.mm, pfn)) {
      if (v !== 0n) {
        for (let j = at; j < at + count; j++) {
          const i = k * INDEX_ENTRIES_PER_PAGE + j;
          if (i < slots) yield [i, v];
        }
      }
      at += count;
    }
  }
}

/**
 * @kernel kmem_blk_format drivers/dax/kmem_blk.c (RFC 4/4, seed L1321-1369)
 * Writes magic, type 1, n and e, and zeroes index pages 1..n (the default
 * build: KMEM_PERSIST_BLK_FORMAT_FULL is never defined). Returns 0.
 */
export function kmemBlkFormat(op: Op, name: string): Ret {
  const p = persistOf(op.state, name);
  const { n, e } = kmemBlkGeometry(p.numPages);
  writeBlkSuper(op, p, n, e);
  for (let k = 1; k <= n; k++) physFillPage(op, Number(daxKmemIndexToPhys(p, k) >> 12n), 0n);
  return OK;
}

/**
 * @kernel kmem_blk_probe drivers/dax/kmem_blk.c (RFC 4/4, seed L1415-1482)
 * Checks the superblock against the device as it is now, then
 * kmem_blk_free_unused and kmem_blk_disk_init, whose results it ignores.
 */
export function kmemBlkProbe(op: Op, name: string): Ret {
  const p = persistOf(op.state, name);
  const N = p.numPages;
  if (N === 0) {
    op.branch('kmem_blk_probe', 'EPERM(no-pages)');
    return err('EPERM');
  }
  const sb = readSuper(op.state, p);
  if (sb.magic !== KMEM_PERSIST_MAGIC || sb.type !== 1n) {
    op.print(`kmem ${name}: KMEM not formatted for kmem_blk`);
    op.branch('kmem_blk_probe', 'EINVAL(magic)');
    return err('EINVAL');
  }
  const { n, e } = readBlkSuper(op.state, p);
  if (!(e <= n * 512n && 1n + n + e === BigInt(N))) {
    op.print(`kmem ${name}: Invalid kmem_blk superblock ${n} ${e} ${N}`);
    op.branch('kmem_blk_probe', 'EINVAL(counts)');
    return err('EINVAL');
  }
  // kzalloc(struct_size(data, index_page, n)) = 40 + 8n bytes.
  if (40n + 8n * n > KMALLOC_MAX) {
    op.branch('kmem_blk_probe', 'ENOMEM(kzalloc)');
    return err('ENOMEM');
  }
  setPersist(op, name, { blk: { n: Number(n), e: Number(e), disk: false } });
  kmemBlkFreeUnused(op, name);
  // kmem_blk_disk_init: blk_alloc_disk, set_capacity(e << 3), add_disk (results not checked). A second disk of
  // the same name (two instances on one node, finding P7) fails in sysfs and is simply not there.
  const cur = persistOf(op.state, name);
  if (kmemDiskOwner(op.state, cur.nid) !== null) {
    op.print(`sysfs: cannot create duplicate filename '/devices/virtual/block/kmem${cur.nid}'`);
    op.branch('kmem_blk_disk_init', 'EEXIST(add_disk)');
    return OK;
  }
  setPersist(op, name, { blk: { n: Number(n), e: Number(e), disk: true } });
  op.print(`kmem${cur.nid}: detected capacity change from 0 to ${e * 8n}`);
  return OK;
}

/**
 * The mask `1 << (page_num % 64)` gives, as the 64-bit value OR'ed into and
 * AND'ed with the bitmap word (KERNEL-FACTS-PERSIST §3.1): on x86-64 `shl`
 * masks the count to 5 bits and `cltq` sign-extends; on an architecture
 * whose 32-bit shift by 32..63 is 0 the high half is lost; the fix is 1ULL.
 */
export function freeUnusedMask(k: number, semantics: 'x86' | 'zero' | 'u64'): bigint {
  if (semantics === 'u64') return 1n << BigInt(k);
  if (semantics === 'x86') {
    const c = k & 31;
    return c === 31 ? 0xffff_ffff_8000_0000n : 1n << BigInt(c);
  }
  if (k < 31) return 1n << BigInt(k);
  return k === 31 ? 0xffff_ffff_8000_0000n : 0n;
}

/**
 * @kernel kmem_blk_free_unused drivers/dax/kmem_blk.c (RFC 4/4, seed L1371-1413)
 * A bitmap of the mapped pages (BUG_ON for an entry outside [1+n, N)), then
 * __free_page for every pool page whose bit tests clear, with the int shift
 * of the posting.
 */
export function kmemBlkFreeUnused(op: Op, name: string): void {
  const p = persistOf(op.state, name);
  const blk = p.blk;
  if (blk === null) throw new Error('model bug: free_unused without kmem_blk data');
  const N = p.numPages;
  const semantics = op.state.profile.kmemBlkShift;
  const words = new Map<number, bigint>();
  for (const [, page] of mappedEntries(op.state, p, blk.n, blk.e)) {
    if (page < BigInt(1 + blk.n) || page >= BigInt(N)) throw new KernelOops('kernel BUG at drivers/dax/kmem_blk.c (kmem_blk_free_unused)', 'kmem_blk_free_unused');
    const pn = Number(page);
    const w = Math.floor(pn / 64);
    words.set(w, (words.get(w) ?? 0n) | freeUnusedMask(pn % 64, semantics));
  }
  // Pages whose bit tests set stay held; the rest of the pool is freed. Only words with bits set need a look.
  let keep = IntervalSet.EMPTY;
  for (const [w, bits] of words) {
    for (let k = 0; k < 64; k++) {
      const pn = w * 64 + k;
      if (pn < 1 + blk.n || pn >= N) continue;
      if ((bits & freeUnusedMask(k, semantics)) !== 0n) keep = keep.add(pn);
    }
  }
  const cur = persistOf(op.state, name);
  let held = cur.held.deleteRange(1 + blk.n, N);
  for (const [s, e] of keep.spans()) held = held.addRange(s, e);
  // A page kept here that was not held (offline block) stays as it was: keep only what was held.
  held = intersect(held, cur.held);
  setPersist(op, name, { held });
}

function intersect(a: IntervalSet, b: IntervalSet): IntervalSet {
  let out = a;
  let at = 0;
  for (const [s, e] of b.spans()) {
    out = out.deleteRange(at, s);
    at = e;
  }
  return out.deleteRange(at, Number.MAX_SAFE_INTEGER);
}

/**
 * @kernel kmem_blk_cleanup drivers/dax/kmem_blk.c (RFC 4/4, seed L1484-1521)
 * del_gendisk, then __free_page for every mapped data page, every index page
 * and the superblock page. Nothing is written to the media: its superblock
 * and index still name the freed pages. Under kmem-persist-fix-unbind the
 * pages stay held.
 */
export function kmemBlkCleanup(op: Op, name: string): Ret {
  const p = persistOf(op.state, name);
  const blk = p.blk;
  if (blk === null) return OK;
  if (op.state.profile.kmemPersistUnbindKeepsData) {
    op.branch('kmem_blk_cleanup', 'keeps-data');
    return OK;
  }
  for (const [, page] of mappedEntries(op.state, p, blk.n, blk.e)) {
    const pn = Number(page);
    if (persistOf(op.state, name).held.has(pn)) freeDevicePage(op, name, pn);
  }
  for (let k = 0; k <= blk.n; k++) if (persistOf(op.state, name).held.has(k)) freeDevicePage(op, name, k);
  return OK;
}

// ------------------------------------------------------------ the bio paths (kmem_blk_submit_bio)

/** Step block i's machine (machines/kmemBlock.machine.ts) from what its entry says, recording the transition. */
function blockStep(op: Op, entry: bigint, event: KmemBlockEvent['type']): void {
  const state: KmemBlockState = entry === 0n ? 'unmapped' : 'mapped';
  if (stepKmemBlock(state, event) === undefined) throw new Error(`model bug: a kmem_blk block ${state} cannot take ${event}`);
  op.transition(`kmemBlock:blk:${state}:${event}`);
}

/**
 * @kernel kmem_blk_insert_page drivers/dax/kmem_blk.c — block i's page,
 * allocating one (dax_kmem_alloc_page: zeroed, on the node) when unmapped;
 * null when none could be had ("Cannot allocate page", -ENOSPC).
 */
function insertPage(op: Op, name: string, i: number): bigint | null {
  const p = persistOf(op.state, name);
  const have = indexEntry(op.state, p, i);
  if (have !== 0n) {
    blockStep(op, have, 'write.inplace');
    return have;
  }
  const page = daxKmemAllocPage(op, name);
  if (page === null) {
    op.print(`kmem ${name}: Cannot allocate page`);
    blockStep(op, 0n, 'write.nopage');
    return null;
  }
  blockStep(op, 0n, 'write.allocated');
  physWrite(op, indexEntryPhys(p, i), BigInt(page));
  return BigInt(page);
}

/**
 * A WRITE bio over whole or part 4 KiB blocks (copy_to_kmem_blk_setup, then
 * copy_to_kmem_blk): blocks [first, first+count), words [w0, w0+words) of
 * the range's byte stream, each set to `value`. A block that gets no page
 * fails the bio (bio_io_error: EIO); blocks already done stay written.
 */
export function kmemBlkWrite(op: Op, name: string, byteOffset: bigint, length: bigint, value: bigint): Ret {
  const first = Number(byteOffset / 4096n);
  const last = Number((byteOffset + length - 1n) / 4096n);
  for (let i = first; i <= last; i++) {
    const page = insertPage(op, name, i);
    if (page === null) {
      op.branch('kmem_blk_submit_bio', 'EIO(write)');
      return err('EIO');
    }
    const p = persistOf(op.state, name);
    const pfn = Number(daxKmemIndexToPhys(p, Number(page)) >> 12n);
    const lo = i === first ? Number((byteOffset % 4096n) / 8n) : 0;
    const hi = i === last ? Number(((byteOffset + length - 1n) % 4096n) / 8n) + 1 : 512;
    physFillWords(op, pfn, lo, hi - lo, value);
  }
  return OK;
}

/** A READ bio (copy_from_kmem_blk): mapped blocks read their page, unmapped ones zeros; never allocates. Runs of [value, words]. */
export function kmemBlkRead(op: Op, name: string, byteOffset: bigint, length: bigint): Array<[bigint, number]> {
  const s = op.state;
  const p = persistOf(s, name);
  const first = Number(byteOffset / 4096n);
  const last = Number((byteOffset + length - 1n) / 4096n);
  const out: Array<[bigint, number]> = [];
  const push = (v: bigint, n: number) => {
    const tail = out[out.length - 1];
    if (tail !== undefined && tail[0] === v) tail[1] += n;
    else if (n > 0) out.push([v, n]);
  };
  for (let i = first; i <= last; i++) {
    const lo = i === first ? Number((byteOffset % 4096n) / 8n) : 0;
    const hi = i === last ? Number(((byteOffset + length - 1n) % 4096n) / 8n) + 1 : 512;
    const page = indexEntry(s, p, i);
    blockStep(op, page, 'read');
    if (page === 0n) {
      push(0n, hi - lo);
      continue;
    }
    const pfn = Number(daxKmemIndexToPhys(p, Number(page)) >> 12n);
    let at = 0;
    for (const [v, n] of physPageRuns(s.mm, pfn)) {
      const a = Math.max(at, lo);
      const b = Math.min(at + n, hi);
      if (b > a) push(v, b - a);
      at += n;
    }
  }
  return out;
}

/**
 * @kernel kmem_blk_discard drivers/dax/kmem_blk.c (REQ_OP_DISCARD and
 * REQ_OP_WRITE_ZEROES): each block's entry is cleared and its page, if any,
 * freed. BUG_ON(i > num_index_entries) is one too lenient (>= was meant); the
 * block layer's capacity check keeps i below e, so it never fires here.
 */
export function kmemBlkDiscard(op: Op, name: string, byteOffset: bigint, length: bigint): Ret {
  const first = Number(byteOffset / 4096n);
  const count = Number(length / 4096n);
  for (let i = first; i < first + count; i++) {
    const p = persistOf(op.state, name);
    if (p.blk !== null && i > p.blk.e) throw new KernelOops('kernel BUG at drivers/dax/kmem_blk.c (kmem_blk_discard)', 'kmem_blk_discard');
    const at = indexEntryPhys(p, i);
    const page = physRead(op.state.mm, at);
    blockStep(op, page, 'discard');
    if (page === 0n) continue;
    physWrite(op, at, 0n);
    const pn = Number(page);
    if (p.held.has(pn)) freeDevicePage(op, name, pn);
    else op.print(`BUG: Bad page state in process kworker: pfn:${(daxKmemIndexToPhys(p, pn) >> 12n).toString(16)}`);
  }
  return OK;
}
