/**
 * Swap areas (src/kernel/mm/swapfile.ts, mm/swapfile.c): MAX_SWAPFILES per
 * profile and configuration (include/linux/swap.h of each kernel;
 * KERNEL-FACTS-HMM §4.4), each errno of sys_swapon and sys_swapoff, the
 * lowest free type reused, and the recordings from the custom hmm kernel.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeChecker } from '../../properties/invariants/index.js';
import { checkAll } from '../../properties/sequence.js';
import { DEFAULT_CONFIG, type BootConfig } from '../../src/kernel/config.js';
import { maxSwapfiles, reservedSwapTypes } from '../../src/kernel/mm/swapfile.js';
import { makeProfile, type KernelVersion } from '../../src/kernel/profile.js';
import { parseLogText, shellCommand, writeLog } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { boot, runChecked, type Json } from '../helpers/machine.js';

const max = (kernel: KernelVersion, config: Partial<BootConfig>): number => maxSwapfiles(makeProfile(kernel, null), { ...DEFAULT_CONFIG, ...config });
const ALL = { devicePrivate: true, migration: true, memoryFailure: true, pteMarker: true };
const NONE = { devicePrivate: false, migration: false, memoryFailure: false, pteMarker: false };

describe('MAX_SWAPFILES: 32 less the types swap.h reserves', () => {
  it('v5.1: DEVICE 2, MIGRATION 2, HWPOISON 1 (no PTE marker, no swapin error)', () => {
    expect(reservedSwapTypes(makeProfile('5.1', null), { ...DEFAULT_CONFIG, ...ALL })).toEqual({ device: 2, migration: 2, hwpoison: 1, pteMarker: 0, swapinError: 0 });
    expect([max('5.1', ALL), max('5.1', { ...ALL, devicePrivate: false }), max('5.1', { ...ALL, memoryFailure: false }), max('5.1', NONE)]).toEqual([27, 29, 28, 32]);
  });

  it('6.1 (6.1.192): DEVICE 4, MIGRATION 3, HWPOISON 1, PTE_MARKER 1 with CONFIG_PTE_MARKER, SWAPIN_ERROR 1 always', () => {
    expect(reservedSwapTypes(makeProfile('6.1', null), { ...DEFAULT_CONFIG, ...ALL })).toEqual({ device: 4, migration: 3, hwpoison: 1, pteMarker: 1, swapinError: 1 });
    // all on, no DEVICE_PRIVATE, nothing optional (KERNEL-FACTS-HMM §4.4's row)
    expect([max('6.1', ALL), max('6.1', { ...ALL, devicePrivate: false }), max('6.1', NONE)]).toEqual([22, 26, 31]);
    // Debian 6.1 cloud (no DEVICE_PRIVATE, no MEMORY_FAILURE) and the harness's custom hmm kernel (DEVICE_PRIVATE, no MEMORY_FAILURE).
    expect([max('6.1', { ...ALL, devicePrivate: false, memoryFailure: false }), max('6.1', { ...ALL, memoryFailure: false })]).toEqual([27, 23]);
    expect(max('6.1', { ...ALL, pteMarker: false })).toBe(23);
  });

  it('6.12 (6.12.118): no SWAPIN_ERROR, PTE_MARKER whatever the config; DEVICE still 4', () => {
    expect(reservedSwapTypes(makeProfile('6.12', null), { ...DEFAULT_CONFIG, ...NONE })).toEqual({ device: 0, migration: 0, hwpoison: 0, pteMarker: 1, swapinError: 0 });
    // Debian 6.12 cloud: MEMORY_FAILURE, no DEVICE_PRIVATE.
    expect([max('6.12', ALL), max('6.12', { ...ALL, devicePrivate: false }), max('6.12', { ...ALL, devicePrivate: false, memoryFailure: false }), max('6.12', NONE)]).toEqual([23, 27, 28, 31]);
    expect(max('6.12', { ...ALL, pteMarker: false })).toBe(23);
  });
});

const RAM = Array.from({ length: 32 }, (_, i) => `/dev/ram${i}`);
/** A 6.1 machine with `areas` of /dev/ram0..31 prepared by mkswap (the harness's layout: 30). */
const machine = (kernel: KernelVersion, config: Json, areas = 30): Json => boot({ kernel, blockDevices: RAM, swapAreas: RAM.slice(0, areas) }, config);
const on = (path: string): Json => ({ type: 'swapon', path });
const off = (path: string): Json => ({ type: 'swapoff', path });

