/**
 * src/kernel/profile.ts: one test per ProfileSwitches field, each running the
 * same hand-written log on two profiles that differ in that switch and
 * asserting the difference the kernel change named in the switch makes; then
 * the boot.variant switches (SPEC §6), each against the same log without the
 * variant. Expected values are worked out by hand (KERNEL-FACTS §2, §3, §9).
 */
import { failureKey } from '../../src/log/events.js';
import { describe, expect, it } from 'vitest';
import { PROFILES, VARIANT_NAMES, type KernelVersion, type ProfileSwitches } from '../../src/kernel/profile.js';
import type { KernelState } from '../../src/kernel/state.js';
import type { Outcome } from '../../src/log/events.js';
import { parseLogText } from '../../src/log/index.js';
import { applyEvent, replay } from '../../src/replay/engine.js';
import { renderIomem } from '../../src/kernel/resource.js';

const DRV = '/sys/bus/dax/drivers';
const MEM = '/sys/devices/system/memory';
const w = (path: string, value: string): string => JSON.stringify({ type: 'write', path, value });
const rd = (path: string): string => JSON.stringify({ type: 'read', path });
const inject = (site: string, errno: string): string => JSON.stringify({ type: 'inject', site, errno });
const IOMEM = rd('/proc/iomem');
const MEMINFO = rd('/proc/meminfo');
const HANDOVER = [w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0')];

const RAM = '"memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0},{"start":"0x100000000","size":"2G","node":0}]';

interface Opts {
  readonly config?: string;
  readonly variant?: string;
  readonly node?: number;
  readonly size?: string;
  readonly devSize?: string;
  readonly iomem?: string;
  readonly driver?: string;
}

/** The seed's QEMU pmem machine: `size` (512M) of legacy pmem at 2G, 2 MiB namespace, dax0.0 on device_dax. */
const pmem = (kernel: string, o: Opts = {}): string =>
  `{"type":"boot","kernel":"${kernel}","variant":${o.variant ?? 'null'},"config":${o.config ?? '{}'},${RAM},"iomem":${o.iomem ?? '[]'},"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"${o.size ?? '512M'}","targetNode":${o.node ?? 0},"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"${o.devSize ?? '510M'}","driver":${o.driver ?? '"device_dax"'}}]}]}`;

/** A 1 GiB Soft Reserved region at 8G (block 64 on) on node 1 with dax1.0 = `dev`. */
const hmem = (kernel: string, dev: string, o: Opts = {}): string =>
  `{"type":"boot","kernel":"${kernel}","variant":${o.variant ?? 'null'},"config":${o.config ?? '{}'},${RAM},"daxRegions":[{"id":1,"kind":"hmem","start":"0x200000000","size":"1G","targetNode":1,"devices":[{"name":"dax1.0",${dev}}]}]}`;

interface Run {
  readonly outcomes: readonly Outcome[];
  readonly states: readonly KernelState[];
  readonly leaks: ReadonlyArray<readonly string[]>;
}

function run(...lines: string[]): Run {
  const r = replay(parseLogText(lines.join('\n'), 'profile.test.jsonl').map((l) => l.event));
  return { outcomes: r.steps.map((s) => s.outcome), states: r.steps.map((s) => s.after), leaks: r.steps.map((s) => s.leaks) };
}

/** Per event after boot: a read's value, 'ok' for a successful write, else the errno. */
function results(r: Run): string[] {
  return r.outcomes.slice(1).map((o) => (o.ok ? (o.value ?? 'ok') : failureKey(o)));
}
const logOf = (r: Run, i: number): string => (r.outcomes[i]?.log ?? []).join('\n');

const PMEM_HEAD = '00000000-7fffffff : System RAM\n80000000-9fffffff : Persistent Memory (legacy)\n  80000000-801fffff : namespace0.0\n';
const PMEM_TAIL = '100000000-17fffffff : System RAM\n';
const kmemTree = (child: string): string => `${PMEM_HEAD}  88000000-9fffffff : dax0.0\n    88000000-9fffffff : ${child}\n${PMEM_TAIL}`;
const memTotal = (kb: number): string => `MemTotal:        ${kb} kB\n`;
/** 4 GiB of boot RAM. */
const BOOT_KB = 4194304;

/** The two profiles each test compares. */
function differ(a: KernelVersion, b: KernelVersion, sw: keyof ProfileSwitches): void {
  expect(PROFILES[a][sw]).not.toEqual(PROFILES[b][sw]);
}

/** Switches whose effect never reaches the sysfs surface on any profile (reported to the lead, see the end of the file). */
const UNOBSERVABLE: ReadonlyArray<keyof ProfileSwitches> = ['memmapOnMemory'];
const TESTED: Array<keyof ProfileSwitches> = [];
const sw = (name: keyof ProfileSwitches): string => {
  TESTED.push(name);
  return name;
};

describe('ProfileSwitches: one observable difference each', () => {
  it(`${sw('bindReportsProbeErrno')}: bind_store -EBUSY for a bound device and the probe's -EINVAL on 6.1; both ENODEV on 5.1`, () => {
    differ('5.1', '6.1', 'bindReportsProbeErrno');
    const log = (k: string) => run(pmem(k, { node: -1 }), w(`${DRV}/device_dax/bind`, 'dax0.0'), ...HANDOVER, w(`${DRV}/kmem/bind`, 'dax0.0'));
    expect(results(log('5.1'))).toEqual(['ENODEV', 'ok', 'ok', 'ENODEV']);
    expect(results(log('6.1'))).toEqual(['EBUSY', 'ok', 'ok', 'EINVAL']);
  });

  it(`${sw('daxMatchByType')}: dax_bus_match sends an hmem device to device_dax at boot on 6.1 and to kmem on 6.8; kmem bind without new_id ENODEV vs ok`, () => {
    differ('6.1', '6.8', 'daxMatchByType');
    const atBoot = (k: string) => run(hmem(k, '"start":"0x200000000","size":"256M"'), IOMEM);
    expect(results(atBoot('6.1'))[0]).toContain('200000000-23fffffff : Soft Reserved\n  200000000-20fffffff : dax1.0\n');
    expect(results(atBoot('6.1'))[0]).not.toContain('System RAM (kmem)');
    expect(results(atBoot('6.8'))[0]).toContain('  200000000-20fffffff : dax1.0\n    200000000-20fffffff : System RAM (kmem)\n');
    const bind = (k: string) => run(hmem(k, '"start":"0x200000000","size":"256M","driver":null'), w(`${DRV}/kmem/bind`, 'dax1.0'));
    expect(results(bind('6.1'))).toEqual(['ENODEV']);
    expect(results(bind('6.8'))).toEqual(['ok']);
  });

  it(`${sw('kmemDriverManaged')}: add_memory names the kmem child "System RAM" on 5.1, add_memory_driver_managed "System RAM (kmem)" on 6.1`, () => {
    differ('5.1', '6.1', 'kmemDriverManaged');
    expect(results(run(pmem('5.1'), ...HANDOVER, IOMEM))[2]).toBe(kmemTree('System RAM'));
    expect(results(run(pmem('6.1'), ...HANDOVER, IOMEM))[2]).toBe(kmemTree('System RAM (kmem)'));
  });

  it(`${sw('kmemPerRange')}: a region under one block fails the whole-region probe at request_mem_region (-EBUSY) on 5.1, the dax_kmem_range total check (-EINVAL) on 6.1`, () => {
    differ('5.1', '6.1', 'kmemPerRange');
    const log = (k: string) => run(pmem(k, { size: '64M', devSize: '62M' }), ...HANDOVER);
    const old = log('5.1');
    const cur = log('6.1');
    expect(results(old)).toEqual(['ok', 'ok']);
    expect(results(cur)).toEqual(['ok', 'ok']);
    // v5.1 dev_warn "could not reserve region [%pa-%pa]" is printed right before its -EBUSY.
    expect(logOf(old, 2)).toContain('could not reserve region');
    expect(logOf(old, 2)).not.toContain('too small after alignment');
    expect(logOf(cur, 2)).toContain('mapping0: 0x80200000-0x83ffffff too small after alignment');
    expect(logOf(cur, 2)).toContain('rejecting DAX region without any memory after alignment');
    expect(logOf(cur, 2)).not.toContain('could not reserve region');
  });

  it(`${sw('kmemRemoveHotRemoves')}: with hot-remove and offline blocks, kmem unbind removes nothing on 5.1 and everything on 6.1`, () => {
    differ('5.1', '6.1', 'kmemRemoveHotRemoves');
    const log = (k: string) => run(pmem(k, { config: '{"memoryHotremove":true}' }), ...HANDOVER, w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, rd(`${MEM}/memory17/state`));
    expect(results(log('5.1'))).toEqual(['ok', 'ok', 'ok', kmemTree('System RAM'), 'offline\n']);
    expect(results(log('6.1'))).toEqual(['ok', 'ok', 'ok', PMEM_HEAD + PMEM_TAIL, 'ENOENT']);
  });

  it(`${sw('memoryGroups')}: kmem registers a static memory group on 6.1 (memory_group_register_static can fail the probe), none on 5.1`, () => {
    differ('5.1', '6.1', 'memoryGroups');
    const log = (k: string) => run(pmem(k), inject('memory_group_register', 'ENOMEM'), ...HANDOVER, IOMEM);
    expect(results(log('5.1'))[3]).toBe(kmemTree('System RAM'));
    expect(results(log('6.1'))[3]).toBe(PMEM_HEAD + PMEM_TAIL);
    expect(run(pmem('5.1'), ...HANDOVER).states[2]?.groups.size).toBe(0);
    expect([...(run(pmem('6.1'), ...HANDOVER).states[2]?.groups.values() ?? [])]).toEqual([{ nid: 0, maxPages: 98304 }]);
  });

  it(`${sw('daxMemmapOnMemory')}: the memmap_on_memory attribute and MHP_MEMMAP_ON_MEMORY from kmem exist on 6.8 only (2 MiB of each block holds its memmap)`, () => {
    differ('6.1', '6.8', 'daxMemmapOnMemory');
    const log = (k: string) =>
      run(
        hmem(k, '"start":"0x200000000","size":"256M","driver":null,"memmapOnMemory":true', { config: '{"memmapOnMemory":true}' }),
        rd('/sys/bus/dax/devices/dax1.0/memmap_on_memory'),
        w(`${DRV}/kmem/new_id`, 'dax1.0'),
        w(`${MEM}/memory64/state`, 'online'),
        MEMINFO,
      );
    expect(results(log('6.1'))).toEqual(['ENOENT', 'ok', 'ok', memTotal(BOOT_KB + 131072)]);
    expect(results(log('6.8'))).toEqual(['1\n', 'ok', 'ok', memTotal(BOOT_KB + 131072 - 2048)]);
  });

  it(`${sw('onlineWalksSystemRam')}: only 5.1 online_pages walks System RAM, so a first_lvl walk (variant walk-top-level-only) fails a nested kmem block there and not on 6.1`, () => {
    // Without a variant the walk always finds the block's System RAM: this switch shows only together with walkTopLevelOnly.
    differ('5.1', '6.1', 'onlineWalksSystemRam');
    const log = (k: string) => run(pmem(k, { variant: '"walk-top-level-only"' }), ...HANDOVER, w(`${MEM}/memory17/state`, 'online'));
    expect(results(log('5.1'))).toEqual(['ok', 'ok', 'EINVAL']);
    expect(results(log('6.1'))).toEqual(['ok', 'ok', 'ok']);
  });

  it(`${sw('autoOnlineTypes')}: auto_online_blocks_store takes online_movable on 6.1 (mhp_online_type_from_str), only online/offline on 5.1`, () => {
    differ('5.1', '6.1', 'autoOnlineTypes');
    const path = `${MEM}/auto_online_blocks`;
    const log = (k: string) => run(pmem(k), w(path, 'online_movable'), rd(path), w(path, 'online'), rd(path));
    expect(results(log('5.1'))).toEqual(['EINVAL', 'offline\n', 'ok', 'online\n']);
    expect(results(log('6.1'))).toEqual(['ok', 'online_movable\n', 'ok', 'online\n']);
  });

  it(`${sw('daxResizable')}: dax devices have an align attribute and a writable size (dynamic regions) on 6.1, neither on 5.1`, () => {
    differ('5.1', '6.1', 'daxResizable');
    const log = (k: string) => run(hmem(k, '"start":"0x200000000","size":"256M","driver":null'), rd('/sys/bus/dax/devices/dax1.0/align'), w('/sys/bus/dax/devices/dax1.0/size', '0x20000000'), rd('/sys/bus/dax/devices/dax1.0/size'));
    expect(results(log('5.1'))).toEqual(['ENOENT', 'EACCES', '268435456\n']);
    expect(results(log('6.1'))).toEqual(['2097152\n', 'ok', '536870912\n']);
  });

  it(`${sw('kstrtoboolTrueFalse')}: online_store's kstrtobool takes "true" on 6.1 and refuses it (-EINVAL) on 5.1, which knew only y/n/1/0/on/off`, () => {
    differ('5.1', '6.1', 'kstrtoboolTrueFalse');
    const log = (k: string) => run(pmem(k), ...HANDOVER, w(`${MEM}/memory17/online`, 'true'), rd(`${MEM}/memory17/online`), w(`${MEM}/memory18/online`, 'on'), rd(`${MEM}/memory18/online`));
    expect(results(log('5.1'))).toEqual(['ok', 'ok', 'EINVAL', '0\n', 'ok', '1\n']);
    expect(results(log('6.1'))).toEqual(['ok', 'ok', 'ok', '1\n', 'ok', '1\n']);
  });

  it(`${sw('devicePrivateWarnTopLevelOnly')}: __request_region warns "Unaddressable device" for a nested device-private conflict on 6.8 and Debian's 6.1.192, only at the iomem root on 6.12.y`, () => {
    differ('6.8', '6.12', 'devicePrivateWarnTopLevelOnly');
    differ('6.1', '6.12', 'devicePrivateWarnTopLevelOnly');
    // A BUSY IORES_DESC_DEVICE_PRIVATE_MEMORY (6) node inside the pmem region: kmem's request descends into the region and hits it.
    const iomem = '[{"start":"0x90000000","size":"2M","name":"hmm","busy":true,"desc":6}]';
    const log = (k: string) => run(pmem(k, { iomem, driver: 'null' }), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'));
    const fixed = log('6.12');
    const everyLevel = log('6.8');
    expect(results(fixed)).toEqual(['ok', 'EBUSY']);
    expect(results(everyLevel)).toEqual(['ok', 'EBUSY']);
    expect(logOf(fixed, 2)).not.toContain('Unaddressable device');
    expect(logOf(everyLevel, 2)).toContain('Unaddressable device hmm');
    expect(logOf(log('6.1'), 2)).toContain('Unaddressable device hmm');
  });

  it(`${sw('probeFailedDevErr')}: really_probe prints "probe of daxX.Y failed" (pr_warn) on 6.1, "daxX.Y: probe with driver ... failed" (dev_err) on 6.12`, () => {
    differ('6.1', '6.12', 'probeFailedDevErr');
    const log = (k: string) => run(pmem(k, { node: -1 }), w(`${DRV}/device_dax/unbind`, 'dax0.0'), w(`${DRV}/kmem/new_id`, 'dax0.0'), w(`${DRV}/kmem/bind`, 'dax0.0'));
    expect(results(log('6.1'))).toEqual(['ok', 'ok', 'EINVAL']);
    expect(logOf(log('6.1'), 3)).toContain('kmem: probe of dax0.0 failed with error -22');
    expect(results(log('6.12'))).toEqual(['ok', 'ok', 'EINVAL']);
    expect(logOf(log('6.12'), 3)).toContain('kmem dax0.0: probe with driver kmem failed with error -22');
  });

  it(`${sw('kmemRemoveSkipsNeverAdded')}: kmem remove skips a range whose add failed at probe on 6.12.y / 6.1.y; v6.8 calls remove_memory on it and then remove_resource(NULL)`, () => {
    differ('6.8', '6.12', 'kmemRemoveSkipsNeverAdded');
    // Two ranges of two blocks each; the second add_memory_driver_managed fails, so probe keeps the first (mapped = 1).
    const dev = '"ranges":[{"start":"0x200000000","size":"256M"},{"start":"0x220000000","size":"256M"}],"driver":null';
    const log = (k: string) =>
      run(
        hmem(k, dev, { config: '{"memoryHotremove":true}' }),
        JSON.stringify({ type: 'inject', site: 'add_memory', errno: 'ENOMEM', nth: 2 }),
        w(`${DRV}/kmem/new_id`, 'dax1.0'),
        rd(`${MEM}/memory66/state`),
        w(`${DRV}/kmem/unbind`, 'dax1.0'),
        rd(`${MEM}/memory64/state`),
        w(`${DRV}/kmem/bind`, 'dax1.0'),
      );
    const fixed = log('6.12');
    const old = log('6.8');
    // Block 66 (the second range) was never added; the unbind removes blocks 64-65 on both, and kmem binds again (and adds both).
    expect(results(fixed)).toEqual(['ok', 'ok', 'ENOENT', 'ok', 'ENOENT', 'ok']);
    expect(results(old)).toEqual(results(fixed));
    expect(logOf(fixed, 4)).not.toContain('NULL pointer');
    expect(logOf(old, 4)).toContain('BUG: kernel NULL pointer dereference in remove_resource (dax1.0 mapping1 was never added)');
  });

  it(`${sw('daxResourceAttr')}: the dax device "resource" attribute (v5.3) is ENOENT on 5.1 and the first range's start on 6.1`, () => {
    differ('5.1', '6.1', 'daxResourceAttr');
    const log = (k: string) => run(pmem(k), rd('/sys/bus/dax/devices/dax0.0/resource'));
    expect(results(log('5.1'))).toEqual(['ENOENT']);
    expect(results(log('6.1'))).toEqual(['0x80200000\n']);
  });

  it(`${sw('kmemRemoveLeakFixed')}: before e686c32590f4 kmem's hot-remove detaches "System RAM (kmem)" with its parent and never frees it (a kernel-memory leak the model names; the tree looks the same)`, () => {
    // No modelled profile pairs this switch with the hot-remove path (5.1 never removes), so flip it on a 6.1 state.
    const boot = parseLogText([hmem('6.1', '"start":"0x200000000","size":"1G","driver":null', { config: '{"memoryHotremove":true}' }), w(`${DRV}/kmem/new_id`, 'dax1.0')].join('\n'), 'x.jsonl').map((l) => l.event);
    const base = replay(boot).final;
    const unbind = { type: 'write' as const, path: `${DRV}/kmem/unbind`, value: 'dax1.0', raw: false };
    const fixed = applyEvent(base, unbind, 2);
    const leaky = applyEvent({ ...base, profile: { ...base.profile, kmemRemoveLeakFixed: false } }, unbind, 2);
    expect(renderIomem(leaky.after.iomem)).toBe(renderIomem(fixed.after.iomem));
    expect(fixed.leaks).toEqual([]);
    expect(leaky.leaks).toEqual(['dax1.0 mapping0: System RAM (kmem) struct resource detached, never freed']);
  });

  // MAX_SWAPFILES (src/kernel/mm/swapfile.ts): how many of 32 swapon calls succeed, on 32 prepared devices.
  const swapCount = (kernel: string, config: string): number => {
    const devs = JSON.stringify(Array.from({ length: 32 }, (_, i) => `/dev/ram${i}`));
    const b = `{"type":"boot","kernel":"${kernel}","config":${config},${RAM},"blockDevices":${devs},"swapAreas":${devs}}`;
    return results(run(b, ...Array.from({ length: 32 }, (_, i) => JSON.stringify({ type: 'swapon', path: `/dev/ram${i}` })))).filter((x) => x === 'ok').length;
  };
  it(`${sw('swpDeviceNum')}: with DEVICE_PRIVATE (and nothing else optional but MIGRATION), v5.1 reserves 2 device types, 6.1 4 (SWP_DEVICE_EXCLUSIVE_*) and its swapin-error type: 28 vs 24 swap areas`, () => {
    differ('5.1', '6.1', 'swpDeviceNum');
    const cfg = '{"devicePrivate":true,"pteMarker":false}';
    expect([swapCount('5.1', cfg), swapCount('6.1', cfg)]).toEqual([28, 24]);
  });

  it(`${sw('swpMigrationNum')}: MIGRATION alone reserves 2 types on 5.1 and 3 on 6.1 (SWP_MIGRATION_READ_EXCLUSIVE): 30 vs 28 (6.1 also loses its swapin-error type)`, () => {
    differ('5.1', '6.1', 'swpMigrationNum');
    const cfg = '{"pteMarker":false}';
    expect([swapCount('5.1', cfg), swapCount('6.1', cfg)]).toEqual([30, 28]);
  });

  it(`${sw('swpPteMarker')}: CONFIG_PTE_MARKER off frees a type on 6.1 only; 6.12 always reserves it, 5.1 never has it`, () => {
    differ('6.1', '6.12', 'swpPteMarker');
    const count = (k: string, pte: boolean) => swapCount(k, `{"migration":false,"pteMarker":${pte}}`);
    expect([count('6.1', true), count('6.1', false), count('6.12', true), count('6.12', false), count('5.1', true)]).toEqual([30, 31, 31, 31, 32]);
  });

  it(`${sw('swpSwapinError')}: 6.1 reserves SWP_SWAPIN_ERROR whatever the config, 6.12 does not: with nothing optional, 31 on both (6.12's PTE marker instead)`, () => {
    differ('6.1', '6.12', 'swpSwapinError');
    const none = '{"migration":false,"pteMarker":false}';
    // 6.1: 32 - SWAPIN_ERROR; 6.12: 32 - PTE_MARKER (not optional there). 6.8 as 6.12; 5.1 has neither.
    expect([swapCount('6.1', none), swapCount('6.12', none), swapCount('6.8', none), swapCount('5.1', none)]).toEqual([31, 31, 31, 32]);
    expect(swapCount('6.1', '{"migration":false,"pteMarker":true}') - swapCount('6.12', '{"migration":false,"pteMarker":true}')).toBe(-1);
  });

  const hmmBoot = (kernel: string, config: string, iomem = '[]', variant = 'null'): string =>
    `{"type":"boot","kernel":"${kernel}","variant":${variant},"config":{"devicePrivate":true,"testHmm":"m",${config}},"memoryBlockSize":"128M","ram":[{"start":"0x0","size":"1G","node":0}],"iomem":${iomem}}`;
  const MODPROBE = '{"type":"modprobe","module":"test_hmm"}';
  const chunk0 = (r: Run): string | undefined => r.states[1]?.hmm.devices[0]?.chunks[0]?.start.toString(16);

  it(`${sw('gfrStep')}: get_free_mem_region steps down by the size on 6.1 and by the alignment on 6.12: under a reserved top 128 MiB the first chunk lands at ffe0000000 vs ffe8000000`, () => {
    differ('6.1', '6.12', 'gfrStep');
    const top = '[{"start":"0xfff8000000","end":"0xffffffffff","name":"Reserved","busy":true}]';
    expect([chunk0(run(hmmBoot('6.1', '"physAddrBits":40', top), MODPROBE)), chunk0(run(hmmBoot('6.12', '"physAddrBits":40', top), MODPROBE))]).toEqual(['ffe0000000', 'ffe8000000']);
  });

  it(`${sw('addPagesChecksPhysmemEnd')}: a placement above PHYSMEM_END (variant hmm-placement-no-physmem-end-clamp, 52-bit CPU) is refused by add_pages (-ERANGE) on 6.1.192 and placed on 6.8`, () => {
    differ('6.1', '6.8', 'addPagesChecksPhysmemEnd');
    const v = '"hmm-placement-no-physmem-end-clamp"';
    const on = (k: string) => run(hmmBoot(k, '"physAddrBits":52', '[]', v), MODPROBE);
    expect(results(on('6.1'))).toEqual(['ERANGE']);
    expect(results(on('6.8'))).toEqual(['ok']);
    expect(chunk0(on('6.8'))).toBe('ffffff0000000');
  });

  it(`${sw('anonThpAlign')}: a 4 MiB anonymous mmap lands right below [vvar] on 6.1, on the 2 MiB boundary of a 6 MiB search on 6.8 and 6.12; 3 MiB only on 6.8`, () => {
    differ('6.1', '6.12', 'anonThpAlign');
    differ('6.8', '6.12', 'anonThpAlign');
    const mmap = (len: string) => JSON.stringify({ type: 'mmap', pid: 'p1', map: 'm1', fd: null, length: len, offset: '0', prot: 'rw', flags: ['private'] });
    const at = (k: string, len: string): string | undefined => {
      const v = run(pmem(k), mmap(len)).outcomes[1];
      return v !== undefined && v.ok ? v.value : undefined;
    };
    // [vvar] starts at 0x7ffff7ff9000. __thp_get_unmapped_area asks for len + 2 MiB and moves up to the boundary.
    expect([at('6.1', '4M'), at('6.8', '4M'), at('6.12', '4M')]).toEqual(['0x7ffff7bf9000', '0x7ffff7a00000', '0x7ffff7a00000']);
    expect([at('6.1', '3M'), at('6.8', '3M'), at('6.12', '3M')]).toEqual(['0x7ffff7cf9000', '0x7ffff7c00000', '0x7ffff7cf9000']);
  });

  it('every ProfileSwitches field is exercised above or listed as unobservable (reported to the lead)', () => {
    expect([...TESTED, ...UNOBSERVABLE].sort()).toEqual(Object.keys(PROFILES['6.12']).sort());
  });
});

/** Variants without a test: the behaviour cannot be reached through the sysfs surface on its own (reported to the lead). */
const UNREACHABLE_VARIANTS: string[] = [];
/** Variants whose test lives with their area's mirrors. */
const TESTED_ELSEWHERE: Readonly<Record<string, string>> = {
  'dax-no-may-split': 'test/kernel/daxMapping.test.ts',
  'mremap-no-split-check': 'test/kernel/daxMapping.test.ts',
  'dax-pte-fault-ignores-align': 'test/kernel/daxMapping.test.ts',
  'dax-unbind-skips-zap': 'test/kernel/daxMapping.test.ts',
  'follow-pfn-pte-only': 'test/kernel/followPfn.test.ts',
  'hmm-placement-no-physmem-end-clamp': 'test/kernel/hmm.test.ts',
  'hmm-placement-off-by-one': 'test/kernel/hmm.test.ts',
  'hmm-fork-keeps-write': 'test/kernel/hmmMigrate.test.ts',
  'hmm-mprotect-keeps-write': 'test/kernel/hmmMigrate.test.ts',
  'hmm-zap-skips-put': 'test/kernel/hmmMigrate.test.ts',
  'hmm-range-fault-foreign-valid': 'test/kernel/hmmMigrate.test.ts',
  'hmm-exclusive-maps-partial': 'test/kernel/hmmExclusive.test.ts',
};
const TESTED_VARIANTS: string[] = [];
const vt = (name: string): string => {
  TESTED_VARIANTS.push(name);
  return name;
};

describe('boot.variant (SPEC §6): each variant against the same log without it', () => {
  it(`${vt('walk-top-level-only')}: online_pages' first_lvl walk_system_ram_range misses System RAM nested under dax0.0, so onlining a kmem block is EINVAL (5.1)`, () => {
    const log = (v: string) => run(pmem('5.1', { variant: v }), ...HANDOVER, w(`${MEM}/memory17/state`, 'online'), rd(`${MEM}/memory17/state`));
    const bad = log('"walk-top-level-only"');
    expect(results(bad)).toEqual(['ok', 'ok', 'EINVAL', 'offline\n']);
    expect(bad.states[3]?.devices[0]?.phase).toBe('kmem');
    expect(results(log('null'))).toEqual(['ok', 'ok', 'ok', 'online\n']);
  });

  it(`${vt('walk-returns-minus-one')}: before "return real error codes from walk failures" (and so, in the 2019 series' order, before the child search) onlining a kmem block fails with -1, seen as EPERM (5.1)`, () => {
    const log = (v: string) => run(pmem('5.1', { variant: v }), ...HANDOVER, w(`${MEM}/memory17/state`, 'online'));
    expect(results(log('"walk-returns-minus-one"'))).toEqual(['ok', 'ok', 'EPERM']);
    expect(results(log('null'))).toEqual(['ok', 'ok', 'ok']);
  });

  it(`${vt('register-top-level-only')}: register_memory_resource's top-level request_resource conflicts with "Persistent Memory (legacy)": -EEXIST from bind on 6.8, ENODEV on 5.1`, () => {
    const log = (k: string, v: string) => run(pmem(k, { variant: v }), ...HANDOVER, w(`${DRV}/kmem/bind`, 'dax0.0'), IOMEM);
    expect(results(log('6.8', '"register-top-level-only"'))).toEqual(['ok', 'ok', 'EEXIST', PMEM_HEAD + PMEM_TAIL]);
    const old = log('5.1', '"register-top-level-only"');
    expect(results(old)).toEqual(['ok', 'ok', 'ENODEV', PMEM_HEAD + PMEM_TAIL]);
    // Without the variant 5.1's bind is ENODEV too (already bound), but the memory is there.
    expect(results(log('5.1', 'null'))).toEqual(['ok', 'ok', 'ENODEV', kmemTree('System RAM')]);
    expect(results(log('6.8', 'null'))).toEqual(['ok', 'ok', 'EBUSY', kmemTree('System RAM (kmem)')]);
  });

  it(`${vt('kmem-accepts-invalid-node')}: without the target_node < 0 check kmem adds memory for a node -1 device (on memory_add_physaddr_to_nid's node 0)`, () => {
    const log = (v: string) => run(pmem('6.8', { node: -1, variant: v }), ...HANDOVER, w(`${DRV}/kmem/bind`, 'dax0.0'), IOMEM);
    const bad = log('"kmem-accepts-invalid-node"');
    expect(results(bad)).toEqual(['ok', 'ok', 'EBUSY', kmemTree('System RAM (kmem)')]);
    expect(bad.states[4]?.blocks.get(17)?.nid).toBe(0);
    expect(results(log('null'))).toEqual(['ok', 'ok', 'EINVAL', PMEM_HEAD + PMEM_TAIL]);
  });

  it(`${vt('kmem-probe-leaks-on-add-failure')}: before 31e4ca92a7dd a failed add_memory leaves the reserved dax0.0 node, so device_dax can no longer bind (5.1)`, () => {
    const log = (v: string) => run(pmem('5.1', { variant: v }), w(`${DRV}/device_dax/unbind`, 'dax0.0'), inject('add_memory', 'ENOMEM'), w(`${DRV}/kmem/new_id`, 'dax0.0'), IOMEM, w(`${DRV}/device_dax/bind`, 'dax0.0'));
    const bad = log('"kmem-probe-leaks-on-add-failure"');
    expect(results(bad)).toEqual(['ok', 'ok', 'ok', `${PMEM_HEAD}  88000000-9fffffff : dax0.0\n${PMEM_TAIL}`, 'ENODEV']);
    expect(bad.leaks[3]).not.toEqual([]);
    const good = log('null');
    expect(results(good)).toEqual(['ok', 'ok', 'ok', PMEM_HEAD + PMEM_TAIL, 'ok']);
    expect(good.leaks[3]).toEqual([]);
  });

  it(`${vt('memmap-whole-range')}: one altmap at the start of a two-block add puts both memmaps (4 MiB) in block 64, so onlining block 64 alone gives 2 MiB less (6.8)`, () => {
    const log = (v: string) =>
      run(
        hmem('6.8', '"start":"0x200000000","size":"256M","memmapOnMemory":true', { config: '{"memmapOnMemory":true}', variant: v }),
        w(`${MEM}/memory64/state`, 'online'),
        MEMINFO,
        w(`${MEM}/memory65/state`, 'online'),
        MEMINFO,
      );
    expect(results(log('"memmap-whole-range"'))).toEqual(['ok', memTotal(BOOT_KB + 131072 - 4096), 'ok', memTotal(BOOT_KB + 2 * 131072 - 4096)]);
    expect(results(log('null'))).toEqual(['ok', memTotal(BOOT_KB + 131072 - 2048), 'ok', memTotal(BOOT_KB + 2 * 131072 - 4096)]);
  });

  it(`${vt('memmap-ignores-support')}: with 72-byte struct pages (576 memmap pages, not pageblock aligned) the kernel falls back to no altmap, the variant uses one anyway (6.8)`, () => {
    const log = (v: string) =>
      run(
        hmem('6.8', '"start":"0x200000000","size":"256M","memmapOnMemory":true', { config: '{"memmapOnMemory":true,"structPageSize":72}', variant: v }),
        w('/sys/bus/dax/devices/dax1.0/memmap_on_memory', '1'),
        w(`${MEM}/memory64/state`, 'online'),
        MEMINFO,
      );
    // 576 pages * 4 KiB = 2304 kB held by the block itself.
    expect(results(log('"memmap-ignores-support"'))).toEqual(['EOPNOTSUPP', 'ok', memTotal(BOOT_KB + 131072 - 2304)]);
    expect(results(log('null'))).toEqual(['EOPNOTSUPP', 'ok', memTotal(BOOT_KB + 131072)]);
  });

  it(`${vt('kmem-remove-releases-region')}: kmem remove frees dax0.0 and its child although remove_memory failed, so device_dax binds over online memory (6.8)`, () => {
    const log = (v: string) => run(pmem('6.8', { variant: v }), ...HANDOVER, w(`${MEM}/memory17/state`, 'online_movable'), w(`${DRV}/kmem/unbind`, 'dax0.0'), IOMEM, w(`${DRV}/device_dax/bind`, 'dax0.0'), rd(`${MEM}/memory17/state`));
    const bad = log('"kmem-remove-releases-region"');
    expect(results(bad)).toEqual(['ok', 'ok', 'ok', 'ok', PMEM_HEAD + PMEM_TAIL, 'ok', 'online\n']);
    expect(bad.states[6]?.devices[0]?.driver).toBe('device_dax');
    expect(results(log('null'))).toEqual(['ok', 'ok', 'ok', 'ok', kmemTree('System RAM (kmem)'), 'EBUSY', 'online\n']);
  });

  it('every variant is exercised above or listed as unreachable on its own (reported to the lead)', () => {
    expect([...TESTED_VARIANTS, ...UNREACHABLE_VARIANTS, ...Object.keys(TESTED_ELSEWHERE)].sort()).toEqual([...VARIANT_NAMES].sort());
  });
});

/*
 * Not testable through the sysfs surface:
 * - memmapOnMemory ('single-block'): mhp_supports_memmap_on_memory is asked only with
 *   MHP_MEMMAP_ON_MEMORY (kmem passes it on 6.8 only) or from the 6.8-only sysfs knob;
 *   test/kernel/memmapOnMemory.test.ts covers the single-block rule directly.
 */
