/**
 * anon-data-preserved (properties/invariants/anonData.ts, KERNEL-FACTS-HMM
 * §5.1 item 7): it holds on every recorded HMM and anonymous-memory log, it
 * follows the data (the shadow knows what was written, and forgets what it
 * cannot follow), and it fails on a word changed behind its back and on a
 * migration that swapped its destination pages.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contextOf, invariantByName, makeChecker } from '../../properties/invariants/index.js';
import { anonShadowOf } from '../../properties/invariants/anonData.js';
import { checkAll } from '../../properties/sequence.js';
import { parseLogText } from '../../src/log/index.js';
import { replay, type ReplayResult, type Step } from '../../src/replay/engine.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { Process, Pte, Vma } from '../../src/kernel/mm/types.js';
import { stepOf } from '../helpers/steps.js';

const ONLY = ['anon-data-preserved'];

function logs(): string[] {
  const root = new URL('../', import.meta.url);
  const out: string[] = [];
  for (const f of readdirSync(new URL('traces-custom/hmm/', root))) if (f.endsWith('.jsonl')) out.push(`traces-custom/hmm/${f}`);
  for (const d of readdirSync(root)) {
    if (!d.startsWith('traces')) continue;
    let files: string[];
    try {
      files = readdirSync(new URL(`${d}/hmem/`, root));
    } catch {
      continue;
    }
    for (const f of files) if (f.startsWith('anon-') && f.endsWith('.jsonl')) out.push(`${d}/hmem/${f}`);
  }
  return out.sort();
}

function load(rel: string, paranoid = false): ReplayResult {
  const file = new URL(`../${rel}`, import.meta.url);
  const events = parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event);
  return replay(events, { check: checkAll(makeChecker({ only: ONLY, paranoid })) });
}

function check(step: Step, full: boolean): readonly string[] {
  const i = invariantByName('anon-data-preserved');
  if (i === undefined) throw new Error('anon-data-preserved is not registered');
  return i.check(contextOf(step, full));
}

/** What the shadow of `s` knows at `addr` in the mm of `pid`. */
function known(s: KernelState, pid: string, addr: bigint): bigint | undefined {
  const p = s.mm.procs.get(pid);
  if (p === undefined) throw new Error(`no ${pid}`);
  return anonShadowOf(s)?.words.get(p.mm)?.get(Number(addr >> 3n));
}

function mapOf(s: KernelState, pid: string, map: string): bigint {
  const a = s.mm.procs.get(pid)?.maps.get(map);
  if (a === undefined) throw new Error(`no map ${map}`);
  return a;
}

