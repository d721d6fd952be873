/**
 * Fault injection in the alphabet: each site with each errno it can really
 * produce (SITE_ERRNOS), failing the next call. Offered only while no fault
 * is pending, so a state holds at most one: every error path is reached by
 * a fault followed by the operation that meets it, and the state space does
 * not multiply by every combination of pending faults. Model only: a real
 * kernel has no such event (`--emit` leaves these out).
 */
import { INJECT_SITES, type StepEvent } from '../../src/log/events.js';
import { SITE_ERRNOS } from '../arbitraries/steps.js';
import { inject } from './events.js';
import type { OperationGenerator } from './types.js';

const ALL: readonly StepEvent[] = INJECT_SITES.flatMap((site) => SITE_ERRNOS[site].map((errno) => inject(site, errno, 1)));

export const faultOps: OperationGenerator = {
  name: 'fault',
  inputs: (s) => [s.faults],
  reachesFaults: false,
  summary: 'inject each errno of each fault site into the next call there, while no fault is pending',
  onRealKernel: false,
  ops(s) {
    return s.faults.length === 0 ? ALL : [];
  },
};
