/** Option parsers shared by the commands: bad values are usage errors (exit 2) with commander's message. */
import { InvalidArgumentError } from 'commander';
import { VIEW_NAMES, isViewName, type ViewName } from '../views/index.js';

/** --until SEQ: a positive integer. */
export function parseSeq(value: string): number {
  const n = Number(value);
  if (!/^[1-9][0-9]*$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a positive integer (the seq of the last event to apply).');
  return n;
}

/** --show a,b,c: view names, or "none". Duplicates are dropped; the given order is kept. */
export function parseViews(value: string): ViewName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return [];
  const out: ViewName[] = [];
  for (const n of names) {
    if (!isViewName(n)) throw new InvalidArgumentError(`unknown view "${n}": expected a comma-separated list of ${VIEW_NAMES.join(', ')} (or none).`);
    if (!out.includes(n)) out.push(n);
  }
  if (out.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${VIEW_NAMES.join(', ')} (or none).`);
  return out;
}
