/**
 * Mirrors drivers/base/memory.c (v6.8) and the memory-device parts of
 * drivers/base/core.c (device_online, device_offline, online_store): memory
 * block devices, their state changes and sysfs files, memory groups.
 * The memory notifier chain (memory_notify, register_memory_notifier) is in
 * memoryNotifier.ts. Left out: hwpoison counts, the probe/soft_offline
 * files, node links.
 */
import type { MemoryBlockEvent, ZoneName } from '../../machines/index.js';
import { hexPad } from '../util/u64.js';
import { ONLINE_TYPES, type BootConfig, type OnlineType } from './config.js';
import { offlinePages, onlinePages, transitionBlock } from './memoryHotplug.js';
import { err, OK, type Ret } from './errno.js';
import type { Op } from './op.js';
import { internBlock, withState, type MemoryBlock } from './state.js';
import { zoneForPfnRange } from './zones.js';

/**
 * @kernel create_memory_block_devices drivers/base/memory.c (and
 * create_altmaps_and_memory_blocks, mm/memory_hotplug.c, for memmap_on_memory)
 * New blocks are offline. An existing id fails the call with -EEXIST after
 * removing the blocks this call created.
 */
export function createMemoryBlockDevices(
  op: Op,
  first: number,
  last: number,
  nid: number,
  group: number | null,
  addId: number,
  vmemmapPerBlock: number,
  wholeRangeAltmap: boolean,
): Ret {
  const created: Array<[number, MemoryBlock]> = [];
  // The blocks go into the map as one batch (IntMap.setAll); an EEXIST part-way commits what was made, then unwinds it.
  const commit = (): void => {
    op.state = withState(op.state, { blocks: op.state.blocks.setAll(created) });
  };
  for (let id = first; id <= last; id++) {
    if (op.state.blocks.has(id)) {
      commit();
      removeMemoryBlockDevices(op, first, id - 1);
      op.branch('create_memory_block_devices', 'EEXIST');
      return err('EEXIST');
    }
    const n = last - first + 1;
    let vmemmapPages = vmemmapPerBlock;
    let memmapHost: number | null = vmemmapPerBlock > 0 ? 0 : null;
    if (wholeRangeAltmap && vmemmapPerBlock > 0) {
      // Variant memmap-whole-range: one altmap at the start of the range hosts every block's memmap.
      vmemmapPages = id === first ? vmemmapPerBlock * n : 0;
      memmapHost = first - id;
    }
    const rec = internBlock({
      state: 'offline',
      zone: null,
      nid,
      boot: false,
      pages: op.state.blockPages,
      vmemmapPages,
      memmapHost,
      group,
      unmovable: false,
      addId,
    });
    op.touch(id, undefined, rec);
    created.push([id, rec]);
  }
  commit();
  return OK;
}

/** @kernel remove_memory_block_devices drivers/base/memory.c */
export function removeMemoryBlockDevices(op: Op, first: number, last: number): void {
  let blocks = op.state.blocks;
  for (let id = first; id <= last; id++) {
    const old = blocks.get(id);
    if (old !== undefined) op.touch(id, old, undefined);
    blocks = blocks.delete(id);
  }
  op.state = withState(op.state, { blocks });
}

type Online = Exclude<OnlineType, 'offline'>;

/**
 * @kernel memory_block_online drivers/base/memory.c
 * The zone it picks is mem->zone: the model records it with the state when
 * memory_block_change_state lands the block (one machine event).
 */
function memoryBlockOnline(op: Op, id: number, onlineType: Online): Ret<ZoneName> {
  const s = op.state;
  const b = s.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  const zone = zoneForPfnRange(s, onlineType, b.nid, id * s.blockPages, s.blockPages);
  const rc = onlinePages(op, id, zone);
  return rc.ok ? { ok: true, value: zone } : rc;
}

/**
 * @kernel memory_block_change_state drivers/base/memory.c (with memory_block_action)
 * Check the expected from-state, pass through going-offline when offlining,
 * then `mem->state = ret ? from_state_req : to_state` for both directions,
 * here and only here. Drivers hear of the change through the memory
 * notifiers (memoryNotifier.ts) that online_pages/offline_pages call.
 */
