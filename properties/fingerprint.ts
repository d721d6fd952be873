/**
 * The fingerprint of a model state for the exhaustive search: a string that
 * is equal for two states exactly when they are the same canonical state, so
 * the search keeps one of them.
 *
 * Canonical means: the fields that never change after boot (profile, config,
 * block size, regions, possible nodes, reserved pages) are left out, as one
 * search only compares states of one machine; and two kinds of kernel
 * bookkeeping numbers, whose values the kernel never shows and only compares
 * for equality, are renumbered by first appearance: the add id of each
 * memory block (which add_memory call made it; `nextAddId` grows with every
 * add, so without renaming a hot-remove machine never runs out of states)
 * and memory group ids (memory_group_register takes the smallest free id, so
 * the same groups get different numbers in different orders).
 *
 * The state is cut into slots, one per dax region: the region's iomem
 * subtree, its blocks, its devices (with their groups and driver id-list
 * entries) and, when the region's target node holds nothing else, that
 * node's zone spans, each written relative to the region (addresses from its
 * start, block ids from its first block, its node as `N`). Everything else is
 * the global part, written as it is. With symmetry reduction, the slots of
 * interchangeable regions (symmetry.ts) are sorted before they are joined,
 * so states that differ only by which of two identical devices did what
 * share one fingerprint.
 *
 * What programs own (SPEC §7: KernelState.mm) is one more part, written
 * after the slots: each process by its pid handle, its fds and map handles
 * by their handles, its vmas with their entries and page-table pages, the
 * open files, the memory words written, and anonymous memory (folios and
 * the page allocator's free frames and next block). Handle names are the log's and
 * stay in the key (p1 and p2, f1, m1 and m2 are few: the alphabet,
 * properties/alphabet/programs.ts, reuses them canonically, so a state that
 * differs only by a pid or map name costs at most a factor two, never an
 * unbounded count). File ids (`nextFile` grows with every open) are
 * renumbered by first appearance, processes in pid order; a file's cdev
 * generation is written as current or stale (the kernel only compares it).
 * Addresses stay absolute: the alphabet keeps placements within a window
 * below mmap_base, so there are finitely many. This part names devices and
 * physical addresses outside the slots, so with program events the search
 * reduces no symmetry (symmetry.ts: symmetryApplies).
 */
import type { PageTable } from '../src/kernel/mm/pageTable.js';
import type { AnonState, Vma } from '../src/kernel/mm/types.js';
import type { Resource } from '../src/kernel/resource.js';
import type { DaxDevice, DaxRange, KernelState, MemoryBlock } from '../src/kernel/state.js';
import type { IntMap } from '../src/util/intMap.js';
import type { RerootMap } from '../src/util/rerootMap.js';

/** One dax region's share of the state, and how its coordinates are made relative. */
export interface Slot {
  readonly regionId: number;
  /** The region's range (inclusive end). */
  readonly start: bigint;
  readonly end: bigint;
  /** The blocks the region touches. */
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** The region's target node when nothing else is on it (no boot RAM, no other region): written as `N`; else null. */
  readonly node: number | null;
}

export interface Layout {
  readonly slots: readonly Slot[];
  /** Sets of interchangeable slots (indices into `slots`), each of two or more; empty without symmetry reduction. */
  readonly groups: ReadonlyArray<readonly number[]>;
}

/** Slots for a booted state: one per region, in region order; no symmetry groups (see symmetry.ts). */
export function slotsOf(s: KernelState): Slot[] {
  const B = s.blockSize;
  const ramNodes = new Set<number>();
  for (const b of s.blocks.values()) if (b.boot) ramNodes.add(b.nid);
  const regionsPerNode = new Map<number, number>();
  for (const r of s.regions) regionsPerNode.set(r.targetNode, (regionsPerNode.get(r.targetNode) ?? 0) + 1);
  return s.regions.map((r) => ({
    regionId: r.id,
    start: r.start,
    end: r.end,
    firstBlock: Number(r.start / B),
    lastBlock: Number(r.end / B),
    node: r.targetNode >= 0 && !ramNodes.has(r.targetNode) && regionsPerNode.get(r.targetNode) === 1 ? r.targetNode : null,
  }));
}

const hex = (n: bigint): string => n.toString(16);

const REGION_OBJECT = /^(dax|namespace)(\d+)\.(\d+)$/;

