/**
 * Program events for the differential fuzzer over test_hmm (`memhp kernel
 * fuzz --hmm`, on a kernel that builds it: `--kernel custom:hmm`):
 * processes that open /dev/hmm_dmirror0 and 1, map small private anonymous
 * buffers, touch them, fork, exit, mprotect, munmap and MADV_DONTNEED them,
 * and send the dmirror commands the model mirrors (READ, WRITE, SNAPSHOT,
 * MIGRATE_TO_DEV, MIGRATE_TO_SYS, EXCLUSIVE, CHECK_EXCLUSIVE, RELEASE) over them.
 * Once pages live on a device, CPU touches, range operations and commands
 * lean towards them (their device-private entries are what the migration
 * code paths are about).
 *
 * Addresses. A process's mappings stay under 2 MiB together (MAPPED_MAX),
 * so where the kernel places and merges them (which the model does not
 * know: vvar, vdso and the helper's own mappings) cannot decide whether a
 * fault maps a THP or a split invalidates a 2 MiB block. For the same reason
 * every address a step names lies inside the mapping its handle names, in
 * pages the model still has a vma for: what follows a vma in the guest is
 * not what follows it in the model (`kernel fuzz --hmm` seed 1201 diverged
 * three times on addresses past a mapping's end), and the kernel refills
 * holes the model's placement leaves alone (seed 1202 run 8). The generator
 * remembers each mmap's extent (HmmGenerator.observe) to know which vmas
 * came from which mmap: an mprotect splits a mapping into vmas the guest
 * keeps side by side too, so a range may cross them (a migration stopping at
 * a PROT_NONE part, a copy running from a writable part into a read-only
 * one: the "too small" buffer), but never leaves its mapping.
 *
 * What is left out, because it kills the guest: READ and WRITE through a
 * dmirror file over device pages of its own device whose device page-table
 * entry it lacks. hmm_range_fault reports such pages unfaulted,
 * dmirror_do_fault stores the device-private page itself and
 * dmirror_do_read / _do_write kmap it: an oops (finding
 * F-hmm-kmap-device-private, test/traces-custom/hmm/findings/), whether the
 * file is a second one of the device or the migrating file after an
 * invalidation (mprotect, fork) erased its entry. The generator asks the
 * model (applyEvent on the current state) and sends a SNAPSHOT of the same
 * range instead when it predicts the oops. And once a file migrated pages
 * to its device, every other file of that device open at that moment keeps
 * device page-table entries the migration did not invalidate
 * (dmirror_interval_invalidate ignores MMU_NOTIFY_MIGRATE events of its own
 * device): those files no longer READ, WRITE or MIGRATE_TO_DEV (whose
 * read-back is dmirror_do_read) — "a second file of the device after a
 * migration", already covered by that finding. Nor does a migration run
 * where it would leave such a stale entry behind (leavesStale): test_hmm's
 * use-after-free of a freed page, which the hmm-mirror-coherent invariant
 * flags (a flagged log cannot join the corpus).
 * EXCLUSIVE's range lies inside the mapping too (get_user_pages of a page
 * past it would fault in whatever the guest has there).
 */
import type { ProgramEvent } from '../log/events.js';
import type { DmirrorIoctlCmd, DmirrorIoctlEvent } from '../log/ioctlEvents.js';
import type { MapAddress } from '../log/programEvents.js';
import type { KernelState } from '../kernel/state.js';
import type { OpenFile, Process, Pte } from '../kernel/mm/types.js';
import { vmaAt } from '../kernel/mm/process.js';
import { dmirrorIndex } from '../kernel/mm/mmuNotifier.js';
import { applyEvent, type Step } from '../replay/engine.js';
import type { Rng } from './generate.js';

const K = 4096n;
/** Mapping lengths, in pages 1 to 256 (a migration range may span up to two 64-page migrate_vma windows). */
const LENGTHS = [K, 4n * K, 16n * K, 64n * K, 256n * K];
/**
 * A process's mappings together stay under this. The kernel merges a new
 * anonymous mapping with an adjacent one of the same protection
 * (vma_merge in mmap_region, which the model leaves out), so only the sum
 * bounds a vma's size; a vma under 2 MiB cannot hold an aligned 2 MiB
 * block, which would get THPs and, at every split inside it, a 2 MiB
 * invalidation from vma_adjust_trans_huge (`kernel fuzz --hmm` seed 1210
 * run 28: a 2 MiB mapping merged with two 1 MiB ones, a munmap of one page
 * erased the device page table over the whole block).
 */
