/**
 * The errnos each modelled sysfs/procfs path can return (errno-documented).
 * Every path may also fail to open: ENOENT (no such file), EACCES (no
 * show/store method, kernfs_fop_open) and EISDIR (a directory).
 */
import type { Errno } from '../../src/kernel/errno.js';
import { canonicalPath } from '../../src/sysfs/surface.js';

const OPEN: readonly Errno[] = ['ENOENT', 'EACCES', 'EISDIR'];

/*
 * The errnos the modelled paths return. The kernel has a few more that the
 * model does not produce (no hwpoison, no -EPROBE_DEFER, allocation failures
 * only where a fault site is injected): online/offline -EHWPOISON, bind
 * -EAGAIN, new_id -ENOMEM, size -ENOMEM and -ENXIO (region parent unbound).
 */

/**
 * Notifier vetoes and allocation failures (injected at online_pages / offline_pages) on the online/offline paths;
 * EPERM is a memory notifier's NOTIFY_BAD (notifier_to_errno), e.g. the fix kmem-persist-fix-movable's.
 */
const ONLINE_OFFLINE: readonly Errno[] = ['EINVAL', 'EBUSY', 'EINTR', 'ENOMEM', 'EAGAIN', 'EPERM'];

/** dev_dax_probe and dev_dax_kmem_probe errnos as bind reports them (v5.14+), plus driver-core ones. */
const BIND: readonly Errno[] = ['ENODEV', 'EBUSY', 'EINVAL', 'ENXIO', 'ENOMEM', 'EEXIST', 'E2BIG'];

export const DOCUMENTED_ERRNOS: ReadonlyArray<{ readonly pattern: RegExp; readonly errnos: readonly Errno[]; readonly source: string }> = [
  { pattern: /^\/proc\//, errnos: ['EIO'], source: 'proc_reg_write without .proc_write' },
  { pattern: /\/drivers\/(device_dax|kmem)\/bind$/, errnos: BIND, source: 'bind_store, dev_dax_probe, dev_dax_kmem_probe' },
  { pattern: /\/drivers\/(device_dax|kmem)\/unbind$/, errnos: ['ENODEV'], source: 'unbind_store' },
  { pattern: /\/drivers\/(device_dax|kmem)\/(new_id|remove_id)$/, errnos: ['EINVAL'], source: 'do_id_store' },
  { pattern: /\/memory\d+\/(state|online)$/, errnos: ONLINE_OFFLINE, source: 'state_store, online_store, memory_block_online, offline_pages' },
  { pattern: /\/auto_online_blocks$/, errnos: ['EINVAL'], source: 'auto_online_blocks_store' },
  { pattern: /^\/sys\/kernel\/mm\/transparent_hugepage\/enabled$/, errnos: ['EINVAL'], source: 'enabled_store (mm/huge_memory.c)' },
  { pattern: /^\/sys\/module\/kmem\/parameters\/persist_format_(type|force)$/, errnos: ['EINVAL', 'ERANGE'], source: 'param_set_int, param_set_bool (the kmem-persist series)' },
  // kstrtoull, the block alignment, then __add_memory: register_memory_resource and add_memory_resource's own.
  { pattern: /\/system\/memory\/probe$/, errnos: ['EINVAL', 'ERANGE', 'EEXIST', 'E2BIG', 'ENOMEM'], source: 'probe_store, kstrtoull, __add_memory' },
  { pattern: /\/devices\/dax[^/]+\/size$/, errnos: ['EINVAL', 'ERANGE', 'EBUSY', 'ENOSPC'], source: 'size_store' },
  { pattern: /\/devices\/dax[^/]+\/align$/, errnos: ['ENXIO', 'EINVAL', 'EBUSY'], source: 'align_store' },
  { pattern: /\/devices\/dax[^/]+\/memmap_on_memory$/, errnos: ['EINVAL', 'EOPNOTSUPP', 'EBUSY'], source: 'memmap_on_memory_store' },
  // EBUSY only under the dax-mapping-store-checks-bound patch.
  { pattern: /\/devices\/dax[^/]+\/mapping$/, errnos: ['EINVAL', 'ERANGE', 'ENXIO', 'ENOMEM', 'EBUSY'], source: 'mapping_store, range_parse, alloc_dev_dax_range' },
];

export type DocumentedEntry = (typeof DOCUMENTED_ERRNOS)[number];

const BLOCK_ENTRY = DOCUMENTED_ERRNOS.find((d) => d.source.startsWith('state_store')) as DocumentedEntry;
const byEntry = new Map<DocumentedEntry, readonly Errno[]>(DOCUMENTED_ERRNOS.map((d) => [d, [...OPEN, ...d.errnos]]));
/** Paths other than block state files repeat (driver and device files): their entry, looked up once. */
const entryCache = new Map<string, DocumentedEntry | null>();

/**
 * The table entry for a path, or null for a path with only the open errors.
 * Looked up by the path the VFS resolves (`memory1//state`, `./`, `../`
 * name the same file as the canonical path), as the model itself does.
 */
export function documentedEntry(raw: string): DocumentedEntry | null {
  const path = canonicalPath(raw);
  // Most failing steps are writes to a block's state/online file: recognised without the regex list.
  if ((path.endsWith('/state') || path.endsWith('/online')) && /\/memory\d+\/(state|online)$/.test(path)) return BLOCK_ENTRY;
  let d = entryCache.get(path);
  if (d === undefined) {
    d = DOCUMENTED_ERRNOS.find((x) => x.pattern.test(path)) ?? null;
    // Bounded: a long campaign must not grow the cache without end.
    if (entryCache.size > 10_000) entryCache.clear();
    entryCache.set(path, d);
  }
  return d;
}

export function documentedErrnos(path: string): readonly Errno[] {
  const d = documentedEntry(path);
  return d === null ? OPEN : (byEntry.get(d) as readonly Errno[]);
}