function memoryBlockChangeState(op: Op, id: number, to: 'online' | 'offline', onlineType: Online): Ret {
  const b = op.state.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  const fromReq = to === 'online' ? 'offline' : 'online';
  if (b.state !== fromReq) {
    op.branch('memory_block_change_state', 'EINVAL');
    return err('EINVAL');
  }
  if (to === 'offline') transitionBlock(op, id, { type: 'offline.begin' });
  // memory_block_action: memory_block_online picks mem->zone, memory_block_offline clears it.
  let rc: Ret;
  let landing: MemoryBlockEvent | null;
  if (to === 'online') {
    const on = memoryBlockOnline(op, id, onlineType);
    rc = on.ok ? OK : on;
    landing = on.ok ? { type: 'online', zone: on.value } : null;
  } else {
    rc = offlinePages(op, id);
    landing = { type: rc.ok ? 'offline.done' : 'offline.failed' };
  }
  // mem->state = ret ? from_state_req : to_state; mem->zone rides on the same machine event, and a failed
  // online is already in from_state_req (offline has no machine event to itself).
  if (landing !== null) transitionBlock(op, id, landing);
  return rc;
}

/**
 * @kernel device_online drivers/base/core.c with memory_subsys_online
 * 1 = already online (dev->offline false), 0 = done, or an error.
 */
function deviceOnline(op: Op, id: number, onlineType: OnlineType): Ret<0 | 1> {
  const b = op.state.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  if (b.state !== 'offline') return { ok: true, value: 1 };
  // memory_subsys_online: a device_online() without a configured type means MMOP_ONLINE.
  const rc = memoryBlockChangeState(op, id, 'online', onlineType === 'offline' ? 'online' : onlineType);
  return rc.ok ? { ok: true, value: 0 } : rc;
}

/** @kernel device_offline drivers/base/core.c with memory_subsys_offline */
function deviceOffline(op: Op, id: number): Ret<0 | 1> {
  const b = op.state.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  if (b.state === 'offline') return { ok: true, value: 1 };
  const rc = memoryBlockChangeState(op, id, 'offline', 'online');
  return rc.ok ? { ok: true, value: 0 } : rc;
}

/** @kernel online_memory_block mm/memory_hotplug.c — auto-online after add; the result is ignored by the caller. */
export function onlineMemoryBlock(op: Op, id: number, onlineType: Online): void {
  deviceOnline(op, id, onlineType);
}

function stripNewline(x: string): string {
  return x.endsWith('\n') ? x.slice(0, -1) : x;
}

/** sysfs_streq: equal, allowing one trailing newline on either side. */
export function sysfsStreq(buf: string, word: string): boolean {
  return stripNewline(buf) === stripNewline(word);
}

/** The online types by length (all four differ), so a write is compared with one word, not hashed. */
const ONLINE_TYPE_BY_LENGTH: ReadonlyArray<OnlineType | undefined> = (() => {
  const out: Array<OnlineType | undefined> = [];
  for (const t of ONLINE_TYPES) out[t.length] = t;
  return out;
})();

/** @kernel mhp_online_type_from_str mm/memory_hotplug.c (sysfs_streq against each online_type_to_str) */
export function onlineTypeFromStr(buf: string): OnlineType | undefined {
  const t = ONLINE_TYPE_BY_LENGTH[buf.charCodeAt(buf.length - 1) === 10 ? buf.length - 1 : buf.length];
  return t !== undefined && sysfsStreq(buf, t) ? t : undefined;
}

/**
 * @kernel state_store drivers/base/memory.c
 * A positive device_online/device_offline result (already in that state)
 * becomes -EINVAL.
 */
export function stateStore(op: Op, id: number, buf: string): Ret {
  const type = onlineTypeFromStr(buf);
  if (type === undefined) {
    op.branch('state_store', 'EINVAL');
    return err('EINVAL');
  }
  const rc = type === 'offline' ? deviceOffline(op, id) : deviceOnline(op, id, type);
  if (!rc.ok) return rc;
  if (rc.value > 0) {
    op.branch('state_store', 'EINVAL(already)');
    return err('EINVAL');
  }
  return OK;
}

/**
 * @kernel kstrtobool lib/kstrtox.c
 * Only the first one or two characters matter.
 */
export function kstrtobool(buf: string, trueFalse = true): boolean | undefined {
  const c0 = buf[0];
  if (c0 === undefined) return undefined;
  if ((trueFalse ? 'yYtT1' : 'yY1').includes(c0)) return true;
  if ((trueFalse ? 'nNfF0' : 'nN0').includes(c0)) return false;
  if (c0 === 'o' || c0 === 'O') {
    const c1 = buf[1];
    if (c1 === 'n' || c1 === 'N') return true;
    if (c1 === 'f' || c1 === 'F') return false;
  }
  return undefined;
}

