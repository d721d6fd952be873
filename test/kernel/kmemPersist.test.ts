/**
 * The kmem persistence RFC as posted (patch series kmem-persist,
 * KERNEL-FACTS-PERSIST): its rules with the worked numbers of §2, its bugs
 * (§3) each caught by a named invariant and gone under its fix, and every
 * failure branch it adds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkStep } from '../../properties/invariants/index.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { freeUnusedMask, kmemBlkGeometry } from '../../src/kernel/dax/kmemBlk.js';
import { PERSIST_INVARIANTS } from '../../properties/invariants/persist.js';
import { StepMemo, type InvariantContext } from '../../properties/invariants/types.js';
import type { KernelState } from '../../src/kernel/state.js';
import { withDevice, withState } from '../../src/kernel/state.js';
import { IntervalSet } from '../../src/util/intervalSet.js';
import { kstrtoint } from '../../src/kernel/kstrtox.js';
import { boot, read, region, runChecked, write, type Json } from '../helpers/machine.js';

const D = '/sys/bus/dax/drivers';
const PARAM = '/sys/module/kmem/parameters/persist_format_type';
const NODE1 = '/sys/devices/system/node/node1/meminfo';

/** 6.1, RAM on node 0 only, a 512 MiB pmem region on node 1 at 6 GiB (dax0.0 on device_dax): a persistent device on a node of its own. */
function machine(patches: string[] = [], size = '512M', extra: Json = {}): Json {
  return boot({ kernel: '6.1', patches: ['kmem-persist', ...patches], daxRegions: [{ ...region('pmem', 0, '0x180000000', size, { driver: 'device_dax' }), targetNode: 1 }], ...extra }, { memoryHotremove: true });
}
const unbind = write(`${D}/device_dax/unbind`, 'dax0.0');
const toKmem = write(`${D}/kmem/new_id`, 'dax0.0');
const open = (flags = 'rdwr', fd = 'f1') => ({ type: 'open', pid: 'p1', fd, path: '/dev/kmem1', flags });
const pwrite = (offset: string, length: string, value: string, fd = 'f1') => ({ type: 'pwrite', pid: 'p1', fd, offset, length, value });
const pread = (offset: string, length: string, fd = 'f1') => ({ type: 'pread', pid: 'p1', fd, offset, length });
const discard = (start: string, length: string, cmd = 'BLKDISCARD') => ({ type: 'ioctl', pid: 'p1', fd: 'f1', cmd, args: { start, length } });
const reboot = { type: 'reboot' };
const blk = [unbind, write(PARAM, '1'), toKmem];

function memFree(node: string): number {
  return Number(/MemFree:\s+(\d+) kB/.exec(node)?.[1] ?? NaN);
}

describe('the BLK format (KERNEL-FACTS-PERSIST §2, worked numbers)', () => {
  it.each([
    [32768, 64, 32703],
    [131072, 256, 130815],
    [262144, 511, 261632],
    [524288, 1023, 523264],
    [4194304, 8177, 4186126],
    [1, 0, 0],
    [2, 1, 0],
    [3, 1, 1],
    [514, 1, 512],
    [515, 2, 512],
  ])('N = %i pages: n = %i index pages, e = %i blocks', (N, n, e) => {
    expect(kmemBlkGeometry(N)).toEqual({ n, e });
  });

  it('a 512 MiB device: kmem1 of 1,046,520 sectors, MemTotal 512 MiB, MemFree e pages', () => {
    const r = runChecked(machine(), unbind, read(PARAM), write(PARAM, '1'), toKmem, read('/sys/block/kmem1/size'), read(NODE1));
    expect(r.results.slice(0, 5)).toEqual(['ok', '-1\n', 'ok', 'ok', '1046520\n']);
    expect(r.results[5]).toBe('Node 1 MemTotal:         524288 kB\nNode 1 MemFree:          523260 kB\n');
    expect(r.violations).toEqual([]);
  });
});

