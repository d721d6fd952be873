/**
 * Migration to device-private memory and back (src/kernel/mm/migrateDevice.ts,
 * src/kernel/hmm/dmirrorMigrate.ts, devicePages.ts) against the logs
 * recorded on the custom 6.1.192 kernel, the kernel paths those logs take,
 * the finding they showed, and the device-page invariants failing on bad
 * states.
 */
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { checkAll } from '../../properties/sequence.js';
import { replay } from '../../src/replay/engine.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { StepEvent } from '../../src/log/events.js';
import type { VariantName } from '../../src/kernel/profile.js';
import type { Process, Pte, Vma } from '../../src/kernel/mm/types.js';
import { stepOf } from '../helpers/steps.js';
import { hmmLogEvents, replayHmmLog, violationsOf } from '../helpers/hmmLogs.js';

const load = replayHmmLog;
const violations = violationsOf;

const migrate = load('dmirror-migrate.jsonl');
const branchesAt = (seq: number): readonly string[] => migrate.steps.find((s) => s.seq === seq)?.branches ?? [];

describe('migration on the recorded logs', () => {
  it('dmirror-migrate: holes and written pages move to the device, come back on a touch, a fork makes both sides read-only, close evicts', () => {
    expect(migrate.divergences).toEqual([]);
    expect(migrate.violations).toEqual([]);
    // seq 9: 8 pages, 2 written (system pages, exclusive), one read (the zero page), 5 holes.
    expect(branchesAt(9)).toContain('migrate_vma_collect_pmd:system-page-exclusive');
    expect(branchesAt(9)).toContain('migrate_vma_collect_pmd:zero-page');
    expect(branchesAt(9)).toContain('migrate_vma_collect_pmd:pte_none');
    // seq 18: a CPU read of a device page: do_swap_page → dmirror_devmem_fault, the page freed back to the stack.
    expect(branchesAt(18)).toEqual(expect.arrayContaining(['do_swap_page:device-private', 'dmirror_devmem_free:free-list']));
    // seq 22: the other device faults pages of device 0 back (hmm_range_fault, non-owner).
    expect(branchesAt(22)).toContain('hmm_vma_handle_pte:device-private-fault');
    // seq 25: fork, copy_nonpresent_pte on writable device entries.
    expect(branchesAt(25)).toContain('copy_nonpresent_pte:device-private-write');
    // seq 33: MIGRATE_TO_SYS moves the child's mappings too (try_to_migrate).
    expect(branchesAt(33)).toContain('try_to_migrate_one:other-mapping');
    // seq 50: close evicts the device's pages.
    expect(branchesAt(50)).toContain('dmirror_device_evict_chunk:release');
    expect(migrate.final.hmm.pages.size).toBe(0);
  });

  it('dmirror-migrate-shared-parent/-child: try_to_migrate visits the migrating parent\'s own vma (its CLEAR costs it the next page: ENOENT), not the child\'s', () => {
    const parent = load('dmirror-migrate-shared-parent.jsonl');
    const child = load('dmirror-migrate-shared-child.jsonl');
    expect([parent.divergences, child.divergences, parent.violations, child.violations]).toEqual([[], [], [], []]);
    expect(parent.steps.at(-1)?.outcome).toEqual({ ok: false, errno: 'ENOENT' });
    expect(parent.steps.flatMap((s) => s.branches)).toContain('try_to_migrate_one:own-vma');
    expect(child.steps.flatMap((s) => s.branches)).not.toContain('try_to_migrate_one:own-vma');
  });

  it('fuzz-1220-3: the model places the two 4 KiB mappings side by side as the kernel did (they used to be put at the recorded address), so MADV_DONTNEED of the lower one erases the upper one\'s device entry and the last MIGRATE_TO_DEV agrees', () => {
    expect(load('fuzz-1220-3.jsonl').divergences).toEqual([]);
    const events = hmmLogEvents('fuzz-1220-3.jsonl');
    // Without the recorded results, the model's own addresses are the kernel's.
    const unrecorded = events.map((e) => (e.type === 'mmap' ? { ...e, result: undefined } : e));
    const r = replay(unrecorded, { keepSteps: true });
    expect(r.divergences).toEqual([]);
    const recorded = events.flatMap((e) => (e.type === 'mmap' && e.result?.ok === true ? [e.result.value] : []));
    expect(r.steps.flatMap((s) => (s.event.type === 'mmap' && s.outcome.ok ? [s.outcome.value] : []))).toEqual(recorded);
  });

  it('dmirror-migrate-thp: collect splits the THP and the huge zero PMD', () => {
    const r = load('dmirror-migrate-thp.jsonl');
    expect(r.divergences).toEqual([]);
    const all = r.steps.flatMap((s) => s.branches);
    expect(all).toEqual(expect.arrayContaining(['migrate_vma_collect_pmd:split_huge_page', 'migrate_vma_collect_pmd:split-huge-zero-pmd']));
  });

  it('dmirror-migrate-edges: WRITE over its own read-only device entries is EFAULT (dmirror_do_fault WARN), RELEASE evicts and a new chunk follows', () => {
    const r = load('dmirror-migrate-edges.jsonl');
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
    const all = r.steps.flatMap((s) => s.branches);
    expect(all).toEqual(expect.arrayContaining(['dmirror_do_fault:EFAULT(read-only-device-page)', 'dmirror_device_evict_chunk:remove', 'dmirror_devmem_free:chunk-removed', 'dmirror_devmem_alloc_page:new-chunk', 'zap_pte_range:device-private']));
  });

  it.each(['oops-dmirror-kmap-device-private.jsonl', 'oops-dmirror-kmap-after-fork.jsonl', 'oops-dmirror-kmap-after-split.jsonl'])('finding H2 (%s): READ of pages its device table lost kmaps the device page, and the kernel oopses in dmirror_do_read, as the model does', (name) => {
    const r = load(`findings/${name}`);
    expect(r.divergences).toEqual([]);
    expect(r.steps.at(-1)?.outcome).toMatchObject({ ok: false, oops: expect.stringMatching(/^BUG: unable to handle page fault for address: /) });
    expect(r.violations.map((v) => v.invariant)).toEqual(['no-oops']);
    const last = r.steps.at(-1)?.event;
    const fn = last?.type === 'ioctl' && last.cmd === 'HMM_DMIRROR_WRITE' ? 'dmirror_do_write' : 'dmirror_do_read';
    expect(r.steps.at(-1)?.branches).toEqual(expect.arrayContaining([`${fn}:kmap-device-private`, `oops:${fn}`]));
  });

  it('finding H3: a second file of the device keeps the freed backing pages after the first migrates back; its READ faults nothing', () => {
    const r = load('findings/stale-dmirror-two-files.jsonl');
    expect(r.divergences).toEqual([]);
    // The stale entries at seq 8, and their data symptom at the READ (seq 11): the buffer gets the freed pages'
    // contents, not what the CPU wrote (0x3333 at seq 9, 0x2222 before the migration).
    expect([...new Set(r.violations.map((v) => `${v.invariant}@${r.steps[v.index]?.seq}`))]).toEqual(['hmm-mirror-coherent@8', 'anon-data-preserved@11']);
    expect(r.violations.filter((v) => v.invariant === 'anon-data-preserved').map((v) => [v.message.replace(/ at 0x\w+ \(.*\)/, ''), v.fn])).toEqual([
      ['p1 reads 0x0, but the last value written there was 0x3333', 'dmirror_do_read'],
      ['p1 reads 0x0, but the last value written there was 0x2222', 'dmirror_do_read'],
    ]);
    const read = r.steps.find((s) => s.event.type === 'ioctl' && s.event.cmd === 'HMM_DMIRROR_READ');
    expect(read?.outcome).toMatchObject({ ok: true, out: { cpages: 2, faults: 0 } });
  });

  it('the dmirror-invalidate-other-files fix: the other file forgets the pages, and its READ faults them in from the CPU', () => {
    const events = hmmLogEvents('findings/stale-dmirror-two-files.jsonl');
    const b = events[0];
    if (b?.type !== 'boot') throw new Error('no boot');
    const load: StepEvent = { type: 'access', pid: 'p1', map: 'm2', offset: 0n, op: 'read', value: null };
    // Up to the READ, then a load of its buffer.
    const upToRead = events.slice(1, events.findIndex((e) => e.type === 'ioctl' && e.cmd === 'HMM_DMIRROR_READ') + 1);
    const fixed = [{ ...b, patches: ['dmirror-invalidate-other-files' as const] }, ...upToRead.map((e) => ({ ...e, result: undefined })), load];
    const r = replay(fixed, { check: checkAll(makeChecker()) });
    expect(r.violations).toEqual([]);
    const read = r.steps.find((s) => s.event.type === 'ioctl' && s.event.cmd === 'HMM_DMIRROR_READ');
    expect(read?.outcome).toMatchObject({ ok: true, out: { cpages: 2, faults: 1 } });
    // The buffer holds what the CPU wrote after the migration back (0x3333), not the freed page's 0x1111.
    expect(r.steps.at(-1)?.outcome).toMatchObject({ ok: true, value: '0x3333' });
  });

  it('the dmirror-fault-backing-page fix: the same READ copies the backing pages (the data the CPU wrote) and nothing oopses', () => {
    for (const name of ['oops-dmirror-kmap-device-private.jsonl', 'oops-dmirror-kmap-after-fork.jsonl']) {
      const events = hmmLogEvents(`findings/${name}`);
      const b = events[0];
      if (b?.type !== 'boot') throw new Error('no boot');
      // The fixed kernel was not recorded: the events without their recorded outcomes.
      // The fixed kernel was not recorded (the recordings stop at the oops): the events without their outcomes,
      // then a load of the READ's buffer.
      const load: StepEvent = { type: 'access', pid: 'p1', map: 'm2', offset: 0n, op: 'read', value: null };
      const fixed = [{ ...b, patches: ['dmirror-fault-backing-page' as const] }, ...events.slice(1).map((e) => ({ ...e, result: undefined })), load];
      const r = replay(fixed, { check: checkAll(makeChecker()) });
      expect(r.violations).toEqual([]);
      const read = r.steps.filter((s) => s.event.type === 'ioctl' && s.event.cmd === 'HMM_DMIRROR_READ').at(-1);
      expect(read?.outcome).toMatchObject({ ok: true, out: { cpages: 2 } });
      // The first page's data, written by the CPU before the migration, reached the caller's buffer through the backing page.
      expect(r.steps.at(-1)?.outcome).toMatchObject({ ok: true, value: '0x1234' });
    }
  });
});