const MAPPED_MAX = 512n * K;
const MAPS = ['m1', 'm2', 'm3'];
/** Never mapped: the handle's address is 0, and nothing is there in the guest either. */
const UNMAPPED = 'm9';

/** One mmap's address range, as the process made it (or inherited it at fork); `order` says which came later. */
interface Extent {
  readonly map: string;
  readonly base: bigint;
  readonly end: bigint;
  readonly order: number;
}

/** A page `page` pages into mapping `map`. */
interface Spot {
  readonly map: string;
  readonly page: number;
}

/** A command's view through one fd (HmmGenerator.through). */
interface Through {
  readonly id: number | undefined;
  readonly file: OpenFile | undefined;
  /** The pid handle of the process the file mirrors (the caller's when that mm is gone). */
  readonly target: string;
  readonly shared: readonly string[];
  readonly devPages: readonly Spot[];
  readonly owned: readonly Spot[];
}

/** The commands' weights; MIGRATE_TO_SYS mostly once some page is on a device (before, it moves nothing). */
const commands = (onDevice: boolean): readonly (readonly [number, DmirrorIoctlCmd])[] => [
  [24, 'HMM_DMIRROR_MIGRATE_TO_DEV'],
  [onDevice ? 14 : 4, 'HMM_DMIRROR_MIGRATE_TO_SYS'],
  [14, 'HMM_DMIRROR_READ'],
  [11, 'HMM_DMIRROR_WRITE'],
  [14, 'HMM_DMIRROR_SNAPSHOT'],
  [5, 'HMM_DMIRROR_EXCLUSIVE'],
  [3, 'HMM_DMIRROR_CHECK_EXCLUSIVE'],
  [4, 'HMM_DMIRROR_RELEASE'],
];

/**
 * The generator of test_hmm program events. It is stateful only in what the
 * model's state cannot say: each mmap's extent, and the files that must no
 * longer READ/WRITE. generateSteps calls `step` for an event and `observe`
 * with every step the model applied.
 */
export class HmmGenerator {
  /** Every mapping each process made or inherited, oldest first. */
  private readonly extents = new Map<string, Extent[]>();
  private order = 0;
  /** Files (open file ids) of a device open when another file of that device migrated pages to it. */
  private readonly tainted = new Set<number>();

  /** Follow what the model did: mmap's address, fork and exit for the extents, MIGRATE_TO_DEV for the taint. */
  observe(step: Step): void {
    const e = step.event;
    if (!step.outcome.ok) {
      // A MIGRATE_TO_DEV that failed may still have migrated its first windows (EINVAL at a later vma, EFAULT at the copy).
      if (e.type !== 'ioctl' || e.cmd !== 'HMM_DMIRROR_MIGRATE_TO_DEV') return;
    }
    switch (e.type) {
      case 'mmap': {
        const value = step.outcome.ok ? step.outcome.value : undefined;
        if (typeof value !== 'string') return;
        const base = BigInt(value);
        this.extentsOf(e.pid).push({ map: e.map, base, end: base + e.length, order: ++this.order });
        return;
      }
      case 'fork':
        this.extents.set(e.child, [...this.extentsOf(e.pid)]);
        return;
      case 'exit':
        this.extents.delete(e.pid);
        return;
      case 'ioctl': {
        if (e.cmd !== 'HMM_DMIRROR_MIGRATE_TO_DEV' || step.before === null) return;
        const id = step.before.mm.procs.get(e.pid)?.fds.get(e.fd);
        const file = id === undefined ? undefined : step.before.mm.files.get(id);
        if (id === undefined || file === undefined || file.driver !== 'dmirror') return;
        const device = dmirrorIndex(file.dev);
        for (const [other, f] of step.before.mm.files) if (other !== id && f.driver === 'dmirror' && dmirrorIndex(f.dev) === device) this.tainted.add(other);
        return;
      }
      default:
        return;
    }
  }