/** A resource name inside region `region`'s slot: its own devices and namespaces lose the region number (dax0.0 → dax.0). */
function localName(name: string, region: number | null): string {
  if (region === null) return name;
  const m = REGION_OBJECT.exec(name);
  return m !== null && Number(m[2]) === region ? `${m[1]}.${m[3]}` : name;
}

function recordText(b: MemoryBlock): string {
  return `${b.state}|${b.zone ?? '-'}|${b.boot ? 1 : 0}|${b.pages}|${b.vmemmapPages}|${b.memmapHost ?? '-'}|${b.unmovable ? 1 : 0}`;
}

/**
 * Computes fingerprints for one machine (the layout of its root state).
 * Resource subtrees and devices are immutable and shared between states:
 * their text is cached per object.
 */
export class Fingerprinter {
  /**
   * Every distinct part text gets a small number, and a key is built from
   * numbers: keys stay short (a Map hashes the whole key) and a subtree or
   * device seen before costs one WeakMap lookup.
   */
  private readonly partIds = new Map<string, number>();
  private readonly resourceId = new WeakMap<Resource, number>();
  private readonly deviceId = new WeakMap<DaxDevice, number>();
  /** A block record's part id without its node, add id and group (those depend on the slot or are renamed per state): per interned record. */
  private readonly recordId = new WeakMap<MemoryBlock, number>();
  /** Program state parts, per immutable object (a step copies only what it changes). */
  private readonly vmaId = new WeakMap<Vma, number>();
  private readonly ptesId = new WeakMap<PageTable, number>();
  private readonly tablesId = new WeakMap<IntMap<true>, number>();
  private readonly memId = new WeakMap<RerootMap<bigint>, number>();

  constructor(readonly layout: Layout) {}

  private intern(text: string): number {
    let id = this.partIds.get(text);
    if (id === undefined) this.partIds.set(text, (id = this.partIds.size));
    return id;
  }

  private record(b: MemoryBlock): number {
    let id = this.recordId.get(b);
    if (id === undefined) this.recordId.set(b, (id = this.intern(recordText(b))));
    return id;
  }

  /** The fingerprint of `s`. */
  key(s: KernelState): string {
    const slots = this.layout.slots;
    // Slot texts are interned: one slot state recurs under many global parts (each auto_online_blocks value,
    // each pending fault), and a number in each key costs less than the text (measured: 1,068 against
    // 1,609 B per stored state on hmem-hotremove).
    const parts: number[] = new Array<number>(slots.length);
    for (let i = 0; i < slots.length; i++) parts[i] = this.intern(this.slotKey(s, i));
    for (const g of this.layout.groups) {
      const sorted = g.map((i) => parts[i] as number).sort((a, b) => a - b);
      g.forEach((i, k) => (parts[i] = sorted[k] as number));
    }
    const mm = s.mm;
    const programs = mm.procs.size === 0 && mm.files.size === 0 && mm.mem.size === 0 && mm.fills.size === 0 ? '' : `#${this.intern(this.mmText(s))}`;
    // The global text is interned as well: the key a Map hashes twice per transition (get, then set) stays short.
    // swap_info[] (src/kernel/mm/swapfile.ts): each slot's SWP_USED and file, in type order (the type is what a swap entry names).
    const swap = s.swap.info.length === 0 ? '' : `#S${s.swap.info.map((si) => (si.used ? `${si.path ?? '-'}` : '.')).join(';')}`;
    // kmem's module parameters and type references under the kmem-persist series.
    const kp = s.kmemPersist;
    const persist = s.profile.kmemPersist ? `#K${kp.formatType},${kp.formatForce ? 1 : 0},${kp.refs.join(',')}` : '';
    // test_hmm (src/kernel/hmm/): loaded or not, and each device's chunk starts in order (iomem shows the ranges, not whose they are).
    const h = s.hmm;
    const hmm = h.loaded ? `#H${h.devices.map((d) => d.chunks.map((c) => c.start.toString(16)).join('+')).join(';')}` : '';
    return `${this.intern(this.globalText(s))}#${parts.join(',')}${programs}${swap}${persist}${hmm}`;
  }