describe('sys_swapon and sys_swapoff', () => {
  it('fills every type (Debian 6.1 cloud: 27), then EPERM from alloc_swap_info whatever the path', () => {
    const r = runChecked(machine('6.1', { devicePrivate: false, memoryFailure: false }), ...RAM.slice(0, 28).map(on), on('/dev/ram31'), on('/dev/none'));
    expect(r.results).toEqual([...Array<string>(27).fill('ok'), 'EPERM', 'EPERM', 'EPERM']);
    expect(r.violations).toEqual([]);
    expect(r.final.swap.info.length).toBe(27);
  });

  it('custom hmm kernel (6.1 + DEVICE_PRIVATE): 23; 6.12 with DEVICE_PRIVATE and MEMORY_FAILURE: 23; 5.1 with both: 27', () => {
    const count = (kernel: KernelVersion, config: Json) => runChecked(machine(kernel, config), ...RAM.slice(0, 30).map(on)).results.filter((x) => x === 'ok').length;
    expect([count('6.1', { devicePrivate: true }), count('6.12', { devicePrivate: true, memoryFailure: true }), count('5.1', { devicePrivate: true, memoryFailure: true })]).toEqual([23, 23, 27]);
  });

  it('EBUSY for an active device (claim_swapfile), EINVAL without a signature (read_swap_header, with its message), ENOENT for a missing path; each failure frees its type', () => {
    const r = runChecked(machine('6.12', {}, 1), on('/dev/ram0'), on('/dev/ram0'), on('/dev/ram1'), on('/dev/none'), on('/dev/ram0'));
    expect(r.results).toEqual(['ok', 'EBUSY', 'EINVAL', 'ENOENT', 'EBUSY']);
    expect(r.steps[2]?.outcome.log).toEqual(['Unable to find swap-space signature']);
    expect(r.steps.map((s) => s.branches)).toEqual([[], ['claim_swapfile:EBUSY'], ['read_swap_header:EINVAL'], ['file_open_name:ENOENT'], ['claim_swapfile:EBUSY']]);
    // Type 1 was taken and given back by each failure: nr_swapfiles is 2, type 1 free.
    expect(r.final.swap.info).toEqual([{ used: true, path: '/dev/ram0' }, { used: false, path: null }]);
    expect(r.violations).toEqual([]);
  });

  it('swapoff: ok for an active area, EINVAL when not active (a blank device, twice), ENOENT for a missing path', () => {
    const r = runChecked(machine('6.1', {}), on('/dev/ram3'), off('/dev/ram3'), off('/dev/ram3'), off('/dev/ram31'), off('/dev/none'));
    expect(r.results).toEqual(['ok', 'ok', 'EINVAL', 'EINVAL', 'ENOENT']);
    expect(r.steps.slice(2).map((s) => s.branches)).toEqual([['sys_swapoff:EINVAL'], ['sys_swapoff:EINVAL'], ['file_open_name:ENOENT']]);
  });

  it('files the model knows that hold no swap area: a dax character device (EINVAL, ENXIO once unbound), kernfs files (EACCES without show or store, else EINVAL), a directory (EISDIR), a proc file (EINVAL)', () => {
    const hmem = { ...machine('6.1', {}, 1), daxRegions: [{ id: 0, kind: 'hmem', start: '0x200000000', size: '1G', targetNode: 0, devices: [{ name: 'dax0.0', start: '0x200000000', size: '1G', driver: 'device_dax' }] }] };
    const r = runChecked(
      hmem,
      on('/dev/dax0.0'),
      on('/sys/devices/system/memory/block_size_bytes'),
      on('/sys/devices/system/memory/memory0/state'),
      on('/sys/devices/system/memory'),
      on('/proc/iomem'),
      off('/dev/dax0.0'),
      off('/sys/devices/system/memory/block_size_bytes'),
      { type: 'write', path: '/sys/bus/dax/drivers/device_dax/unbind', value: 'dax0.0' },
      on('/dev/dax0.0'),
      off('/dev/dax0.0'),
    );
    expect(r.results).toEqual(['EINVAL', 'EACCES', 'EINVAL', 'EISDIR', 'EINVAL', 'EINVAL', 'EACCES', 'ok', 'ENXIO', 'ENXIO']);
    expect(r.steps.slice(0, 4).map((s) => s.branches)).toEqual([['sys_swapon:EINVAL(!read_folio)'], ['file_open_name:EACCES'], ['sys_swapon:EINVAL(!read_folio)'], ['file_open_name:EISDIR']]);
    // The dax file was opened and released again: no file or cdev reference stays behind.
    expect(r.final.mm.files.size).toBe(0);
    expect(r.steps[0]?.after.devices[0]?.cdevRefs).toBe(r.steps[0]?.before?.devices[0]?.cdevRefs);
    expect(r.final.swap.info).toEqual([{ used: false, path: null }]);
    expect(r.violations).toEqual([]);
  });

  it('swapoff frees a type and the next swapon takes the lowest free one; nr_swapfiles never shrinks', () => {
    const r = runChecked(machine('6.1', {}), on('/dev/ram0'), on('/dev/ram1'), on('/dev/ram2'), off('/dev/ram1'), off('/dev/ram0'), on('/dev/ram5'));
    expect(r.results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(r.final.swap.info.map((si) => si.path)).toEqual(['/dev/ram5', null, '/dev/ram2']);
  });

  it('reboot (SPEC §7) deactivates every area: the boot applied again has swap_info[] empty', () => {
    const r = runChecked(machine('6.1', {}), on('/dev/ram0'), { type: 'reboot' }, on('/dev/ram0'), on('/dev/ram0'));
    expect(r.results).toEqual(['ok', 'ok', 'ok', 'EBUSY']);
    // The failed swapon took type 1 and gave it back (nr_swapfiles stays 2): the reboot had emptied swap_info[].
    expect(r.final.swap.info).toEqual([{ used: true, path: '/dev/ram0' }, { used: false, path: null }]);
  });

  it('prints like strace and writes back as read', () => {
    const text = [machine('6.1', {}), on('/dev/ram0'), off('/dev/ram0')].map((e) => JSON.stringify(e)).join('\n');
    const events = parseLogText(text, 'swap.jsonl').map((l) => l.event);
    expect(events.slice(1)).toEqual([
      { type: 'swapon', path: '/dev/ram0' },
      { type: 'swapoff', path: '/dev/ram0' },
    ]);
    expect(events.slice(1).map(shellCommand)).toEqual(['swapon("/dev/ram0", 0)', 'swapoff("/dev/ram0")']);
    expect(parseLogText(writeLog(events), 'again.jsonl').map((l) => l.event)).toEqual(events);
  });
});

describe('recorded on the custom hmm kernel (DEVICE_PRIVATE on, MEMORY_FAILURE off)', () => {
  it('test/traces-custom/hmm/swap-max.jsonl: 23 types, EPERM at the 24th swapon; replays with no divergence or violation', () => {
    const file = new URL('../traces-custom/hmm/swap-max.jsonl', import.meta.url);
    const events = parseLogText(readFileSync(file, 'utf8'), 'swap-max.jsonl').map((l) => l.event);
    const [b] = events;
    expect(b?.type === 'boot' && b.kernel === '6.1' && b.config.devicePrivate && !b.config.memoryFailure).toBe(true);
    const first = events.findIndex((e) => e.type === 'swapon' && e.result !== undefined && !e.result.ok);
    expect(first).toBe(24);
    const r = replay(events, { check: checkAll(makeChecker()) });
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
  });
});
