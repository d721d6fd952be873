/**
 * Findings (SPEC §11): violations found in the model of a real kernel as it
 * is, deduplicated by a signature — the invariant plus the kernel function
 * that broke it, like a crash title. This is the project's list of known
 * findings: a fuzz run reports a known one without failing on it (`memhp
 * fuzz --known FILE` replaces the list, `--known none` empties it), and the
 * README's "Findings" section is generated from it (test/properties/findings.test.ts
 * keeps the two equal). Each names the patch series that removes it.
 */
import type { Violation } from '../src/replay/engine.js';
import type { PatchName } from '../src/kernel/patches.js';
import type { KernelVersion } from '../src/kernel/profile.js';

export interface KnownFinding {
  readonly id: string;
  readonly title: string;
  /** `invariant@function` of every violation the finding shows up as. */
  readonly signatures: readonly string[];
  /** Where it was confirmed on a real kernel, or that it was not. */
  readonly status: string;
  /** Whether the current sources still have it. */
  readonly current: string;
  /** What removes it: a patch series of SPEC §11, or the upstream commit (a later profile has it). */
  readonly fix: { readonly patch: PatchName } | { readonly upstream: string };
  /** The profiles whose kernel has it (all when absent): in others the same signature is news. */
  readonly kernels?: readonly KernelVersion[];
  /** A finding of a proposed series (SPEC §11): it exists only with these series applied (`fuzz --patches`). */
  readonly patches?: readonly PatchName[];
  /**
   * The preset whose machine shows it when the default campaign's machines cannot (they do not build test_hmm):
   * `memhp explore --preset` meets it there (test/properties/checker.test.ts).
   */
  readonly preset?: string;
}

