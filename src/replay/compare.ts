/**
 * When a recorded result and the model's agree. A divergence is a recorded
 * result this says differs from the model's.
 */
import { failureKey, type Failed, type IoctlOut, type Outcome } from '../log/events.js';

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
  if (path !== undefined && /^\/proc\/[^/]+\/s?maps$/.test(path)) return sameDeviceMappings(recorded, model);
  // Node N's meminfo likewise: the model prints MemTotal and MemFree of a node it knows whole (hot-added memory only).
  if (path !== '/proc/meminfo' && (path === undefined || !/^\/sys\/devices\/system\/node\/node[0-9]+\/meminfo$/.test(path))) return false;
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
 * both have one (`address`: an mmap/mremap result, compared by alignment, or
 * not at all when the call placed it where the log asked: `requested`) (compared by sameReadValue for the file read, `path`, which
 * is the event's path as the VFS resolves it). Kernel messages (`log`) are
 * never compared: their wording and the unrelated lines around them
 * (zonelist rebuilds, timestamps) are not part of the modelled behaviour.
 */
export function sameOutcome(recorded: Outcome, model: Outcome, path?: string, address: boolean | 'requested' = false): boolean {
  if (recorded.ok !== model.ok) return false;
  if (!recorded.ok && !model.ok) return sameFailure(recorded, model);
  // MAP_FIXED / MREMAP_FIXED return the address the log asked for (a mapping's address plus an
  // offset): it is the log's own choice in both, and says nothing the success does not.
  if (address === 'requested') return true;
  // An ioctl's output fields: every field the kernel reported, as the model answers it.
  if (recorded.ok && model.ok && recorded.out !== undefined && !sameOut(recorded.out, model.out)) return false;
  if (recorded.ok && model.ok && recorded.value !== undefined && address) {
    return model.value !== undefined && sameAddressAlignment(recorded.value, model.value);
  }
  if (recorded.ok && model.ok && recorded.value !== undefined) {
    return model.value !== undefined && sameReadValue(path, recorded.value, model.value);
  }
  return true;
}

function sameOut(recorded: IoctlOut, model: IoctlOut | undefined): boolean {
  if (model === undefined) return false;
  const keys = Object.keys(recorded);
  return keys.length === Object.keys(model).length && keys.every((k) => recorded[k] === model[k]);
}

/**
 * Two failures agree on their errno, or on the signal and its si_code. Two
 * oopses agree on the text of their first line with every hex number
 * blanked: the faulting address depends on the vmemmap base and the pfn,
 * which the guest's paging mode and KASLR choose, not the modelled paths.
 */
function sameFailure(recorded: Failed, model: Failed): boolean {
  if ('oops' in recorded && 'oops' in model) return blankHex(recorded.oops) === blankHex(model.oops);
  return failureKey(recorded) === failureKey(model);
}

function blankHex(s: string): string {
  return s.replace(/\b(?:0x)?[0-9a-f]{6,}\b/g, '#');
}

/** The largest power of two, up to 1 GiB, dividing an address ("0x..."); null when the text is no address. */
export function addressAlignment(text: string): bigint | null {
  if (!/^0x[0-9a-f]+$/i.test(text)) return null;
  const a = BigInt(text);
  let align = 1n;
  while (align < 1n << 30n && (a & align) === 0n) align <<= 1n;
  return align;
}

/**
 * An mmap address (SPEC §7) is compared by its alignment, never by value:
 * the recorded address must be at least as aligned as the model's. The
 * model places as the kernel does (src/kernel/mm/getUnmappedArea.ts), so on the
 * recorded corpora the two are equal (test/realkernel/placement.test.ts);
 * the rule stays SPEC's, for kernels whose layout differs (ASLR, another
 * helper binary).
 */
function sameAddressAlignment(recorded: string, model: string): boolean {
  const r = addressAlignment(recorded);
  const m = addressAlignment(model);
  return r !== null && m !== null && r >= m;
}

const MAP_HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \S+\s*(.*)$/;

/**
 * A /proc/PID/maps or smaps text as the parts the model knows: for each vma
 * of a device file (a path under /dev/), its size, permissions, file offset
 * and path in place of the addresses, device numbers and inode, followed by
 * the field lines. The process's other vmas (its text, heap, stack, vdso:
 * the guest helper's own) are not modelled and are dropped.
 */
function deviceMappings(text: string, fields: ReadonlySet<string> | null): string[][] {
  const out: string[][] = [];
  let cur: string[] | null = null;
  for (const line of text.split('\n')) {
    const m = MAP_HEADER.exec(line);
    if (m !== null) {
      const path = m[5] ?? '';
      cur = path.startsWith('/dev/') ? [`${(BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`)).toString(16)} ${m[3]} ${m[4]} ${path}`] : null;
      if (cur !== null) out.push(cur);
      continue;
    }
    const key = /^(\w+):/.exec(line)?.[1];
    if (cur !== null && key !== undefined && (fields === null || fields.has(key))) cur.push(line.replace(/\s+/g, ' ').trim());
  }
  return out;
}

/** The vmas exec made (src/kernel/mm/exec.ts) whose lines are compared whole; the heap's size is the helper's malloc's. */
const EXEC_NAMES = new Set(['[vvar]', '[vdso]', '[stack]', '/bin/ddx']);

/**
 * The exec-time vmas of a maps/smaps text: each header line (addresses,
 * permissions, offset, device, inode, name; spaces collapsed) with its
 * VmFlags line. Their Rss and the other counters are what the helper
 * touched, and are not compared.
 */
function execMappings(text: string): string[] {
  const out: string[] = [];
  let cur: boolean = false;
  for (const line of text.split('\n')) {
    const m = MAP_HEADER.exec(line);
    if (m !== null) {
      cur = EXEC_NAMES.has(m[5] ?? '');
      if (cur) out.push(line.replace(/\s+/g, ' ').trim());
      continue;
    }
    if (cur && line.startsWith('VmFlags:')) out.push(line.replace(/\s+/g, ' ').trim());
  }
  return out;
}

/**
 * Device mappings agree on every line the model prints (src/views/smaps.ts),
 * as a set: the file lists vmas by address, and device mappings are
 * compared by size, not address (an mmap address is compared by alignment,
 * SPEC §7), so neither is their order. The exec-time vmas ([vvar], [vdso],
 * [stack], /bin/ddx's segments) agree line for line, addresses included.
 */
function sameDeviceMappings(recorded: string, model: string): boolean {
  if (JSON.stringify(execMappings(recorded)) !== JSON.stringify(execMappings(model))) return false;
  const m = deviceMappings(model, null);
  const keys = new Set(m.flatMap((b) => b.slice(1).map((l) => l.split(':')[0] ?? '')));
  const r = deviceMappings(recorded, keys);
  const sorted = (blocks: string[][]): string[] => blocks.map((b) => b.join('\n')).sort();
  return JSON.stringify(sorted(r)) === JSON.stringify(sorted(m));
}
