/**
 * An lsmem(1)-like table of the memory blocks (util-linux sys-utils/lsmem.c):
 * one row per run of adjacent blocks with the same state, zones and node, then
 * the summary lines. Sizes as util-linux's size_to_human_string prints them.
 */
import { validZonesShow } from '../kernel/memory.js';
import { Op } from '../kernel/op.js';
import type { KernelState } from '../kernel/state.js';
import { hexPad } from '../util/u64.js';

const UNITS = ['B', 'K', 'M', 'G', 'T', 'P', 'E'] as const;

/**
 * util-linux size_to_human_string with SIZE_SUFFIX_1LETTER: whole units
 * plainly, otherwise one decimal (rounded), "0B" for nothing.
 * @example humanSize(4831838208n) // "4.5G"
 */
export function humanSize(bytes: bigint): string {
  let exp = 0;
  while (exp < UNITS.length - 1 && bytes >= 1n << BigInt((exp + 1) * 10)) exp++;
  const unit = UNITS[exp] ?? 'B';
  if (exp === 0) return `${bytes}${unit}`;
  const shift = BigInt(exp * 10);
  let dec = bytes >> shift;
  let frac = bytes & ((1n << shift) - 1n);
  if (frac !== 0n) {
    // As util-linux: the fraction in 1/1024ths of the unit, rounded to one digit.
    frac = ((frac >> (shift - 10n)) + 50n) / 100n;
    if (frac === 10n) {
      dec += 1n;
      frac = 0n;
    }
  }
  return frac === 0n ? `${dec}${unit}` : `${dec}.${frac}${unit}`;
}

/** One row of the table: a run of adjacent blocks that look the same. */
export interface LsmemRow {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
  readonly state: string;
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** valid_zones as lsmem shows it: the zones joined with "/". */
  readonly zones: string;
  readonly node: number;
}

export interface Lsmem {
  readonly rows: readonly LsmemRow[];
  readonly blockSize: bigint;
  readonly onlineBytes: bigint;
  readonly offlineBytes: bigint;
}

/** The rows and totals, as lsmem would compute them from sysfs. */
export function lsmem(state: KernelState): Lsmem {
  const rows: LsmemRow[] = [];
  const op = new Op(state);
  let online = 0n;
  let offline = 0n;
  for (const [id, b] of state.blocks.entries()) {
    const zones = validZonesShow(op, id).trim().split(/\s+/).join('/');
    const start = BigInt(id) * state.blockSize;
    const end = start + state.blockSize - 1n;
    if (b.state === 'online') online += state.blockSize;
    else offline += state.blockSize;
    const last = rows[rows.length - 1];
    if (last !== undefined && last.lastBlock === id - 1 && last.state === b.state && last.zones === zones && last.node === b.nid) {
      rows[rows.length - 1] = { ...last, end, lastBlock: id };
    } else {
      rows.push({ start, end, state: b.state, firstBlock: id, lastBlock: id, zones, node: b.nid });
    }
  }
  return { rows, blockSize: state.blockSize, onlineBytes: online, offlineBytes: offline };
}

const COLUMNS = ['RANGE', 'SIZE', 'STATE', 'BLOCK', 'ZONE', 'NODE'] as const;

/** The table and summary as text, newline-terminated. */
export function renderLsmem(state: KernelState): string {
  const data = lsmem(state);
  const cells = data.rows.map((r) => [
    `0x${hexPad(r.start, 16)}-0x${hexPad(r.end, 16)}`,
    humanSize(r.end - r.start + 1n),
    r.state,
    r.firstBlock === r.lastBlock ? `${r.firstBlock}` : `${r.firstBlock}-${r.lastBlock}`,
    r.zones,
    `${r.node}`,
  ]);
  const table = [[...COLUMNS], ...cells];
  const widths = COLUMNS.map((_c, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const lines = table.map((row) =>
    row
      // RANGE left-aligned, the other columns right-aligned, as lsmem prints them.
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join(' ')
      .trimEnd(),
  );
  const summary = [
    ['Memory block size:', humanSize(data.blockSize)],
    ['Total online memory:', humanSize(data.onlineBytes)],
    ['Total offline memory:', humanSize(data.offlineBytes)],
    // lsmem's print_summary: "%-23s %5s".
  ].map(([label, value]) => `${(label ?? '').padEnd(23)} ${(value ?? '').padStart(5)}`);
  return `${lines.join('\n')}\n\n${summary.join('\n')}\n`;
}