  /** A vma without its file (renumbered per state): start, end, pgoff, prot, flags, the align dax_mmap saw, grown, entries. */
  private vma(v: Vma): number {
    let id = this.vmaId.get(v);
    if (id === undefined) {
      const f = v.flags;
      const bits = `${f.mayshare ? 's' : ''}${f.maywrite ? 'w' : ''}${f.hugepage ? 'h' : ''}${f.nohugepage ? 'n' : ''}${f.dontcopy ? 'd' : ''}${f.sync ? 'y' : ''}${f.pfnmap ? 'p' : ''}${f.account ? 'a' : ''}`;
      id = this.intern(`${hex(v.start)}-${hex(v.end)}:${hex(v.pgoff)}:${v.prot}:${bits}:${hex(v.mmapAlign)}:${v.grown ? 1 : 0}:${this.ptes(v.ptes)}`);
      this.vmaId.set(v, id);
    }
    return id;
  }

  private ptes(t: PageTable): number {
    let id = this.ptesId.get(t);
    if (id === undefined) {
      let out = 'P';
      for (const [k, e] of t.entries()) {
        const a = e.anon;
        out += `${k}:${e.level}${hex(e.phys)}${e.special ? 's' : ''}${a === undefined ? '' : `a${a.kind === 'zero' ? 'z' : a.kind === 'device' ? 'd' : a.kind === 'exclusive' ? 'e' : 'p'}${a.write ? 'w' : ''}${a.exclusive ? 'x' : ''}`};`;
      }
      this.ptesId.set(t, (id = this.intern(out)));
    }
    return id;
  }

  private tables(t: IntMap<true>): number {
    let id = this.tablesId.get(t);
    if (id === undefined) {
      let out = 'T';
      for (const [k] of t.entries()) out += `${k},`;
      this.tablesId.set(t, (id = this.intern(out)));
    }
    return id;
  }

  private mem(m: RerootMap<bigint>): number {
    let id = this.memId.get(m);
    if (id === undefined) {
      let out = 'M';
      for (const [k, v] of m.entries()) out += `${k}=${hex(v)};`;
      this.memId.set(m, (id = this.intern(out)));
    }
    return id;
  }

  /** The program part (see the header): processes in pid order, file ids renumbered by first appearance. */
  private mmText(s: KernelState): string {
    const mm = s.mm;
    const fileNo = new Map<number, number>();
    const no = (id: number): number => {
      let n = fileNo.get(id);
      if (n === undefined) fileNo.set(id, (n = fileNo.size));
      return n;
    };
    let out = '';
    for (const pid of [...mm.procs.keys()].sort()) {
      const p = mm.procs.get(pid);
      if (p === undefined) continue;
      out += `${pid}{`;
      for (const fd of [...p.fds.keys()].sort()) out += `${fd}=${no(p.fds.get(fd) as number)},`;
      out += '|';
      for (const m of [...p.maps.keys()].sort()) out += `${m}=${hex(p.maps.get(m) as bigint)},`;
      out += '|';
      for (const v of p.vmas) out += `${this.vma(v)}@${v.file === null ? 'anon' : no(v.file)};`;
      out += `|${this.tables(p.pteTables)}|${this.tables(p.pmdTables)}|${p.rssAnon}}`;
    }
    // Files no fd or vma holds (a leak: only a bug's state has one) after the held ones, by id.
    for (const id of [...mm.files.keys()].sort((a, b) => a - b)) no(id);
    const files: string[] = [];
    // A file bound to an mm names it by the pid handle that holds it (mm identities are counters, like file ids).
    const mmOwner = (mm: number | null): string => {
      if (mm === null) return '-';
      for (const [pid, p] of s.mm.procs) if (p.mm === mm) return pid;
      return '?';
    };
    for (const [id, n] of fileNo) {
      const f = mm.files.get(id);
      const dev = f === undefined ? undefined : s.devices.find((d) => d.name === f.dev);
      // The generation only tells a file of the current bind from one of an earlier bind (B1).
      const gen = f === undefined ? '' : dev === undefined ? String(f.gen) : f.gen === dev.cdevGen ? 'c' : 's';
      files[n] = f === undefined ? '-' : `${f.driver}:${f.path}:${f.dev}:${f.mode}:${f.sync ? 1 : 0}:${f.private ? 1 : 0}:${gen}:${f.refs}${f.mm === undefined ? '' : `:${mmOwner(f.mm)}`}${f.mirror === undefined || f.mirror.size === 0 ? '' : `:${[...f.mirror.entries()].map(([k, e]) => `${k.toString(16)}=${hex(e.phys)}${e.tag[0]}`).join(',')}`}`;
    }
    return `${out}/${files.join(';')}/${this.mem(mm.mem)}/${mm.fills.size === 0 ? '' : this.mem(mm.fills)}/${this.anon(mm.anon)}`;
  }