  /** One test_hmm program event for the state the model is in. */
  step(g: Rng, state: KernelState): ProgramEvent {
    const procs = state.mm.procs;
    const alive = [...procs.keys()];
    const pid = alive.length > 0 && g.next() < 0.85 ? g.pick(alive) : 'p1';
    const p = procs.get(pid);
    const fds = p === undefined ? [] : [...p.fds.keys()];
    const live = this.liveMaps(state, pid);
    const devPages = this.deviceSpots(state, pid, live);
    const mapped = (p?.vmas ?? []).reduce((n, v) => n + (v.end - v.start), 0n);
    const lengths = LENGTHS.filter((l) => mapped + l < MAPPED_MAX);
    const kind = g.weighted([
      [fds.length === 0 ? 40 : 3, 'open'],
      [2, 'close'],
      [lengths.length === 0 ? 0 : live.length < 2 ? 40 : 6, 'mmap'],
      [3, 'munmap'],
      [5, 'mprotect'],
      [4, 'madvise'],
      [devPages.length > 0 ? 32 : 22, 'access'],
      [live.length === 0 || fds.length === 0 ? 0 : 45, 'ioctl'],
      [procs.has('p2') ? 0 : 5, 'fork'],
      [procs.has('p2') ? 3 : 0, 'exit'],
    ] as const);
    // A range of 1 to `most` pages in one of the caller's mappings, starting at a device page half the time there are any.
    const range = (most: number): { readonly map: string; readonly offset: bigint; readonly pages: number } => {
      const at = this.spot(g, state, pid, live, devPages, 0.5);
      const span = this.span(state, pid, at.map);
      const pages = span === 0 ? 1 : Math.max(1, Math.min(g.pick([1, 1, 1, 2, 3, 4].filter((n) => n <= most)), span - at.page));
      return { map: at.map, offset: BigInt(at.page) * K, pages };
    };
    switch (kind) {
      case 'open':
        return { type: 'open', pid, fd: g.pick(['f1', 'f2']), path: g.pick(['/dev/hmm_dmirror0', '/dev/hmm_dmirror0', '/dev/hmm_dmirror1']), mode: 'rdwr', sync: false };
      case 'close':
        return { type: 'close', pid, fd: fds.length > 0 ? g.pick(fds) : 'f1' };
      case 'mmap':
        return { type: 'mmap', pid, map: g.pick(MAPS), fd: null, length: g.pick(lengths), offset: 0n, prot: g.weighted([[85, 'rw'], [10, 'r'], [5, 'none']] as const), flags: ['private'], addr: null };
      case 'munmap': {
        const r = range(2);
        return { type: 'munmap', pid, map: r.map, offset: r.offset, length: BigInt(r.pages) * K };
      }
      case 'mprotect': {
        const r = range(4);
        return { type: 'mprotect', pid, map: r.map, offset: r.offset, length: BigInt(r.pages) * K, prot: g.pick(['r', 'rw', 'none'] as const) };
      }
      case 'madvise': {
        const r = range(4);
        return { type: 'madvise', pid, map: r.map, offset: r.offset, length: BigInt(r.pages) * K, advice: 'dontneed' };
      }
      case 'access': {
        const at = this.spot(g, state, pid, live, devPages, 0.6);
        const write = g.next() < 0.5;
        return { type: 'access', pid, map: at.map, offset: BigInt(at.page) * K + BigInt(g.int(0, 3)) * 8n, op: write ? 'write' : 'read', value: write ? BigInt(g.int(1, 0x7fffffff)) : null };
      }
      case 'ioctl':
        return this.ioctl(g, state, pid, fds, live);
      case 'fork':
        return { type: 'fork', pid, child: 'p2' };
      case 'exit':
        return { type: 'exit', pid: 'p2' };
    }
  }

