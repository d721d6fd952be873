/**
 * /proc/PID/maps and /proc/PID/smaps for the modelled processes (fs/proc/
 * task_mmu.c v6.1 show_map_vma, show_smap, show_smap_vma_flags), for the
 * vmas the model has: device-dax file mappings and private anonymous ones. Addresses, device numbers
 * and inodes are the model's; src/replay/compare.ts compares a recorded
 * smaps by the fields that mean something across machines.
 * Rss counts what smaps_pmd_entry counts: PMD-mapped devmap units; devmap
 * PTEs (vm_normal_page is NULL for them) and PUD entries (no PUD walker)
 * add nothing, as observed on 6.1 (KERNEL-FACTS-DEVDAX §1.6).
 */
import { fopsOf } from '../kernel/fs/chrdev.js';
import { Op } from '../kernel/op.js';
import type { OpenFile, Process, Vma } from '../kernel/mm/types.js';
import type { KernelState } from '../kernel/state.js';
import { rssPages } from '../kernel/mm/anonFolio.js';

function kb(bytes: bigint): string {
  return `${(bytes / 1024n).toString().padStart(8)} kB`;
}

/** show_smap_vma_flags: the mnemonics of the set bits, in bit order (VM_READ ... VM_NOHUGEPAGE), each followed by a space. */
export function vmFlagsLine(v: Vma): string {
  const f = v.flags;
  // Appended one by one (a smaps read prints this for every vma of the process).
  let out = 'VmFlags: ';
  if (v.prot !== 'none') out += 'rd ';
  if (v.prot === 'rw') out += 'wr ';
  if (f.exec) out += 'ex ';
  if (f.mayshare && f.maywrite) out += 'sh ';
  out += 'mr ';
  if (f.maywrite) out += 'mw ';
  if (f.mayexec) out += 'me ';
  if (f.mayshare) out += 'ms ';
  if (f.growsdown) out += 'gd ';
  if (f.pfnmap) out += 'pf ';
  if (f.io) out += 'io ';
  if (f.dontcopy) out += 'dc ';
  if (f.dontexpand) out += 'de ';
  if (f.account) out += 'ac ';
  if (f.sync) out += 'sf ';
  if (f.dontdump) out += 'dd ';
  if (f.softdirty) out += 'sd ';
  if (f.hugepage) out += 'hg ';
  if (f.nohugepage) out += 'nh ';
  return out;
}

/** show_map_vma's line: `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu `, then the name padded to column 73. */
function mapLine(s: KernelState, v: Vma): string {
  const file = v.file === null ? undefined : s.mm.files.get(v.file);
  const perms = `${v.prot !== 'none' ? 'r' : '-'}${v.prot === 'rw' ? 'w' : '-'}${v.flags.exec ? 'x' : '-'}${v.flags.mayshare ? 's' : 'p'}`;
  // show_map_vma: an anonymous vma (and a special mapping) prints offset 0 and device 00:00, inode 0; /bin/ddx is
  // inode 7 of the guest's root filesystem (device 00:02).
  const where = v.name === '/bin/ddx' ? `${hex8(v.pgoff << 12n)} 00:02 7` : v.file === null ? `00000000 00:00 0` : `${hex8(v.pgoff << 12n)} 00:05 0`;
  const head = `${hex8(v.start)}-${hex8(v.end)} ${perms} ${where}`;
  return `${head.padEnd(73)}${file?.path ?? v.name ?? ''}`;
}

function hex8(a: bigint): string {
  return a.toString(16).padStart(8, '0');
}

/**
 * smaps_pmd_entry counts a PMD through its page: a special (map=none) entry
 * has none, and from v6.6 (vm_normal_page_pmd; the profile switch
 * smapsRssCountsDevmapPmd) neither has a devmap one.
 */
function rss(s: KernelState, v: Vma): bigint {
  if (v.file === null) return anonRss(v).rss;
  return fileRss(s, v);
}

function fileRss(s: KernelState, v: Vma): bigint {
  return v.flags.pfnmap || !s.profile.smapsRssCountsDevmapPmd ? 0n : BigInt(v.ptes.pmdCount) * (2n << 20n);
}