  /** Anonymous memory: the folios and the allocator's state (which frame comes next decides where data lands). */
  private anon(a: AnonState): string {
    if (a.folios.size === 0 && a.bump === null) return '';
    let out = `${a.pages}:${a.bump ?? '-'}:${a.hugeZero ?? '-'}:${a.chunk === null ? '-' : `${a.chunk.base}+${a.chunk.next - a.chunk.base}`}:F`;
    for (const [k, f] of a.folios.entries()) out += `${k}o${f.order}m${f.maps}${f.devExclusive === undefined ? '' : `e${f.devExclusive}`},`;
    out += ':4';
    for (const [k] of a.free4k.entries()) out += `${k},`;
    out += ':2';
    for (const [k] of a.free2m.entries()) out += `${k},`;
    return out;
  }

  /** Which slot a top-level resource, block id or device belongs to; -1 = global. */
  private slotOfRange(start: bigint, end: bigint): number {
    const slots = this.layout.slots;
    for (let i = 0; i < slots.length; i++) {
      const sl = slots[i] as Slot;
      if (start >= sl.start && end <= sl.end) return i;
    }
    return -1;
  }

  private slotOfBlock(id: number): number {
    const slots = this.layout.slots;
    for (let i = 0; i < slots.length; i++) {
      const sl = slots[i] as Slot;
      if (id >= sl.firstBlock && id <= sl.lastBlock) return i;
    }
    return -1;
  }

  /** A resource subtree's part id, its addresses relative to `base` and its names to `region` (a resource belongs to one slot or to none). */
  private resource(r: Resource, base: bigint, region: number | null): number {
    let id = this.resourceId.get(r);
    if (id === undefined) {
      let kids = '';
      for (const c of r.children) kids += `,${this.resource(c, base, region)}`;
      id = this.intern(`${hex(r.start - base)},${hex(r.end - base)},${localName(r.name, region)},${r.flags},${r.desc}(${kids})`);
      this.resourceId.set(r, id);
    }
    return id;
  }

  /**
   * The blocks of ids [lo, hi] (less `skip`), with add ids renumbered by first
   * appearance and groups named by `group`; a run of consecutive blocks with
   * the same record is written once with its length.
   */
  private blocks(s: KernelState, lo: number, hi: number, base: number, node: number | null, group: (g: number) => string, skip: (id: number) => boolean): string {
    const adds = new Map<number, number>();
    let out = '';
    let runText = '';
    let runStart = -1;
    let runEnd = -2;
    for (const [id, b] of s.blocks.range(lo, hi)) {
      if (skip(id)) continue;
      let add = adds.get(b.addId);
      if (add === undefined) adds.set(b.addId, (add = b.boot ? 0 : adds.size + 1));
      const text = `${b.nid === node ? 'N' : b.nid}|${this.record(b)}|${add}|${b.group === null ? '-' : group(b.group)}`;
      if (text === runText && id === runEnd + 1) {
        runEnd = id;
        continue;
      }
      if (runStart >= 0) out += `${runStart - base}+${runEnd - runStart}:${runText};`;
      runText = text;
      runStart = runEnd = id;
    }
    if (runStart >= 0) out += `${runStart - base}+${runEnd - runStart}:${runText};`;
    return out;
  }

  private device(d: DaxDevice, sl: Slot): number {
    let id = this.deviceId.get(d);
    if (id === undefined) {
      const local = d.name.slice(d.name.indexOf('.'));
      const ranges = d.ranges.map((r) => `${hex(r.start - sl.start)}-${hex(r.end - sl.start)}`).join(',');
      const kp = d.kmem?.persist;
      // The kmem-persist series' instance: its type, what it holds and its disk (the index and data are memory words).
      const persist = kp === undefined ? '' : `/P${kp.type ?? '-'}:${kp.held.toString()}:${kp.blk === null ? '-' : `${kp.blk.n},${kp.blk.e},${kp.blk.disk ? 1 : 0}`}`;
      const kmem = d.kmem === null ? '-' : `${d.kmem.res.map((r) => (r === null ? '_' : `${hex(r.start - sl.start)}-${hex(r.end - sl.start)}`)).join(',')}/${d.kmem.mgid === null ? '-' : 'G'}${persist}`;
      // What device_dax's probe mapped, and the cdev's references (program events open and close it; without
      // them both follow from the phase). The cdev generation is left out: only files compare with it (mmText).
      const mapped = d.mapped === null ? '-' : d.mapped.map((r: DaxRange) => `${hex(r.start - sl.start)}-${hex(r.end - sl.start)}`).join(',');
      id = this.intern(`${local}:${d.phase}:${d.driver ?? '-'}:${ranges}:${hex(d.align)}:${d.targetNode === sl.node ? 'N' : d.targetNode}:${d.memmapOnMemory ? 1 : 0}:${d.pgmap ? 1 : 0}:${kmem}:${mapped}:${d.cdevRefs}`);
      this.deviceId.set(d, id);
    }
    return id;
  }