describe('block I/O and reboots', () => {
  it('writes get pages, reads see them, a discard returns the page, data and index survive a reboot', () => {
    const r = runChecked(
      machine(['kmem-persist-fix-shift']),
      ...blk,
      open(),
      pwrite('0', '8K', '0xabc'),
      pread('0', '16K'),
      read(NODE1),
      discard('0', '4K'),
      pread('0', '8K'),
      read(NODE1),
      reboot,
      unbind,
      toKmem,
      read(NODE1),
      open(),
      pread('0', '8K'),
    );
    expect(r.results).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      '0x2000',
      '0xabc*1024,0x0*1024',
      'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:          523252 kB\n',
      'ok',
      '0x0*512,0xabc*512',
      'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:          523256 kB\n',
      'ok',
      'ok',
      'ok',
      'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:          523256 kB\n',
      'ok',
      '0x0*512,0xabc*512',
    ]);
    expect(r.violations).toEqual([]);
  });

  it('a NONE device frees every page but the superblock; its unbind frees that too and the memory stays online', () => {
    const r = runChecked(machine(['kmem-persist-fix-unbind']), unbind, write(PARAM, '0'), toKmem, read(NODE1), write(`${D}/kmem/unbind`, 'dax0.0'), read(NODE1));
    expect(memFree(r.results[3] ?? '')).toBe(524288 - 4);
    expect(memFree(r.results[5] ?? '')).toBe(524288);
    expect(r.violations).toEqual([]);
  });

  it('the block layer: alignment, range, modes, a gone disk, mmap', () => {
    const r = runChecked(
      machine(['kmem-persist-fix-shift', 'kmem-persist-fix-unbind']),
      ...blk,
      open(),
      pwrite('0x800', '4K', '0x1'),
      pwrite('0x1fefe000', '8K', '0x2'),
      pwrite('0x1feff000', '4K', '0x3'),
      pread('0x1fefe000', '8K'),
      pread('0x1feff000', '4K'),
      discard('0x200', '0x200'),
      discard('0x100', '0x200'),
      discard('0x1fefe000', '8K'),
      discard('0', '4K', 'BLKZEROOUT'),
      open('rdonly', 'f2'),
      pwrite('0', '4K', '0x1', 'f2'),
      open('wronly', 'f3'),
      pread('0', '4K', 'f3'),
      { type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: '4K', offset: '0', prot: 'r', flags: ['shared'] },
      // A command of another driver (test_hmm's): blkdev_ioctl knows no such command.
      { type: 'ioctl', pid: 'p1', fd: 'f1', cmd: 'HMM_DMIRROR_READ', args: { addr: { map: 'm1', offset: '0' }, npages: '1' } },
      write(`${D}/kmem/unbind`, 'dax0.0'),
      pread('0', '4K'),
      pwrite('0', '4K', '0x1'),
      discard('0', '4K'),
      read('/sys/block/kmem1/size'),
    );
    // A file kept open across the unbind: del_gendisk left a disk of capacity 0 (recorded on the kmem-persist kernel).
    expect(r.results).toEqual(['ok', 'ok', 'ok', 'ok', 'EINVAL', '0x1000', 'ENOSPC', '0x2', '', 'EINVAL', 'EINVAL', 'EINVAL', 'ok', 'ok', 'EBADF', 'ok', 'EBADF', 'ENODEV', 'ENOTTY', 'ok', '', 'ENOSPC', 'EINVAL', 'ENOENT']);
    const branches = r.steps.flatMap((s) => s.branches);
    for (const b of ['blkdev_write_iter:ENOSPC', 'vfs_write:EBADF', 'vfs_read:EBADF', 'blkdev_mmap:ENODEV(not-modelled)', 'blkdev_ioctl:ENOTTY', 'blkdev_read_iter:eof(disk-gone)', 'blkdev_write_iter:ENOSPC(disk-gone)', 'kmem_blk_cleanup:keeps-data'])
      expect(branches).toContain(b);
    expect(r.violations).toEqual([]);
  });

  it('a full disk: the write that finds no page fails with EIO', () => {
    // 128 MiB: 32,703 blocks; every one written, the next write has no page.
    const r = runChecked(machine(['kmem-persist-fix-shift'], '128M'), ...blk, open(), pwrite('0', `${32703 * 4096}`, '0x5'), read(NODE1));
    expect(r.results.slice(4)).toEqual([`0x${(32703 * 4096).toString(16)}`, 'Node 1 MemTotal:         131072 kB\nNode 1 MemFree:               0 kB\n']);
    // No page is left: a write into the slack of the last index page has nowhere to go either.
    expect(r.violations).toEqual([]);
  });
});

