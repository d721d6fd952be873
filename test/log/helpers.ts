import { expect } from 'vitest';
import { LogError } from '../../src/log/errors.js';
import { parseLogText } from '../../src/log/reader.js';
import { SEED_PMEM_REGION, SEED_RAM } from '../helpers/machine.js';

export type JsonObj = Record<string, unknown>;

/** The SPEC §3 machine: 2 GiB + 2 GiB of RAM, 512 MiB of legacy pmem at 2 GiB. */
export function baseBoot(): JsonObj {
  return {
    type: 'boot',
    kernel: '6.8',
    memoryBlockSize: '128M',
    // Deep copies: tests edit the machine they get.
    ram: structuredClone(SEED_RAM),
    daxRegions: [structuredClone(SEED_PMEM_REGION)],
  };
}

/** baseBoot() changed by `edit`, as one log line. */
export function bootWith(edit: (b: JsonObj & { daxRegions: JsonObj[]; ram: JsonObj[] }) => void): string {
  const b = baseBoot() as JsonObj & { daxRegions: JsonObj[]; ram: JsonObj[] };
  edit(b);
  return JSON.stringify(b);
}

export const BOOT = JSON.stringify(baseBoot());

/** Parse `text` expecting a LogError; returns it for further checks. */
export function logError(text: string, file = 'x.jsonl'): LogError {
  try {
    parseLogText(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(LogError);
    return e as LogError;
  }
  throw new Error(`expected a LogError for:\n${text}`);
}

export interface Expect {
  line: number;
  field: string | null;
  expected: string | RegExp;
}

export function expectLogError(text: string, want: Expect): LogError {
  const err = logError(text);
  expect({ line: err.line, field: err.field }).toEqual({ line: want.line, field: want.field });
  if (typeof want.expected === 'string') expect(err.expected).toContain(want.expected);
  else expect(err.expected).toMatch(want.expected);
  const where = `x.jsonl:${want.line}:`;
  expect(err.message.startsWith(where)).toBe(true);
  if (want.field !== null) expect(err.message).toContain(`field "${want.field}": expected `);
  expect(err.message).toContain(', got ');
  return err;
}