/** The state after seq 9 of dmirror-migrate (8 device pages mapped by p1), and helpers to change one entry. */
const mid = migrate.steps.find((s) => s.seq === 9)?.after as KernelState;
const p1 = mid.mm.procs.get('p1') as Process;
const vIndex = p1.vmas.findIndex((v) => [...v.ptes.entries()].some(([, pte]) => pte.anon?.kind === 'device'));
const dv = p1.vmas[vIndex] as Vma;
const [key, devPte] = [...dv.ptes.entries()].find(([, pte]) => pte.anon?.kind === 'device') as [number, Pte];

function withEntry(s: KernelState, pte: Pte | null, vmaChange: Partial<Vma> = {}): KernelState {
  const vmas = p1.vmas.slice();
  vmas[vIndex] = { ...dv, ...vmaChange, ptes: pte === null ? dv.ptes.delete(key) : dv.ptes.set(key, pte) };
  const procs = new Map(s.mm.procs);
  procs.set('p1', { ...p1, vmas });
  return { ...s, mm: { ...s.mm, procs } };
}

describe('device-page invariants can fail', () => {
  it('hold on the recorded state', () => {
    for (const name of ['hmm-device-mapcount', 'hmm-device-entry', 'hmm-device-free']) expect(violations(name, stepOf(mid, mid))).toEqual([]);
  });

  it('hmm-device-mapcount: an entry gone without its put_page (a leak), and a device page freed under its entry', () => {
    expect(violations('hmm-device-mapcount', stepOf(mid, withEntry(mid, null))).join()).toMatch(/counts 1 mappings, page tables hold 0/);
    const pfn = Number(devPte.phys >> 12n);
    const freed: KernelState = { ...mid, hmm: { ...mid.hmm, pages: mid.hmm.pages.delete(pfn) } };
    expect(violations('hmm-device-mapcount', stepOf(mid, freed)).join()).toMatch(/which is no allocated device page/);
  });

  it('hmm-device-entry: writable in a read-only vma (mprotect keeping write), and on a page its child maps too (fork keeping write)', () => {
    const a = devPte.anon;
    if (a === undefined) throw new Error('no anon entry');
    const writable: Pte = { ...devPte, anon: { ...a, write: true, exclusive: true } };
    expect(violations('hmm-device-entry', stepOf(mid, withEntry(mid, writable, { prot: 'r' }))).join()).toMatch(/writable device-private entry in a r vma/);
    const pfn = Number(devPte.phys >> 12n);
    const page = mid.hmm.pages.get(pfn);
    if (page === undefined) throw new Error('no device page');
    const shared: KernelState = { ...withEntry(mid, writable), hmm: { ...mid.hmm, pages: mid.hmm.pages.set(pfn, { ...page, maps: 2 }) } };
    expect(violations('hmm-device-entry', stepOf(mid, shared)).join()).toMatch(/on a page mapped 2 times/);
  });

  it('hmm-device-free: an allocated page pushed on the free stack, and two device pages sharing a backing page', () => {
    const pfn = Number(devPte.phys >> 12n);
    const dev = mid.hmm.devices[0];
    if (dev === undefined) throw new Error('no device');
    const devices = [{ ...dev, free: { pfn, next: dev.free } }, ...mid.hmm.devices.slice(1)];
    expect(violations('hmm-device-free', stepOf(mid, { ...mid, hmm: { ...mid.hmm, devices } })).join()).toMatch(/is free and allocated/);
    const [first, second] = [...mid.hmm.pages.entries()];
    if (first === undefined || second === undefined) throw new Error('two device pages expected');
    const same = mid.hmm.pages.set(second[0], { ...second[1], rpage: first[1].rpage });
    expect(violations('hmm-device-free', stepOf(mid, { ...mid, hmm: { ...mid.hmm, pages: same } })).join()).toMatch(/share the backing page/);
  });
});