describe('module parameters and probe errors', () => {
  it('kstrtoint (lib/kstrtox.c): a sign, base 0, int range', () => {
    const v = (s: string) => {
      const r = kstrtoint(s);
      return r.ok ? r.value : r.errno;
    };
    expect(['1', '-1', '+7', '0x10', '010', '-0x80000000', '2147483647', '2147483648', '-2147483649', '-+1', '--1', '', '1x', '5\n'].map(v)).toEqual([
      1, -1, 7, 16, 8, -2147483648, 2147483647, 'ERANGE', 'ERANGE', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 5,
    ]);
  });

  it('persist_format_type takes ints (kstrtoint), persist_format_force bools (kstrtobool)', () => {
    const force = '/sys/module/kmem/parameters/persist_format_force';
    const r = runChecked(machine(), write(PARAM, '0x1'), read(PARAM), write(PARAM, 'one'), write(PARAM, '4294967296'), write(PARAM, '-2'), read(PARAM), read(force), write(force, 'y'), read(force), write(force, 'maybe'));
    expect(r.results).toEqual(['ok', '1\n', 'EINVAL', 'ERANGE', 'ok', '-2\n', 'N\n', 'ok', 'Y\n', 'EINVAL']);
    expect(r.violations).toEqual([]);
  });

  it('the node check: a node with memory is refused before anything is allocated', () => {
    const m = boot({ kernel: '6.1', patches: ['kmem-persist'], daxRegions: [{ ...region('pmem', 0, '0x180000000', '512M', { driver: 'device_dax' }), targetNode: 0 }] });
    const r = runChecked(m, unbind, write(PARAM, '1'), toKmem);
    // new_id's driver_attach ignores the probe's error.
    expect(r.results).toEqual(['ok', 'ok', 'ok']);
    expect(r.steps[2]?.branches).toContain('dev_dax_kmem_probe:EINVAL(node-has-memory)');
    expect(r.steps[2]?.outcome.log).toContain('kmem dax0.0: rejecting DAX region on numa_node with existing memory');
  });

  it('a type no module registered: the probe still returns 0, every page held', () => {
    const r = runChecked(machine(), unbind, write(PARAM, '7'), toKmem, read(NODE1));
    expect(r.results).toEqual(['ok', 'ok', 'ok', 'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:               0 kB\n']);
    expect(r.steps[2]?.branches).toContain('kmem_persist_probe:EINVAL(no-type)');
    expect(r.violations).toContain('persist-page-partition@dev_dax_kmem_probe');
  });

  it('a BLK superblock that does not fit the device: EINVAL(counts), the BLK reference leaked, every page held', () => {
    // A device_dax user writes magic and type 1 (n = e = 0) into page 0 through /dev/dax0.0; kmem then probes it.
    const r = runChecked(
      machine(),
      { type: 'open', pid: 'p1', fd: 'f1', path: '/dev/dax0.0', flags: 'rdwr' },
      { type: 'mmap', pid: 'p1', map: 'm1', fd: 'f1', length: '2M', offset: '0', prot: 'rw', flags: ['shared'] },
      { type: 'access', pid: 'p1', map: 'm1', offset: '0', op: 'write', value: '0x4b4d454d50455253' },
      { type: 'access', pid: 'p1', map: 'm1', offset: '8', op: 'write', value: '0x1' },
      { type: 'exit', pid: 'p1' },
      unbind,
      toKmem,
    );
    expect(r.results.at(-1)).toBe('ok');
    expect(r.steps.at(-1)?.branches).toContain('kmem_blk_probe:EINVAL(counts)');
    expect(r.violations).toContain('persist-type-refcount@kmem_persist_probe');
  });

  it('a device too large for kmem_blk_data (about 1 TiB and more): kzalloc fails, ENOMEM', () => {
    const m = boot({
      kernel: '6.1',
      memoryBlockSize: '2G',
      patches: ['kmem-persist'],
      ram: [{ start: '0x0', size: '4G', node: 0 }],
      daxRegions: [{ ...region('pmem', 0, '0x10000000000', '1040G', { driver: 'device_dax' }), targetNode: 1 }],
    });
    const r = runChecked(m, unbind, write(PARAM, '1'), toKmem);
    expect(r.steps[2]?.branches).toContain('kmem_blk_probe:ENOMEM(kzalloc)');
  });
});