/**
 * @kernel online_store drivers/base/core.c
 * "Already there" counts as success; plain online uses MMOP_ONLINE.
 */
export function onlineStore(op: Op, id: number, buf: string): Ret {
  const val = kstrtobool(buf, op.state.profile.kstrtoboolTrueFalse);
  if (val === undefined) {
    op.branch('online_store', 'EINVAL');
    return err('EINVAL');
  }
  const rc = val ? deviceOnline(op, id, 'online') : deviceOffline(op, id);
  return rc.ok ? OK : rc;
}

/** @kernel state_show drivers/base/memory.c */
export function stateShow(b: MemoryBlock): string {
  return `${b.state}\n`;
}

/** @kernel online_show drivers/base/core.c — !dev->offline. */
export function onlineShow(b: MemoryBlock): string {
  return b.state === 'offline' ? '0\n' : '1\n';
}

/** @kernel phys_index_show drivers/base/memory.c — the block id, %08lx. */
export function physIndexShow(id: number): string {
  return `${hexPad(BigInt(id), 8)}\n`;
}

/**
 * @kernel removable_show drivers/base/memory.c — since 1bab7ee ("drivers/base/memory: ... removable") it prints
 * IS_ENABLED(CONFIG_MEMORY_HOTREMOVE), whatever the block holds (6.1 and 6.12 alike).
 */
export function removableShow(config: BootConfig): string {
  return `${config.memoryHotremove ? 1 : 0}\n`;
}

/**
 * @kernel valid_zones_show drivers/base/memory.c (with print_allowed_zone)
 * Online: the recorded zone, or "none" for a block spanning zones. Offline:
 * the zone plain "online" would pick, then the kernel/movable choices that
 * differ from it.
 */
export function validZonesShow(op: Op, id: number): string {
  const s = op.state;
  const b = s.blocks.get(id);
  if (b === undefined) throw new Error(`model bug: no memory block ${id}`);
  if (b.state === 'online') return `${b.zone ?? 'none'}\n`;
  const startPfn = id * s.blockPages;
  const dflt = zoneForPfnRange(s, 'online', b.nid, startPfn, s.blockPages);
  const out = [dflt];
  for (const t of ['online_kernel', 'online_movable'] as const) {
    const z = zoneForPfnRange(s, t, b.nid, startPfn, s.blockPages);
    if (z !== dflt) out.push(z);
  }
  return `${out.join(' ')}\n`;
}

/**
 * @kernel auto_online_blocks_store drivers/base/memory.c
 * v5.1 took "online"/"offline" only (a bool, memhp_auto_online).
 */
export function autoOnlineBlocksStore(op: Op, buf: string): Ret {
  const type = onlineTypeFromStr(buf);
  if (type === undefined || (!op.state.profile.autoOnlineTypes && type !== 'online' && type !== 'offline')) {
    op.branch('auto_online_blocks_store', 'EINVAL');
    return err('EINVAL');
  }
  op.state = withState(op.state, { autoOnline: type });
  return OK;
}

/**
 * @kernel memory_group_register_static drivers/base/memory.c
 * Ids come from an xarray: the lowest free id.
 */
export function memoryGroupRegisterStatic(op: Op, nid: number, maxPages: number): Ret<number> {
  if (maxPages === 0 || !op.state.possibleNodes.includes(nid)) {
    op.branch('memory_group_register_static', 'EINVAL');
    return err('EINVAL');
  }
  const injected = op.inject('memory_group_register');
  if (injected !== null) return err(injected);
  let mgid = 0;
  while (op.state.groups.has(mgid)) mgid++;
  const groups = new Map(op.state.groups);
  groups.set(mgid, { nid, maxPages });
  op.state = withState(op.state, { groups });
  return { ok: true, value: mgid };
}

/** @kernel memory_group_unregister drivers/base/memory.c — -EBUSY while blocks still belong to it. */
export function memoryGroupUnregister(op: Op, mgid: number): Ret {
  if (!op.state.groups.has(mgid)) return err('EINVAL');
  for (const b of op.state.blocks.values()) {
    if (b.group === mgid) {
      op.branch('memory_group_unregister', 'EBUSY');
      return err('EBUSY');
    }
  }
  const groups = new Map(op.state.groups);
  groups.delete(mgid);
  op.state = withState(op.state, { groups });
  return OK;
}
