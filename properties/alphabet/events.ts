/**
 * Interned operation events: the alphabet of a state is rebuilt for every
 * state the search expands, and most of its events are the same objects
 * from state to state (a Map lookup instead of an allocation).
 */
import type { InjectSite, StepEvent } from '../../src/log/events.js';
import type { Errno } from '../../src/kernel/errno.js';

const interned = new Map<string, StepEvent>();

function intern(key: string, make: () => StepEvent): StepEvent {
  let e = interned.get(key);
  if (e === undefined) interned.set(key, (e = Object.freeze(make())));
  return e;
}

/** `echo value > path` (raw: `printf %s value`). */
export function write(path: string, value: string, raw = false): StepEvent {
  return intern(`w\0${path}\0${value}\0${raw ? 1 : 0}`, () => ({ type: 'write', path, value, raw }));
}

/** `cat path`. */
export function read(path: string): StepEvent {
  return intern(`r\0${path}`, () => ({ type: 'read', path }));
}

/** Make the nth next call at `site` fail with `errno` (model only). */
export function inject(site: InjectSite, errno: Errno, nth: number): StepEvent {
  return intern(`i\0${site}\0${errno}\0${nth}`, () => ({ type: 'inject', site, errno, nth }));
}

export const MEM = '/sys/devices/system/memory';
export const DAX = '/sys/bus/dax';