describe('the RFC bugs: each caught by an invariant, each gone under its fix', () => {
  it('P1/P2: an unformatted device with the default parameter: probe returns 0 with every page held, and unbind oopses on the NULL ops', () => {
    const r = runChecked(machine(), unbind, toKmem, read(NODE1), write(`${D}/kmem/unbind`, 'dax0.0'));
    expect(r.results.slice(0, 3)).toEqual(['ok', 'ok', 'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:               0 kB\n']);
    expect(r.results[3]).toBe('oops');
    expect(r.steps[1]?.branches).toContain('kmem_persist_probe:EINVAL(unformatted)');
    expect(r.violations).toEqual(expect.arrayContaining(['persist-page-partition@dev_dax_kmem_probe', 'no-oops@kmem_persist_cleanup']));
    const fixed = runChecked(machine(['kmem-persist-fix-probe-errors']), unbind, toKmem, read(NODE1), write(`${D}/kmem/unbind`, 'dax0.0'));
    expect(fixed.results).toEqual(['ok', 'ok', 'Node 1 MemTotal:         524288 kB\nNode 1 MemFree:          524288 kB\n', 'ok']);
    expect(fixed.violations).toEqual([]);
  });

  it('P3: the int shift on x86-64 leaks the unmapped partner {k, k+32} of a mapped page at the next probe', () => {
    expect([0, 30, 31, 32, 62, 63].map((k) => freeUnusedMask(k, 'x86').toString(16))).toEqual(['1', '40000000', 'ffffffff80000000', '1', '40000000', 'ffffffff80000000']);
    // 512 MiB, lowest-free: map only LBA 32 → page 289 (k = 33); after reboot page 257 (k = 1) is kept.
    const events = [...blk, open(), pwrite(`${32 * 4096}`, '4K', '0x7'), reboot, unbind, toKmem, read(NODE1)];
    const r = runChecked(machine(), ...events);
    expect(memFree(r.results.at(-1) ?? '')).toBe(130813 * 4);
    expect(r.violations).toContain('persist-page-partition@kmem_blk_free_unused');
    const fixed = runChecked(machine(['kmem-persist-fix-shift']), ...events);
    expect(memFree(fixed.results.at(-1) ?? '')).toBe(130814 * 4);
    expect(fixed.violations).toEqual([]);
  });

  it('P4: where a 32-bit shift by 32..63 is 0, mapped pages are freed at probe and a later write takes one: the data is lost', () => {
    const events = [...blk, open(), pwrite('0', `${48 * 4096}`, '0x11'), reboot, unbind, toKmem, open(), pwrite(`${1000 * 4096}`, '4K', '0x22'), pread(`${31 * 4096}`, '8K')];
    const r = runChecked(machine(['kmem-persist-zero-shift']), ...events);
    expect(r.violations).toEqual(expect.arrayContaining(['persist-never-free-live-data@kmem_blk_free_unused', 'persist-read-your-writes@kmem_blk_submit_bio']));
    const fixed = runChecked(machine(['kmem-persist-zero-shift', 'kmem-persist-fix-shift']), ...events);
    expect(fixed.results.at(-1)).toBe('0x11');
    expect(fixed.violations).toEqual([]);
  });

  it('P5: unbind frees the data, index and superblock pages into memory that stays online', () => {
    const events = [...blk, open(), pwrite('0', '4K', '0x1'), write(`${D}/kmem/unbind`, 'dax0.0'), read(NODE1)];
    const r = runChecked(machine(['kmem-persist-fix-shift']), ...events);
    expect(r.results.at(-2)).toBe('ok');
    expect(r.steps.at(-2)?.outcome.log?.some((l) => l.includes('cannot be hotremoved until the next reboot'))).toBe(true);
    expect(memFree(r.results.at(-1) ?? '')).toBe(524288);
    expect(r.violations).toContain('persist-never-free-live-data@kmem_blk_cleanup');
    const fixed = runChecked(machine(['kmem-persist-fix-shift', 'kmem-persist-fix-unbind']), ...events);
    expect(memFree(fixed.results.at(-1) ?? '')).toBe(524288 - 4 * (1 + 256 + 1));
    expect(fixed.violations).toEqual([]);
  });

  it('P6: memory onlined movable: GFP_NOIO gets no page, every write to a new block fails with EIO', () => {
    const events = [write('/sys/devices/system/memory/auto_online_blocks', 'online_movable'), ...blk, open(), pwrite('0', '4K', '0x1'), pread('0', '4K'), write('/sys/devices/system/memory/memory48/state', 'offline')];
    const r = runChecked(machine(['kmem-persist-fix-shift']), ...events);
    expect(r.results.slice(-3)).toEqual(['EIO', '0x0', 'EINTR']);
    expect(r.steps.flatMap((s) => s.branches)).toEqual(expect.arrayContaining(['kmem_blk_submit_bio:EIO(write)', 'dax_kmem_alloc_page:ENOMEM']));
    expect(r.violations).toContain('persist-write-allocation@dax_kmem_alloc_page');
    // Under the fix the blocks are in a kernel zone; block 48 holds the superblock (EBUSY), and kmem's notifier refuses
    // to let block 49 go (EPERM): re-onlined movable, its pool pages would be out of GFP_NOIO's reach again.
    const fixed = runChecked(machine(['kmem-persist-fix-shift', 'kmem-persist-fix-movable']), ...events, write('/sys/devices/system/memory/memory49/state', 'offline'));
    expect(fixed.results.slice(-4)).toEqual(['0x1000', '0x1', 'EBUSY', 'EPERM']);
    expect(fixed.steps.at(-1)?.branches).toContain('kmem_persist_memory_notifier:NOTIFY_BAD');
    expect(fixed.violations).toEqual([]);
  });
});