  /** A dmirror command through one of the caller's files, over a range of the process that file mirrors. */
  private ioctl(g: Rng, state: KernelState, pid: string, fds: readonly string[], live: readonly string[]): ProgramEvent {
    let cmd = g.weighted(commands(state.hmm.pages.size > 0));
    let fd = g.pick(fds);
    // MIGRATE_TO_SYS moves back the pages of its own device, and another file's would leave that file a stale entry
    // (leavesStale): mostly through the file that migrated pages still on the device.
    if (cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS' && g.next() < 0.7) {
      const owners = fds.filter((f) => this.through(state, pid, f, live).owned.length > 0);
      if (owners.length > 0) fd = g.pick(owners);
    }
    const { id, file, target, shared, devPages, owned } = this.through(state, pid, fd, live);
    // A file that kept entries another file's migration left stale sends none of the commands that read them back.
    if (id !== undefined && this.tainted.has(id)) {
      if (cmd === 'HMM_DMIRROR_READ' || cmd === 'HMM_DMIRROR_WRITE' || cmd === 'HMM_DMIRROR_EXCLUSIVE') cmd = 'HMM_DMIRROR_SNAPSHOT';
      else if (cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV') cmd = 'HMM_DMIRROR_MIGRATE_TO_SYS';
    }
    const migrate = cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' || cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS';
    // Ranges over device pages: always worth it for MIGRATE_TO_SYS, often for the commands that fault or report them.
    const lean = cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS' ? 0.7 : migrate ? 0.2 : 0.4;
    const at = this.spot(g, state, target, shared, cmd === 'HMM_DMIRROR_MIGRATE_TO_SYS' && owned.length > 0 ? owned : devPages, lean);
    const span = at.map === UNMAPPED ? 0 : this.span(state, target, at.map);
    // Migrations move up to two windows of 64 pages; the other commands a few pages, as before.
    const sizes = migrate ? [1, 1, 2, 3, 4, 8, 16, 32, 64, 65, 128] : [1, 2, 4, 8];
    const fits = sizes.filter((n) => span === 0 || at.page + n <= span);
    const npages = g.pick(fits.length > 0 ? fits : [1]);
    const ptr = this.buffer(g, state, pid, live, cmd, npages);
    const event: DmirrorIoctlEvent = { type: 'ioctl', pid, fd, cmd, args: { addr: { map: at.map, offset: BigInt(at.page) * K }, npages: BigInt(npages), ptr } };
    const snapshot: DmirrorIoctlEvent = { ...event, cmd: 'HMM_DMIRROR_SNAPSHOT' };
    const proc = state.mm.procs.get(target);
    const base = proc?.maps.get(at.map);
    if (migrate && id !== undefined && file !== undefined && proc !== undefined && base !== undefined && at.map !== UNMAPPED) {
      const start = base + BigInt(at.page) * K;
      if (this.leavesStale(state, id, proc, start, start + BigInt(npages) * K, cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV')) return snapshot;
    }
    // EXCLUSIVE reads its range back through the device page table as READ does.
    if (cmd !== 'HMM_DMIRROR_READ' && cmd !== 'HMM_DMIRROR_WRITE' && cmd !== 'HMM_DMIRROR_EXCLUSIVE') return event;
    // The model's word on whether the kernel oopses here (a device-private page kmapped): a SNAPSHOT instead.
    const tried = applyEvent(state, event, 0);
    return tried.after.oops === null ? event : snapshot;
  }

  /**
   * Whether a migration by file `id` over [start, end) of `proc` would leave
   * another file of the same device an entry naming a freed page. Both
   * migrations notify MMU_NOTIFY_MIGRATE with the device as owner, which
   * every dmirror of that device ignores (dmirror_interval_invalidate), so
   * only the migrating file's entries follow: to the device, another file's
   * entries over the range keep the system pages it frees
   * (dmirror_migrate_finalize_and_map stores only its own); to system,
   * dmirror_devmem_fault_alloc_and_copy erases the entry of the file that
   * asks, not of the one that migrated the page (rpage->zone_device_data), so
   * that one keeps the backing page dmirror_devmem_free frees. A real
   * use-after-free of test_hmm's, seen only by a READ through that file (the
   * "second file" case left out above), but the model's hmm-mirror-coherent
   * invariant rightly flags such a table, and a flagged log cannot join the
   * corpus.
   */
  private leavesStale(state: KernelState, id: number, proc: Process, start: bigint, end: bigint, toDevice: boolean): boolean {
    const file = state.mm.files.get(id);
    if (file === undefined) return false;
    const device = dmirrorIndex(file.dev);
    if (toDevice) {
      const lo = Number(start / K);
      const hi = Number(end / K) - 1;
      for (const [other, f] of state.mm.files) {
        if (other === id || f.driver !== 'dmirror' || dmirrorIndex(f.dev) !== device || f.mm !== file.mm || f.mirror === undefined) continue;
        if (!f.mirror.range(lo, hi).next().done) return true;
      }
      return false;
    }
    for (let a = start; a < end; a += K) {
      const pte = pteAt(proc, a);
      if (pte?.anon?.kind !== 'device') continue;
      const page = state.hmm.pages.get(Number(pte.phys >> 12n));
      if (page !== undefined && page.device === device && page.dmirror !== id) return true;
    }
    return false;
  }

  /**
   * What a command through `fd` works on. The driver looks `addr` up in the
   * mm the file mirrors (the opener's: a forked child's inherited file works
   * on its parent's), so a handle only counts where it names the same
   * address there, inside a mapping of that process (`shared`); `devPages`
   * are the device pages there, `owned` those the file itself migrated.
   */
  private through(state: KernelState, pid: string, fd: string, live: readonly string[]): Through {
    const caller = state.mm.procs.get(pid);
    const id = caller?.fds.get(fd);
    const file = id === undefined ? undefined : state.mm.files.get(id);
    let mirrored: string | null = null;
    for (const [q, proc] of state.mm.procs) if (file?.mm !== undefined && file.mm !== null && proc.mm === file.mm) mirrored = q;
    const target = mirrored ?? pid;
    const shared = live.filter((m) => mirrored === null || (state.mm.procs.get(mirrored)?.maps.get(m) === caller?.maps.get(m) && this.span(state, mirrored, m) > 0));
    const devPages = this.deviceSpots(state, target, shared);
    const proc = state.mm.procs.get(target);
    const owned = devPages.filter((d) => {
      const pte = proc === undefined ? undefined : pteAt(proc, (proc.maps.get(d.map) ?? 0n) + BigInt(d.page) * K);
      return pte !== undefined && state.hmm.pages.get(Number(pte.phys >> 12n))?.dmirror === id;
    });
    return { id, file, target, shared, devPages, owned };
  }

  /**
   * The `ptr` buffer in the caller: READ, WRITE and EXCLUSIVE copy npages pages,
   * MIGRATE_TO_DEV copies npages pages back, SNAPSHOT npages bytes (one
   * page); the others ignore it (null now and then, as they are called).
   * Mostly a buffer with room, sometimes one with too little writable
   * room (its copy runs into a read-only or PROT_NONE part of the same
   * mapping) or nothing mapped (EFAULT at its first page).
   */
  private buffer(g: Rng, state: KernelState, pid: string, live: readonly string[], cmd: DmirrorIoctlCmd, npages: number): MapAddress | null {
    const copies = cmd === 'HMM_DMIRROR_READ' || cmd === 'HMM_DMIRROR_WRITE' || cmd === 'HMM_DMIRROR_MIGRATE_TO_DEV' || cmd === 'HMM_DMIRROR_EXCLUSIVE' || cmd === 'HMM_DMIRROR_SNAPSHOT';
    if (!copies && g.next() < 0.3) return null;
    const need = cmd === 'HMM_DMIRROR_SNAPSHOT' || !copies ? 1 : npages;
    const tight = this.tightSpots(state, pid, live, need);
    const roomy = live.filter((m) => this.span(state, pid, m) >= need);
    // Buffers whose pages are all writable: the copy completes (a failed MIGRATE_TO_DEV is no rarer for that).
    const writable = this.writableSpots(state, pid, live, need);
    const how = g.weighted([
      [writable.length > 0 ? 70 : 0, 'writable'],
      [roomy.length > 0 ? 20 : 0, 'roomy'],
      [tight.length > 0 ? 5 : 0, 'tight'],
      [3, 'unmapped'],
    ] as const);
    switch (how) {
      case 'writable':
        return this.at(g.pick(writable));
      case 'roomy': {
        const m = g.pick(roomy);
        return { map: m, offset: BigInt(g.int(0, this.span(state, pid, m) - need)) * K };
      }
      case 'tight':
        return this.at(g.pick(tight));
      case 'unmapped':
        return { map: UNMAPPED, offset: 0n };
    }
  }

  private at(s: Spot): MapAddress {
    return { map: s.map, offset: BigInt(s.page) * K };
  }

  /** Buffers of `need` pages inside one mapping, all of them in rw vmas (a few starts per mapping). */
  private writableSpots(state: KernelState, pid: string, live: readonly string[], need: number): Spot[] {
    const p = state.mm.procs.get(pid);
    const out: Spot[] = [];
    if (p === undefined) return out;
    for (const m of live) {
      const base = p.maps.get(m) ?? 0n;
      const span = this.span(state, pid, m);
      let run = 0;
      // `run`: writable pages ending at page i; a buffer may start at i - need + 1 once there are `need` of them.
      for (let i = 0; i < span; i++) {
        run = vmaAt(p, base + BigInt(i) * K)?.vma.prot === 'rw' ? run + 1 : 0;
        if (run >= need) out.push({ map: m, page: i - need + 1 });
      }
    }
    return out;
  }

  /** Buffers of `need` pages inside one mapping that start writable and reach a page that is not: copy_to_user stops there. */
  private tightSpots(state: KernelState, pid: string, live: readonly string[], need: number): Spot[] {
    const p = state.mm.procs.get(pid);
    const base = (m: string) => p?.maps.get(m) ?? 0n;
    const out: Spot[] = [];
    if (p === undefined || need < 2) return out;
    for (const m of live) {
      const span = this.span(state, pid, m);
      const writable = (i: number) => vmaAt(p, base(m) + BigInt(i) * K)?.vma.prot === 'rw';
      for (let i = 0; i + need <= span; i++) {
        if (!writable(i)) continue;
        for (let j = i + 1; j < i + need; j++) {
          if (writable(j)) continue;
          out.push({ map: m, page: i });
          break;
        }
      }
    }
    return out;
  }

  /** A page of one of `maps`: a device page (`devPages`) with probability `lean` when there are any, else any page, or now and then an unmapped one. */
  private spot(g: Rng, state: KernelState, pid: string, maps: readonly string[], devPages: readonly Spot[], lean: number): Spot {
    if (devPages.length > 0 && g.next() < lean) return g.pick(devPages);
    if (maps.length === 0 || g.next() >= 0.92) return { map: UNMAPPED, page: g.int(0, 3) };
    const map = g.pick(maps);
    return { map, page: g.int(0, Math.max(0, this.span(state, pid, map) - 1)) };
  }

  /** The caller's handles that name pages of their own mapping. */
  private liveMaps(state: KernelState, pid: string): string[] {
    const p = state.mm.procs.get(pid);
    return p === undefined ? [] : [...p.maps.keys()].filter((m) => this.span(state, pid, m) > 0);
  }

  /** The pages of `maps` (in process `pid`) that hold a device-private entry. */
  private deviceSpots(state: KernelState, pid: string, maps: readonly string[]): Spot[] {
    const p = state.mm.procs.get(pid);
    const out: Spot[] = [];
    if (p === undefined || state.hmm.pages.size === 0) return out;
    for (const m of maps) {
      const base = p.maps.get(m);
      if (base === undefined) continue;
      const span = this.span(state, pid, m);
      for (let i = 0; i < span; i++) if (pteAt(p, base + BigInt(i) * K)?.anon?.kind === 'device') out.push({ map: m, page: i });
    }
    return out;
  }

  /**
   * Pages from handle `m`'s address on that belong to its mapping and still
   * have a vma: up to its extent's end, a page with no vma, or a page a later
   * mapping took (the model placed it in a hole of this one; the guest may
   * not have). 0: the handle names nothing usable.
   */
  private span(state: KernelState, pid: string, m: string): number {
    const p = state.mm.procs.get(pid);
    const base = p?.maps.get(m);
    if (p === undefined || base === undefined) return 0;
    const list = this.extents.get(pid) ?? [];
    let own: Extent | undefined;
    for (const x of list) if (x.map === m && x.base === base && (own === undefined || x.order > own.order)) own = x;
    if (own === undefined) return 0;
    const mine = own;
    let n = 0;
    for (let a = base; a < mine.end; a += K) {
      if (vmaAt(p, a) === null) break;
      if (list.some((x) => x.order > mine.order && a >= x.base && a < x.end)) break;
      n++;
    }
    return n;
  }

  private extentsOf(pid: string): Extent[] {
    let list = this.extents.get(pid);
    if (list === undefined) {
      list = [];
      this.extents.set(pid, list);
    }
    return list;
  }
}

/** The page-table entry mapping `addr` in `p`, if any. */
function pteAt(p: Process, addr: bigint): Pte | undefined {
  const at = vmaAt(p, addr);
  return at === null ? undefined : at.vma.ptes.get(Number((addr - at.vma.start) / K));
}