/**
 * smaps_pte_entry / smaps_pmd_entry for an anonymous vma: each anon page
 * counts (Rss, Anonymous), a PMD-mapped THP also in AnonHugePages; the zero
 * pages count nothing (vm_normal_page is NULL; FOLL_DUMP refuses the huge
 * zero page). The vma's KernelPageSize stays 4 kB with THPs.
 */
export function anonRss(v: Vma): { readonly rss: bigint; readonly huge: bigint } {
  // Exec's vmas and untouched mappings: nothing to walk.
  if (v.ptes.size === 0) return NO_RSS;
  let pages = 0;
  let huge = 0;
  for (const [, pte] of v.ptes.entries()) {
    const n = rssPages(pte);
    pages += n;
    if (pte.level === 'pmd') huge += n;
  }
  return { rss: BigInt(pages) * 4096n, huge: BigInt(huge) * 4096n };
}

const NO_RSS = { rss: 0n, huge: 0n } as const;

export function renderMaps(s: KernelState, p: Process): string {
  return p.vmas.map((v) => `${mapLine(s, v)}\n`).join('');
}

/**
 * A vma's smaps block as last rendered, with what it was rendered from
 * besides the vma itself: its file, the page size and the profile. A vma is
 * a new object whenever its bounds, flags or entries change, so a block is
 * rendered again only when one of those moved (a program reading smaps
 * between faults re-renders the one vma that faulted, not exec's eight).
 */
interface SmapsBlock {
  readonly file: OpenFile | undefined;
  readonly page: bigint;
  readonly profile: KernelState['profile'];
  readonly text: string;
}
const BLOCKS = new WeakMap<Vma, SmapsBlock>();

function smapsBlock(s: KernelState, op: Op, v: Vma): string {
  const file = v.file === null ? undefined : s.mm.files.get(v.file);
  const page = file === undefined ? 4096n : fopsOf(file).vmOps.pagesize(op, file);
  const have = BLOCKS.get(v);
  // The file's path is all of it a block prints: the same file object (or another with the same path) prints the same.
  if (have !== undefined && have.page === page && have.profile === s.profile && (have.file === file || have.file?.path === file?.path)) return have.text;
  // One walk of an anonymous vma's entries for Rss and AnonHugePages.
  const anon = v.file === null ? anonRss(v) : null;
  const r = anon === null ? fileRss(s, v) : anon.rss;
  let out = `${mapLine(s, v)}\n`;
  out += `Size:           ${kb(v.end - v.start)}\n`;
  out += `KernelPageSize: ${kb(page)}\n`;
  out += `MMUPageSize:    ${kb(page)}\n`;
  out += `Rss:            ${kb(r)}\n`;
  if (anon !== null) {
    // Printed for every vma by the kernel; the model prints them where they can be non-zero.
    out += `Anonymous:      ${kb(r)}\n`;
    out += `AnonHugePages:  ${kb(anon.huge)}\n`;
  }
  out += `${vmFlagsLine(v)}\n`;
  BLOCKS.set(v, { file, page, profile: s.profile, text: out });
  return out;
}

export function renderSmaps(s: KernelState, p: Process): string {
  const op = new Op(s);
  let out = '';
  for (const v of p.vmas) out += smapsBlock(s, op, v);
  return out;
}

/** Every process's mappings with their page size: the `maps` view of `memhp replay --show`. */
export function renderProcessMaps(s: KernelState): string {
  const op = new Op(s);
  let out = '';
  for (const pid of [...s.mm.procs.keys()].sort()) {
    const p = s.mm.procs.get(pid);
    if (p === undefined) continue;
    out += `${pid}: ${p.fds.size} open file${p.fds.size === 1 ? '' : 's'}, ${p.vmas.length} mapping${p.vmas.length === 1 ? '' : 's'}\n`;
    for (const v of p.vmas) {
      const file = v.file === null ? undefined : s.mm.files.get(v.file);
      const page = file === undefined ? 4096n : fopsOf(file).vmOps.pagesize(op, file);
      out += `  ${mapLine(s, v).replace(/ +/g, ' ')}  KernelPageSize=${page / 1024n}kB MMUPageSize=${page / 1024n}kB Rss=${rss(s, v) / 1024n}kB entries=${v.ptes.size}\n`;
    }
  }
  return out === '' ? 'no processes\n' : out;
}
