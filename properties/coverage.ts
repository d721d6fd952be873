/**
 * Coverage with denominators: machine transitions taken out of all the
 * transitions the machines' definitions have (the derived tables), errnos
 * returned per sysfs path out of the errnos the path can return, and failure
 * branches of the kernel mirrors taken out of those written in the source.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { failureKey } from '../src/log/events.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { daxDeviceTable, devicePageTable, memoryBlockTable, kmemBlockTable } from '../machines/index.js';
import type { Step } from '../src/replay/engine.js';
import { DOCUMENTED_ERRNOS, documentedEntry } from './invariants/errnos.js';

export interface CoverageCount {
  readonly reached: number;
  readonly total: number;
  readonly missing: readonly string[];
}

export interface CoverageReport {
  readonly transitions: CoverageCount;
  readonly errnos: CoverageCount;
  readonly branches: CoverageCount;
  readonly goals: Readonly<Record<string, number>>;
}

/** Every `machine:context:source:event` the derived tables allow. */
export function allTransitions(): string[] {
  return [
    ...daxDeviceTable.entries().map((e) => `daxDevice:${e.contextKey}:${e.source}:${e.event}`),
    ...memoryBlockTable.entries().map((e) => `memoryBlock:${e.contextKey}:${e.source}:${e.event}`),
    ...kmemBlockTable.entries().map((e) => `kmemBlock:${e.contextKey}:${e.source}:${e.event}`),
    ...devicePageTable.entries().map((e) => `devicePage:${e.contextKey}:${e.source}:${e.event}`),
  ].sort();
}

/** Every `pattern-source errno` pair the errno-documented table lists (open errors left out: every path has them). */
export function allErrnos(): string[] {
  return DOCUMENTED_ERRNOS.flatMap((d) => d.errnos.map((e) => `${d.source}: ${e}`)).sort();
}

const SRC = fileURLToPath(new URL('../src/kernel/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every literal `op.branch('fn', 'what')` in the kernel mirrors. */
export function allBranches(): string[] {
  const out = new Set<string>();
  for (const f of tsFiles(SRC)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/op\.branch\('([^']+)', '([^']+)'\)/g)) out.add(`${m[1]}:${m[2]}`);
  }
  return [...out].sort();
}

export class Coverage {
  private readonly transitions = new Set<string>();
  /** Errnos returned, per documented path source (the `source: errno` names are made for the report). */
  private readonly errnos = new Map<string, Set<string>>();
  private readonly branches = new Set<string>();
  readonly goalHits = new Map<string, number>();

  record(step: Step): void {
    for (const t of step.transitions) this.transitions.add(t);
    for (const b of step.branches) this.branches.add(b);
    const o = step.outcome;
    if (!o.ok && (step.event.type === 'write' || step.event.type === 'read')) {
      const path = step.event.path;
      const hit = documentedEntry(path);
      if (hit !== null) this.addErrno(hit.source, failureKey(o));
    }
  }

  private addErrno(source: string, errno: string): void {
    let set = this.errnos.get(source);
    if (set === undefined) this.errnos.set(source, (set = new Set()));
    set.add(errno);
  }

  hitGoal(name: string): void {
    this.goalHits.set(name, (this.goalHits.get(name) ?? 0) + 1);
  }

  merge(other: Coverage): void {
    for (const t of other.transitions) this.transitions.add(t);
    for (const [source, errnos] of other.errnos) for (const e of errnos) this.addErrno(source, e);
    for (const b of other.branches) this.branches.add(b);
    for (const [g, n] of other.goalHits) this.goalHits.set(g, (this.goalHits.get(g) ?? 0) + n);
  }

  report(goalNames: readonly string[]): CoverageReport {
    const count = (all: readonly string[], seen: Set<string>): CoverageCount => ({
      reached: all.filter((x) => seen.has(x)).length,
      total: all.length,
      missing: all.filter((x) => !seen.has(x)),
    });
    return {
      transitions: count(allTransitions(), this.transitions),
      errnos: count(allErrnos(), new Set([...this.errnos].flatMap(([source, errnos]) => [...errnos].map((e) => `${source}: ${e}`)))),
      branches: count(allBranches(), this.branches),
      goals: Object.fromEntries(goalNames.map((g) => [g, this.goalHits.get(g) ?? 0])),
    };
  }
}
