/**
 * Mirrors the memory notifier chain of drivers/base/memory.c (6.1:
 * memory_chain, register_memory_notifier, unregister_memory_notifier,
 * memory_notify), the notifier_call_chain walk of kernel/notifier.c, and the
 * NOTIFY_* values with their errno encoding from include/linux/notifier.h.
 * mm/memory_hotplug.c's online_pages and offline_pages call memory_notify;
 * drivers (kmem's device phase, later HMM and persistence) subscribe here, so
 * the core never imports a driver.
 *
 * Why a static list built at module load rather than a KernelState field:
 * a subscriber is code (a notifier_block's notifier_call lives in kernel text,
 * not in the state the kernel changes), and KernelState is plain data that is
 * fingerprinted, compared and replayed. Functions in it would make snapshots
 * impure, and a chain in the state would have to be copied by every
 * withState. A subscriber registers once, when its module is evaluated; ES
 * module evaluation order is fixed by the static import graph, so the chain
 * has the same order in every run and every replay is byte-identical. The
 * state a subscriber keeps (kmem's device phase) stays in KernelState and is
 * changed only through `op`, like any other kernel path.
 *
 * Left out: notifier priorities (every memory notifier the model has would
 * sit at priority 0, where notifier_chain_register appends after the existing
 * entries: the chain is registration order), nr_to_call/nr_calls, and the
 * node-state fields of struct memory_notify (status_change_nid*).
 */
import type { ZoneName } from '../../machines/index.js';
import { ERRNO, errnoFromValue, type Errno } from './errno.js';
import type { Op } from './op.js';

/** The actions of include/linux/memory.h, in the order memory_notify's callers send them. */
export type MemoryAction = 'MEM_GOING_ONLINE' | 'MEM_ONLINE' | 'MEM_CANCEL_ONLINE' | 'MEM_GOING_OFFLINE' | 'MEM_OFFLINE' | 'MEM_CANCEL_OFFLINE';

/** struct memory_notify (include/linux/memory.h), without the node-state fields. */
export interface MemoryNotify {
  readonly startPfn: number;
  readonly nrPages: number;
  /**
   * page_zone(pfn_to_page(start_pfn)) at MEM_GOING_ONLINE: online_pages has
   * moved the range to its zone before notifying, so a subscriber can ask.
   */
  readonly zone?: ZoneName;
}

/** include/linux/notifier.h */
export const NOTIFY_DONE = 0x0000;
export const NOTIFY_OK = 0x0001;
export const NOTIFY_STOP_MASK = 0x8000;
export const NOTIFY_BAD = NOTIFY_STOP_MASK | 0x0002;
export const NOTIFY_STOP = NOTIFY_OK | NOTIFY_STOP_MASK;

/** A notifier_block's notifier_call: a NOTIFY_* value (or notifierFromErrno). It may change the state through `op`. */
export type MemoryNotifierCall = (op: Op, action: MemoryAction, arg: MemoryNotify) => number;

/** @kernel notifier_from_errno include/linux/notifier.h */
export function notifierFromErrno(errno: Errno | null): number {
  return errno === null ? NOTIFY_OK : NOTIFY_STOP_MASK | (NOTIFY_OK + ERRNO[errno]);
}

/** @kernel notifier_to_errno include/linux/notifier.h — null for 0. NOTIFY_BAD is -EPERM ("NOTIFY_BAD <=> EPERM"). */
export function notifierToErrno(ret: number): Errno | null {
  const r = ret & ~NOTIFY_STOP_MASK;
  if (r <= NOTIFY_OK) return null;
  const errno = errnoFromValue(NOTIFY_OK - r);
  if (errno === undefined) throw new Error(`model bug: notifier returned ${ret}, no errno the model knows`);
  return errno;
}

/** memory_chain: subscribers by name, in registration order (a Map keeps insertion order). */
const memoryChain = new Map<string, MemoryNotifierCall>();
/** The chain as an array, rebuilt on (un)registration: memory_notify runs on every online and offline. */
let calls: readonly MemoryNotifierCall[] = [];

/**
 * @kernel register_memory_notifier drivers/base/memory.c
 * A name registered twice is a model bug (notifier_chain_register WARNs "notifier callback %ps already registered").
 */
export function registerMemoryNotifier(name: string, call: MemoryNotifierCall): void {
  if (memoryChain.has(name)) throw new Error(`model bug: memory notifier ${name} already registered`);
  memoryChain.set(name, call);
  calls = [...memoryChain.values()];
}

/** @kernel unregister_memory_notifier drivers/base/memory.c */
export function unregisterMemoryNotifier(name: string): void {
  memoryChain.delete(name);
  calls = [...memoryChain.values()];
}

/** The subscribers' names in chain order. */
export function memoryNotifierNames(): readonly string[] {
  return [...memoryChain.keys()];
}

/**
 * @kernel memory_notify drivers/base/memory.c (blocking_notifier_call_chain,
 * notifier_call_chain kernel/notifier.c)
 * Calls each subscriber in order until one sets NOTIFY_STOP_MASK; returns the
 * last value (NOTIFY_DONE for an empty chain).
 */
export function memoryNotify(op: Op, action: MemoryAction, arg: MemoryNotify): number {
  let ret = NOTIFY_DONE;
  for (const call of calls) {
    ret = call(op, action, arg);
    if ((ret & NOTIFY_STOP_MASK) !== 0) break;
  }
  return ret;
}