  /** Slot `i`'s part of the fingerprint of `s`, in the slot's own coordinates. */
  slotKey(s: KernelState, i: number): string {
    const sl = this.layout.slots[i] as Slot;
    let out = '';
    // The region's resources: the top-level ones inside its range, relative to its start.
    for (const r of s.iomem.children) if (r.start >= sl.start && r.end <= sl.end) out += `${this.resource(r, sl.start, sl.regionId)},`;
    out += '/';
    // Its devices, their groups and their entries in the drivers' id lists (membership only: dax_match_id).
    const owned = new Map<number, string>();
    for (const d of s.devices) {
      if (d.regionId !== sl.regionId) continue;
      out += `${this.device(d, sl)}`;
      const mgid = d.kmem?.mgid;
      if (mgid !== undefined && mgid !== null) {
        const g = s.groups.get(mgid);
        owned.set(mgid, `G${d.name.slice(d.name.indexOf('.'))}`);
        out += g === undefined ? ':nogroup' : `:${g.nid === sl.node ? 'N' : g.nid},${g.maxPages}`;
      }
      for (const drv of ['device_dax', 'kmem'] as const) if (s.driverIds[drv].includes(d.name)) out += `:id-${drv}`;
      out += ';';
    }
    out += '/';
    out += this.blocks(s, sl.firstBlock, sl.lastBlock, sl.firstBlock, sl.node, (g) => owned.get(g) ?? `g${g}`, (id) => this.slotOfBlock(id) !== i);
    out += '/';
    if (sl.node !== null) {
      const pfn0 = Number(sl.start / 4096n);
      for (let z = 0; z < 4; z++) {
        const span = s.zoneSpans.get(sl.node * 4 + z);
        if (span !== undefined) out += `${z}:${span.startPfn - pfn0}-${span.endPfn - pfn0};`;
      }
    }
    return out;
  }

  private globalText(s: KernelState): string {
    let out = `${s.autoOnline}|${s.thp}|${s.anyHotremoveFailed ? 1 : 0}|${s.presentPages}|${s.managedPages}|`;
    for (const f of s.faults) out += `${f.site}:${f.errno}:${f.skip};`;
    out += '/';
    for (const r of s.iomem.children) if (this.slotOfRange(r.start, r.end) < 0) out += `${this.resource(r, 0n, null)},`;
    out += '/';
    // Groups no device holds (none in a sound state; kept so the fingerprint never hides one), in id order.
    const held = new Set<number>();
    for (const d of s.devices) if (d.kmem !== null && d.kmem.mgid !== null) held.add(d.kmem.mgid);
    const loose = new Map<number, string>();
    for (const [id, g] of [...s.groups].sort((a, b) => a[0] - b[0])) {
      if (held.has(id)) continue;
      loose.set(id, `L${loose.size}`);
      out += `${g.nid},${g.maxPages};`;
    }
    out += '/';
    const names = new Set(s.devices.map((d) => d.name));
    for (const drv of ['device_dax', 'kmem'] as const) out += `${s.driverIds[drv].filter((n) => !names.has(n)).sort().join(',')};`;
    out += '/';
    const slotNodes = new Set<number>();
    for (const sl of this.layout.slots) if (sl.node !== null) slotNodes.add(sl.node);
    for (const [k, span] of [...s.zoneSpans].sort((a, b) => a[0] - b[0])) if (!slotNodes.has(k >> 2)) out += `${k}:${span.startPfn}-${span.endPfn};`;
    out += '/';
    const groupName = (g: number): string => loose.get(g) ?? `g${g}`;
    out += this.blocks(s, 0, Number.MAX_SAFE_INTEGER, 0, null, groupName, (id) => this.slotOfBlock(id) >= 0);
    return out;
  }
}
