/**
 * When a recorded result and the model's agree. A divergence is a recorded
 * result this says differs from the model's.
 */
import type { Outcome } from '../log/events.js';

/**
 * A read value the model only partly prints: /proc/meminfo. The model knows
 * totalram_pages() and prints the MemTotal line exactly as
 * meminfo_proc_show/show_val_kb do (fs/proc/meminfo.c), but none of the other
 * ~50 lines (MemFree, Cached, Slab, ... depend on what user space and the
 * page allocator did, which no model of hotplug can know). So a recorded
 * /proc/meminfo is compared line by line on the lines the model prints: each
 * must appear in the recorded text, and the recorded text must have no other
 * line with the same field name. Every other file is compared whole.
 */
export function sameReadValue(path: string | undefined, recorded: string, model: string): boolean {
  if (recorded === model) return true;
  if (path !== '/proc/meminfo') return false;
  const fields = new Map<string, string>();
  for (const line of recorded.split('\n')) {
    const key = /^([^:]+):/.exec(line)?.[1];
    if (key !== undefined) fields.set(key, line);
  }
  for (const line of model.split('\n')) {
    if (line === '') continue;
    const key = /^([^:]+):/.exec(line)?.[1];
    if (key === undefined || fields.get(key) !== line) return false;
  }
  return true;
}

/**
 * Equal as far as a recorded result can say: ok, errno, and the value when
 * both have one (compared by sameReadValue for the file read, `path`, which
 * is the event's path as the VFS resolves it). Kernel messages (`log`) are
 * never compared: their wording and the unrelated lines around them
 * (zonelist rebuilds, timestamps) are not part of the modelled behaviour.
 */
export function sameOutcome(recorded: Outcome, model: Outcome, path?: string): boolean {
  if (recorded.ok !== model.ok) return false;
  if (!recorded.ok && !model.ok) return recorded.errno === model.errno;
  if (recorded.ok && model.ok && recorded.value !== undefined) {
    return model.value !== undefined && sameReadValue(path, recorded.value, model.value);
  }
  return true;
}