export const KNOWN_FINDINGS: readonly KnownFinding[] = [
  {
    id: 'B1',
    title: 'dev_dax_probe re-initialises the cdev of files still open: an open while unbound succeeds with a NULL dev_dax (mmap oopses in check_vma), and closing a file of an earlier bind makes every open fail with ENXIO',
    signatures: ['dax-cdev@chrdev_open', 'dax-cdev@cdev_put', 'no-oops@check_vma'],
    status: 'confirmed on Debian 6.1.192 under QEMU (KERNEL-FACTS-DEVDAX §5.2) and on Debian 6.12.118 (test/traces-6.12/hmem/oops-b1-open-unbound, map-b1-*: the same oops in check_vma, the same ENXIO after a stale close)',
    current: 'still there: dev_dax_probe calls cdev_init on every bind in current drivers/dax/device.c',
    fix: { patch: 'dax-cdev-init-once' },
  },
  {
    id: 'B2',
    title: 'mapping_store lacks the bound check of size_store/align_store: a bound device gains a range its probe never reserved or covered with struct pages, and a fault there oopses in dax_set_mapping',
    signatures: ['dax-config-while-bound@mapping_store', 'no-oops@dax_set_mapping'],
    status: 'confirmed on Debian 6.1.192 under QEMU (KERNEL-FACTS-DEVDAX §5.2) and on Debian 6.12.118 (test/traces-6.12/hmem/oops-b2-mapping-bound: the write accepted, the oops in dax_set_mapping)',
    current: 'still there: current mapping_store takes dax_region_rwsem but never checks dev->driver',
    fix: { patch: 'dax-mapping-store-checks-bound' },
  },
  {
    id: 'B3',
    title: 'check_vma ignores vm_pgoff: MAP_FIXED at an aligned address with an unaligned file offset inserts a huge entry with an unaligned pfn, mapping the wrong memory',
    // The same unchecked offset moves with mremap: dax_get_unmapped_area places the grown vma congruent to it, off the align.
    // KVM and VFIO (follow_pfn) are handed the same wrong page the MMU maps.
    signatures: ['dax-translation@__dev_dax_pmd_fault', 'dax-translation@__dev_dax_pud_fault', 'dax-vma-shape@dax_get_unmapped_area', 'dax-pfn-user@hva_to_pfn', 'dax-pfn-user@vaddr_get_pfns'],
    status: 'confirmed on Debian 6.1.192 under QEMU, align 2M (KERNEL-FACTS-DEVDAX §5.2), and on Debian 6.12.118 (test/traces-6.12/hmem/map-fixed-b3: offsets 4K and 8K read device offset 0); the mremap consequence was found by the model and then recorded on both kernels (test/traces*/hmem/map-b3-mremap: the grown vma moved 4K past a 2M boundary, every fault SIGBUS with "fail, unaligned vma"); the wrong page handed to KVM/VFIO is model-only (no VM or IOMMU here)',
    current: 'still there in check_vma; current kernels insert the folio holding the pfn, still the wrong data [derived]',
    fix: { patch: 'dax-check-vma-pgoff' },
  },
  {
    id: 'H1',
    title: 'mremap moves part of a device-dax vma without asking may_split; the unmap of the old part then fails and is ignored, leaving a moved vma off the device\'s alignment (every fault in it SIGBUSes)',
    signatures: ['dax-vma-shape@move_vma'],
    status: 'historical: the 5.1 profile; ndctl\'s device-dax test skips partial mremap before 5.11 for this reason',
    current: 'fixed in v5.11 by 73d5e0629919 "mremap: check if it\'s possible to split original vma"',
    fix: { upstream: 'v5.11 73d5e0629919 (profiles 6.1 and later)' },
    kernels: ['5.1'],
  },
  {
    id: 'H2',
    title: "test_hmm's device page table stores a device-private page itself when hmm_range_fault reports one of its own device (dmirror_do_fault, hmm_pfn_to_page), and READ/WRITE then kmap it: a page with no direct mapping, so the kernel oopses. Reached whenever the table lost a migrated page's entry (a fork, mprotect or other invalidation) or a second file of the device reads it",
    signatures: ['no-oops@dmirror_do_read', 'no-oops@dmirror_do_write'],
    status: 'confirmed on 6.1.192 rebuilt with DEVICE_PRIVATE and TEST_HMM under QEMU: test/traces-custom/hmm/findings/oops-dmirror-kmap-device-private.jsonl (a second file of dmirror0 READs what the first migrated: "BUG: unable to handle page fault for address: ff1100fcfffff000", the direct-map address of the device pfn), and oops-dmirror-kmap-after-fork.jsonl (one file: MIGRATE_TO_DEV, fork, READ, the same oops), which memhp explore --preset hmm-device found first',
    current: 'still there in a recent lib/test_hmm.c (the version with page_pgmap(), v6.15 or later): dmirror_do_fault stores hmm_pfn_to_page() and dmirror_do_read memcpy_from_page()s it [read in the source index; the exact version not checked]. A test driver, but hmm-tests exercise it and a driver copying it inherits the bug',
    fix: { patch: 'dmirror-fault-backing-page' },
    preset: 'hmm-device',
  },
  {
    id: 'H3',
    title: "test_hmm's notifier ignores a migration of its own device in every file of the device, but only the migrating file erases its entries of the pages: another file's device page table keeps the backing pages, which the migration frees, and its READ copies freed memory without faulting (a use-after-free)",
    signatures: ['hmm-mirror-coherent@dmirror_interval_invalidate'],
    status: 'confirmed on 6.1.192 rebuilt with DEVICE_PRIVATE and TEST_HMM under QEMU: test/traces-custom/hmm/findings/stale-dmirror-two-files.jsonl (the first file\'s READ after the second file\'s MIGRATE_TO_SYS answered faults=0; in the unabridged run its buffer held the old value, not the CPU\'s newer write, in both pages); found by memhp explore --preset hmm-device',
    current: 'still there in a recent lib/test_hmm.c (dmirror_interval_invalidate compares range->owner with dmirror->mdevice) [read in the source index; the exact version not checked]',
    fix: { patch: 'dmirror-invalidate-other-files' },
    preset: 'hmm-device',
  },
  {
    id: 'P1',
    title: 'kmem-persist: a failed persistence probe (an unformatted device with the default persist_format_type -1, a type no module registered, a BLK superblock that does not fit) is only printed: the device stays bound with every page allocated and owned by nobody (MemTotal grows by the device, MemFree by nothing), a failed type probe leaks the type\'s reference, and the unbind dereferences the NULL ops',
    signatures: ['persist-page-partition@dev_dax_kmem_probe', 'persist-type-refcount@kmem_persist_probe', 'no-oops@kmem_persist_cleanup'],
    status: 'the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.3); reproduced on the RFC as reconstructed from KERNEL-FACTS-PERSIST §1 (the text of the posting is not on this machine) on 6.1.192 under QEMU (harness/transcripts/kmem-persist, observations 3-5 and 29-30: every page held, MemFree of node 1 0 kB, then the unbind oops "BUG: kernel NULL pointer dereference" in dev_dax_kmem_remove)',
    current: 'the series as posted (2022-08-02, RFC 2/4)',
    fix: { patch: 'kmem-persist-fix-probe-errors' },
    patches: ['kmem-persist'],
  },
  {
    id: 'P2',
    title: 'kmem-persist: kmem_blk_free_unused builds its bitmap with `1 << (page % 64)` on an int; on x86-64 pages alias in pairs {k, k+32} of each 64-page word, so at every probe an unmapped partner of a mapped page stays allocated and unowned (a leak that grows with the data, never freed, not even at unbind)',
    signatures: ['persist-page-partition@kmem_blk_free_unused'],
    status: 'the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.1: the x86-64 semantics of the shift reproduced with gcc 12); reproduced on the RFC as reconstructed from KERNEL-FACTS-PERSIST §1 (the text of the posting is not on this machine) on 6.1.192 under QEMU (observation 17: after the reboot the mapped pool pages and exactly each one\'s partner +32 stayed allocated, 518 held where 515 are owned; test/traces-custom/kmem-persist/blk-reboot)',
    current: 'the series as posted (RFC 4/4)',
    fix: { patch: 'kmem-persist-fix-shift' },
    patches: ['kmem-persist'],
  },
  {
    id: 'P3',
    title: 'kmem-persist, where a 32-bit shift by 32..63 gives 0 (patch kmem-persist-zero-shift): kmem_blk_free_unused frees mapped pages at probe; a later write takes such a page for another block and the first block\'s data is gone',
    signatures: ['persist-never-free-live-data@kmem_blk_free_unused', 'persist-read-your-writes@kmem_blk_submit_bio', 'persist-index-wellformed@kmem_blk_insert_page'],
    status: 'model only: the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.1; which architectures shift so is unconfirmed)',
    current: 'the series as posted (RFC 4/4)',
    fix: { patch: 'kmem-persist-fix-shift' },
    patches: ['kmem-persist', 'kmem-persist-zero-shift'],
  },
  {
    id: 'P4',
    title: 'kmem-persist: unbinding kmem frees the superblock, index and data pages into memory that stays online (remove_memory then fails with EBUSY): the on-media index names pages the system may now overwrite',
    signatures: ['persist-never-free-live-data@kmem_blk_cleanup'],
    status: 'the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.7); reproduced on the RFC as reconstructed from KERNEL-FACTS-PERSIST §1 (the text of the posting is not on this machine) on 6.1.192 under QEMU (observations 19-20: "cannot be hotremoved until the next reboot", the pages freed, the superblock and index still on the media)',
    current: 'the series as posted (RFC 2/4 dev_dax_kmem_remove, 4/4 kmem_blk_cleanup)',
    fix: { patch: 'kmem-persist-fix-unbind' },
    patches: ['kmem-persist'],
  },
  {
    id: 'P5',
    title: 'kmem-persist: memory onlined movable (auto_online_blocks online_movable, movable_node) cannot serve dax_kmem_alloc_page\'s GFP_NOIO allocation: every write to a new block fails with EIO while the disk has free pages, and a block holding allocated pages cannot be offlined (EINTR after looping)',
    signatures: ['persist-write-allocation@dax_kmem_alloc_page'],
    status: 'the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.6); reproduced on the RFC as reconstructed from KERNEL-FACTS-PERSIST §1 (the text of the posting is not on this machine) on 6.1.192 under QEMU (observation 23: blocks online Movable, every write EIO after "page allocation failure ... GFP_NOIO|__GFP_ZERO|__GFP_THISNODE")',
    current: 'the series as posted (RFC 1/4 onlining, 2/4 dax_kmem_alloc_page)',
    fix: { patch: 'kmem-persist-fix-movable' },
    patches: ['kmem-persist'],
  },
  {
    id: 'P6',
    title: 'kmem-persist: a device with a range kmem did not add (too small after alignment, or its add failed) has a NULL data->res[i]; dax_kmem_index_to_page walks into it when the persistence probe reads page 0 or an index page, and the bind oopses',
    signatures: ['no-oops@dax_kmem_index_to_page'],
    status: 'model only: the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.3, multi-range devices); found by the model\'s fuzzer',
    current: 'the series as posted (RFC 2/4)',
    fix: { patch: 'kmem-persist-fix-ranges' },
    patches: ['kmem-persist'],
  },
  {
    id: 'P7',
    title: 'kmem-persist: the node check counts only online memory, so when a persistent device\'s blocks failed to online during its add, a second device is accepted on the same node and the first one\'s node is no longer its own (its GFP_THISNODE allocations can get the other device\'s pages: EIO)',
    signatures: ['persist-node-exclusive@dev_dax_kmem_probe'],
    status: 'model only: the RFC was never merged; modelled as posted (KERNEL-FACTS-PERSIST §3.6, the check enforced only at probe); found by the model\'s fuzzer',
    current: 'the series as posted (RFC 2/4)',
    fix: { patch: 'kmem-persist-fix-node-check' },
    patches: ['kmem-persist'],
  },
];