describe('anon-data-preserved on the recorded logs', () => {
  const files = logs();
  it('finds the HMM and anon logs', () => {
    expect(files.filter((f) => f.includes('/hmm/')).length).toBeGreaterThan(20);
    expect(files.filter((f) => f.includes('/hmem/anon-')).length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s: no violation, incremental and paranoid', (rel) => {
    expect(load(rel).violations).toEqual([]);
    expect(load(rel, true).violations).toEqual([]);
  });
});

const migrate = load('traces-custom/hmm/dmirror-migrate.jsonl');
const at = (seq: number): Step => {
  const s = migrate.steps.find((x) => x.seq === seq);
  if (s === undefined) throw new Error(`no step ${seq}`);
  return s;
};

describe('the shadow follows the data', () => {
  it('a CPU store, a migration to the device (the data copied to ptr), SNAPSHOT forgetting its bytes, fork and COW', () => {
    const m1 = mapOf(at(9).after, 'p1', 'm1');
    const m2 = mapOf(at(9).after, 'p1', 'm2');
    const m3 = mapOf(at(9).after, 'p1', 'm3');
    // seq 6/7: the CPU wrote 0x1111 and 0x3333; seq 9 migrated m1 to the device and copied it to m2.
    expect([known(at(9).after, 'p1', m1), known(at(9).after, 'p1', m1 + 0x3000n)]).toEqual([0x1111n, 0x3333n]);
    expect([known(at(9).after, 'p1', m2), known(at(9).after, 'p1', m2 + 0x3000n)]).toEqual([0x1111n, 0x3333n]);
    // seq 11: SNAPSHOT's permission bytes are not followed.
    expect(known(at(11).after, 'p1', m3)).toBeUndefined();
    // seq 25 fork, seq 28 the parent's write after it: the child still knows the old value.
    expect([known(at(28).after, 'p1', m1), known(at(28).after, 'p2', m1)]).toEqual([0x4444n, 0x1111n]);
    // seq 37: the child exited, its mm is forgotten.
    const childMm = at(36).after.mm.procs.get('p2')?.mm;
    expect(childMm).toBeDefined();
    expect(anonShadowOf(at(37).after)?.words.has(childMm as number)).toBe(false);
  });
});

/** The vma of `pid` holding `addr` (anonymous neighbours merge: m2 and m1 are one vma) and the entry key of `addr` in it. */
function vmaAt(s: KernelState, pid: string, addr: bigint): readonly [Vma, number] {
  const v = (s.mm.procs.get(pid) as Process).vmas.find((x) => x.start <= addr && addr < x.end);
  if (v === undefined) throw new Error(`nothing mapped at 0x${addr.toString(16)}`);
  return [v, Number((addr - v.start) >> 12n)];
}

/** `s` with p1's vma holding `addr` given `ptes`. */
function withPtes(s: KernelState, addr: bigint, edit: (v: Vma) => Vma['ptes']): KernelState {
  const p = s.mm.procs.get('p1') as Process;
  const vmas = p.vmas.map((v) => (v.start <= addr && addr < v.end ? { ...v, ptes: edit(v) } : v));
  const procs = new Map(s.mm.procs);
  procs.set('p1', { ...p, vmas });
  return { ...s, mm: { ...s.mm, procs } };
}

describe('anon-data-preserved can fail', () => {
  it('holds on the recorded states, and under a full check', () => {
    expect(check(at(10), false)).toEqual([]);
    expect(check(at(10), true)).toEqual([]);
  });

  it('a device page whose backing page holds another value than the CPU wrote (a word changed behind its back)', () => {
    const s = at(10).after;
    const m1 = mapOf(s, 'p1', 'm1');
    const [v, k] = vmaAt(s, 'p1', m1 + 0x3000n);
    const pte = v.ptes.get(k) as Pte;
    expect(pte.anon?.kind).toBe('device');
    const page = s.hmm.pages.get(Number(pte.phys >> 12n));
    if (page === undefined) throw new Error('no device page');
    const bad: KernelState = { ...s, mm: { ...s.mm, mem: s.mm.mem.set(page.rpage * 512, 0xdeadn) } };
    const message = `p1 reads 0xdead at 0x${(m1 + 0x3000n).toString(16)} (device-private entry for pfn 0x${(pte.phys >> 12n).toString(16)}, backing page 0x${page.rpage.toString(16)}), but the last value written there was 0x3333`;
    // Incremental: the changed frame is found through the index of where each known page's data lives.
    expect(check(stepOf(s, bad), false)).toEqual([message]);
    expect(check(stepOf(s, bad), true)).toEqual([message]);
  });

  it('a migration that swapped the destination pages of two addresses (a model bug shape), named at the migration', () => {
    const step = at(9);
    const m1 = mapOf(step.after, 'p1', 'm1');
    const [, k] = vmaAt(step.after, 'p1', m1);
    const bad = withPtes(step.after, m1, (v) => {
      const [a, b] = [v.ptes.get(k) as Pte, v.ptes.get(k + 3) as Pte];
      expect([a.anon?.kind, b.anon?.kind]).toEqual(['device', 'device']);
      return v.ptes.set(k, b).set(k + 3, a);
    });
    const swapped: Step = { ...step, after: bad };
    const out = check(swapped, false);
    expect(out).toEqual(check(swapped, true));
    expect(out.join('\n')).toMatch(new RegExp(`p1 reads 0x3333 at 0x${m1.toString(16)} \\(device-private entry .*\\), but the last value written there was 0x1111`));
    expect(out.join('\n')).toMatch(new RegExp(`p1 reads 0x1111 at 0x${(m1 + 0x3000n).toString(16)} .*last value written there was 0x3333`));
    expect(invariantByName('anon-data-preserved')?.culprit?.(contextOf(swapped, false))).toBe('dmirror_migrate_alloc_and_copy');
  });

  it('a COW that wrote into the page the child still shares (a fork bug shape), caught in the untouched child', () => {
    // seq 28 is the parent's write after the fork: make the parent's page the child's too.
    const step = at(30);
    const s = step.after;
    const m1 = mapOf(s, 'p1', 'm1');
    const p2 = s.mm.procs.get('p2') as Process;
    const [pv, pk] = vmaAt(s, 'p1', m1);
    const parentPte = pv.ptes.get(pk) as Pte;
    expect(parentPte.anon?.kind).toBe('page');
    const [cv, ck] = vmaAt(s, 'p2', m1);
    const procs = new Map(s.mm.procs);
    procs.set('p2', { ...p2, vmas: p2.vmas.map((x) => (x === cv ? { ...cv, ptes: cv.ptes.set(ck, parentPte) } : x)) });
    const bad: KernelState = { ...s, mm: { ...s.mm, procs } };
    expect(check(stepOf(s, bad), false).join('\n')).toMatch(new RegExp(`p2 reads 0x4444 at 0x${m1.toString(16)} .*last value written there was 0x1111`));
  });
});