describe('each invariant can fail (a bad state)', () => {
  const good = runChecked(machine(['kmem-persist-fix-shift']), ...blk, open(), pwrite('0', '8K', '0x1'));
  const s0 = good.final;
  const ctx = (after: KernelState): InvariantContext => ({ step: { ...(good.steps.at(-1) as (typeof good.steps)[number]), before: null, after }, before: null, after, changedBlocks: [], blockChanges: [], full: true, memo: new StepMemo() });
  const inv = (name: string) => {
    const i = PERSIST_INVARIANTS.find((x) => x.name === name);
    if (i === undefined) throw new Error(name);
    return i;
  };
  const withPersist = (s: KernelState, f: (p: NonNullable<NonNullable<KernelState['devices'][number]['kmem']>['persist']>) => object): KernelState =>
    withState(s, {
      devices: s.devices.map((d) => (d.kmem?.persist === undefined ? d : withDevice(d, { kmem: { ...d.kmem, persist: { ...d.kmem.persist, ...f(d.kmem.persist) } } }))),
    });

  it('the good state passes every persist invariant', () => {
    for (const i of PERSIST_INVARIANTS) expect(i.check(ctx(s0)), i.name).toEqual([]);
  });
  it('persist-page-partition: a held pool page nobody maps', () => {
    expect(inv('persist-page-partition').check(ctx(withPersist(s0, (p) => ({ held: p.held.add(1000) }))))).toHaveLength(1);
  });
  it('persist-never-free-live-data: a mapped page not held', () => {
    expect(inv('persist-never-free-live-data').check(ctx(withPersist(s0, (p) => ({ held: p.held.delete(257) }))))).toHaveLength(1);
  });
  it('persist-accounting: more pages held than the device has', () => {
    expect(inv('persist-accounting').check(ctx(withPersist(s0, (p) => ({ held: IntervalSet.range(0, p.numPages + 1) }))))[0]).toMatch(/held of/);
  });
  it('persist-disk: an attached BLK instance without its disk', () => {
    expect(inv('persist-disk').check(ctx(withPersist(s0, (p) => ({ blk: p.blk === null ? null : { ...p.blk, disk: false } }))))).toHaveLength(1);
  });
  it('persist-type-refcount: a reference nobody holds', () => {
    expect(inv('persist-type-refcount').check(ctx(withState(s0, { kmemPersist: { ...s0.kmemPersist, refs: [1, 1] } })))).toHaveLength(1);
  });
  it('persist-superblock: an instance type the superblock does not name', () => {
    expect(inv('persist-superblock').check(ctx(withPersist(s0, () => ({ type: 0 })))).length).toBeGreaterThan(0);
  });
  it('persist-index-wellformed and persist-node-exclusive: caught on real steps below', () => {
    // Two blocks sharing a page (a duplicate entry written through the index page's words) and memory of another owner on the node.
    const dup = runChecked(machine(), ...blk, open(), pwrite('0', '4K', '0x1'));
    expect(dup.violations).toEqual([]);
    const p = dup.final.devices[0]?.kmem?.persist;
    if (p === undefined) throw new Error('no instance');
    const base = (p.ranges[0]?.start ?? 0n) + 4096n;
    const mem = dup.final.mm.mem.set(Number((base + 8n) >> 3n), 257n);
    const bad = withState(dup.final, { mm: { ...dup.final.mm, mem } });
    expect(inv('persist-index-wellformed').check(ctx(bad))[0]).toMatch(/mapped by two blocks/);
    const blocks = dup.final.blocks.set(0, { ...(dup.final.blocks.get(0) as NonNullable<ReturnType<typeof dup.final.blocks.get>>), nid: 1 });
    expect(inv('persist-node-exclusive').check(ctx(withState(dup.final, { blocks })))[0]).toMatch(/not the device's/);
  });
});

describe('the real kernel agrees (harness/transcripts/kmem-persist, the RFC reconstructed on 6.1.192 under QEMU)', () => {
  const file = fileURLToPath(new URL('../traces-custom/kmem-persist/blk-reboot.jsonl', import.meta.url));
  const text = readFileSync(file, 'utf8');
  const events = parseLogText(text, 'blk-reboot.jsonl').map((l) => l.event);
  const r = replay(events, { check: checkStep, keepSteps: true });
  const held = (seq: number): number => {
    const s = r.steps.find((x) => x.seq === seq);
    return s?.after.devices[0]?.kmem?.persist?.held.size ?? -1;
  };

  const dir = fileURLToPath(new URL('../traces-custom/kmem-persist/', import.meta.url));
  it.each(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort())('%s replays with zero divergences and exactly the findings it declares', (f) => {
    const body = readFileSync(join(dir, f), 'utf8');
    const declared = (/^\/\/ findings: ([a-z0-9 -]+?)(?: \(|$)/m.exec(body)?.[1] ?? '').split(' ').filter((x) => x !== '').sort();
    const rr = replay(parseLogText(body, f).map((l) => l.event), { check: checkStep });
    expect(rr.divergences.map((d) => `seq ${d.seq}: kernel ${JSON.stringify(d.recorded)}, model ${JSON.stringify(d.model)}`)).toEqual([]);
    expect([...new Set(rr.violations.map((v) => v.invariant))].sort()).toEqual(declared);
  });

  it('holds three logs recorded by memhp kernel record on that kernel and four scenarios of the scripted run transcribed', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
    expect(files).toEqual(['blk-io.jsonl', 'blk-reboot.jsonl', 'default.jsonl', 'movable-io.jsonl', 'movable.jsonl', 'none-params.jsonl', 'none.jsonl']);
    const recorded = files.filter((f) => /^\/\/ recorded on Linux .* by memhp kernel record/m.test(readFileSync(join(dir, f), 'utf8')));
    expect(recorded).toEqual(['blk-io.jsonl', 'movable-io.jsonl', 'none-params.jsonl']);
    for (const f of recorded) {
      const steps = parseLogText(readFileSync(join(dir, f), 'utf8'), f).map((l) => l.event).slice(1);
      expect(steps.filter((e) => e.result === undefined).map((e) => e.seq), f).toEqual([]);
      expect(steps.length, f).toBeGreaterThanOrEqual(10);
    }
    expect(r.divergences).toEqual([]);
  });

  it("kmem's held pages after each step are the kernel's census (held = flagless - per-cpu): 512, 517, 516, 515; after the reboot 518; after the unbind 3", () => {
    // seq 4 bind, 11 the five writes done, 20 discard, 22 zero-out, 27 the bind after the reboot, 38 the unbind.
    expect([held(4), held(11), held(20), held(22), held(27), held(38)]).toEqual([512, 517, 516, 515, 518, 3]);
  });
});