export function signatureOf(v: Violation): string {
  return `${v.invariant}@${v.fn ?? v.invariant}`;
}

/**
 * The known set: a signature, or `signature#kernel` for a finding only some
 * profiles have (a variant re-creating the same bug on another profile is news).
 */
export const KNOWN_SIGNATURES: ReadonlySet<string> = new Set(KNOWN_FINDINGS.flatMap((f) => (f.kernels === undefined ? f.signatures : f.signatures.flatMap((s) => (f.kernels ?? []).map((k) => `${s}#${k}`)))));

/** Whether a violation on a machine of profile `kernel` is a known finding. */
export function isKnown(known: ReadonlySet<string>, v: Violation, kernel: KernelVersion): boolean {
  const sig = signatureOf(v);
  return known.has(sig) || known.has(`${sig}#${kernel}`);
}

/** The finding a signature belongs to. */
export function findingOf(signature: string, list: readonly KnownFinding[] = KNOWN_FINDINGS): KnownFinding | undefined {
  return list.find((f) => f.signatures.includes(signature));
}

/** The README's "Findings" section, from the list. */
export function renderFindings(list: readonly KnownFinding[] = KNOWN_FINDINGS): string {
  const rows = list.map((f) => `| ${f.id} | ${f.title} | ${f.signatures.map((s) => `\`${s}\``).join(', ')} | ${f.status}; ${f.current} | ${'patch' in f.fix ? `\`${f.fix.patch}\`` : f.fix.upstream} |`);
  return ['| id | finding | signatures | status | fix (a boot.patches series, or upstream) |', '|---|---|---|---|---|', ...rows].join('\n');
}