describe('hmm-dmirror-counters on the migrate commands can fail', () => {
  it('MIGRATE_TO_SYS must answer the device pages that left the range, MIGRATE_TO_DEV cpages = npages', () => {
    const sys = migrate.steps.find((s) => s.seq === 33);
    const dev = migrate.steps.find((s) => s.seq === 9);
    if (sys === undefined || dev === undefined) throw new Error('steps 9 and 33 expected');
    expect(violations('hmm-dmirror-counters', sys, false)).toEqual([]);
    const lied = { ...sys, outcome: { ok: true as const, out: { cpages: 3, faults: 0 } } };
    expect(violations('hmm-dmirror-counters', lied, false)).toEqual(['HMM_DMIRROR_MIGRATE_TO_SYS of 8 pages answered cpages=3, but 4 of the device\'s pages left the range']);
    const short = { ...dev, outcome: { ok: true as const, out: { cpages: 7, faults: 0 } } };
    expect(violations('hmm-dmirror-counters', short, false)).toEqual(['HMM_DMIRROR_MIGRATE_TO_DEV of 8 pages answered cpages=7']);
  });
});

describe('bug variants (KERNEL-FACTS-HMM §5.2) on the recorded dmirror-migrate log', () => {
  const events = hmmLogEvents('dmirror-migrate.jsonl');
  const withVariant = (variant: VariantName): ReturnType<typeof replay> => {
    const b = events[0];
    if (b?.type !== 'boot') throw new Error('no boot');
    return replay([{ ...b, variant }, ...events.slice(1)], { check: checkAll(makeChecker()) });
  };
  const first = (r: ReturnType<typeof replay>): string => {
    const v = r.violations[0];
    return v === undefined ? 'none' : `${v.invariant} at seq ${r.steps[v.index]?.seq}`;
  };

  it('without a variant: no violation (the baseline each variant is compared with)', () => {
    expect(migrate.violations).toEqual([]);
  });

  it('hmm-fork-keeps-write (B7): the parent keeps SWP_DEVICE_WRITE on pages its child maps, caught at the fork', () => {
    expect(first(withVariant('hmm-fork-keeps-write'))).toBe('hmm-device-entry at seq 25');
  });

  it('hmm-mprotect-keeps-write (B8): device entries stay writable in a PROT_READ vma, caught at the mprotect', () => {
    expect(first(withVariant('hmm-mprotect-keeps-write'))).toBe('hmm-device-entry at seq 40');
  });

  it('hmm-zap-skips-put (B9): munmap leaves the device pages counted, caught at the munmap', () => {
    expect(first(withVariant('hmm-zap-skips-put'))).toBe('hmm-device-mapcount at seq 49');
  });

  it('hmm-range-fault-foreign-valid (B16): the other device stores device 0 pages instead of faulting them back, caught at its READ', () => {
    const r = withVariant('hmm-range-fault-foreign-valid');
    expect(first(r)).toMatch(/^(hmm-mirror-coherent|no-oops) at seq 22$/);
    expect(r.steps.find((s) => s.seq === 22)?.branches).toContain('hmm_vma_handle_pte:device-private-owner');
  });
});
