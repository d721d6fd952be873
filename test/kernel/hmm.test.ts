/**
 * test_hmm load/unload and device-private placement (src/kernel/hmm/,
 * src/kernel/resourceFreeRegion.ts), against Debian 6.1.192's lib/test_hmm.c,
 * mm/memremap.c, kernel/resource.c and the real runs of KERNEL-FACTS-HMM §1.2
 * and §4.2 (phys-bits 40: chunks at fff0000000 then ffe0000000).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkAll } from '../../properties/sequence.js';
import { makeChecker } from '../../properties/invariants/index.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';
import { makeProfile } from '../../src/kernel/profile.js';
import { Op } from '../../src/kernel/op.js';
import { addPages } from '../../src/kernel/hmm/memremap.js';
import { gfrEnd, requestFreeMemRegion } from '../../src/kernel/resourceFreeRegion.js';
import { renderIomem, IORES_DESC_DEVICE_PRIVATE_MEMORY, isBusy } from '../../src/kernel/resource.js';
import { withState } from '../../src/kernel/state.js';
import { boot, read, run, runChecked, write, type Json } from '../helpers/machine.js';

const mod = (type: 'modprobe' | 'rmmod'): Json => ({ type, module: 'test_hmm' });
const RAM1G = [{ start: '0x0', size: '1G', node: 0 }];
/** 6.1, 1 GiB of RAM, CONFIG_DEVICE_PRIVATE, test_hmm as `hmm`, a 40-bit CPU (QEMU's default), the probe file. */
function hmmBoot(config: Json = {}, fields: Json = {}): Json {
  return boot({ kernel: '6.1', ram: RAM1G, ...fields }, { devicePrivate: true, testHmm: 'm', physAddrBits: 40, archMemoryProbe: true, ...config });
}
const TOP = '00000000-3fffffff : System RAM\nffe0000000-ffefffffff : hmm_dmirror\nfff0000000-ffffffffff : hmm_dmirror\n';

describe('test_hmm load and unload (hmm_dmirror_init / hmm_dmirror_exit)', () => {
  it('modprobe places one 256 MiB chunk per device from the top of a 40-bit iomem, device 0 first, as the real 6.1.192 guest did', () => {
    const r = run(hmmBoot(), mod('modprobe'), read('/proc/iomem'));
    expect(r.results).toEqual(['ok', TOP]);
    expect(r.steps[0]?.outcome.log).toEqual([
      'added new 256 MB chunk (total 1 chunks, 256 MB) PFNs [0xfff0000 0x10000000)',
      'added new 256 MB chunk (total 1 chunks, 256 MB) PFNs [0xffe0000 0xfff0000)',
      'HMM test module loaded. This is only for testing HMM.',
    ]);
    const top = r.final.iomem.children.filter((c) => c.name === 'hmm_dmirror');
    expect(top.map((c) => [isBusy(c), c.desc])).toEqual([[true, IORES_DESC_DEVICE_PRIVATE_MEMORY], [true, IORES_DESC_DEVICE_PRIVATE_MEMORY]]);
    expect(r.final.hmm.devices.map((d) => d.chunks.map((c) => c.start.toString(16)))).toEqual([['fff0000000'], ['ffe0000000']]);
  });

  it('a second modprobe is EEXIST; rmmod releases both chunks; a second rmmod is ENOENT; the next load reuses the top range', () => {
    const r = runChecked(hmmBoot(), mod('modprobe'), mod('modprobe'), mod('rmmod'), read('/proc/iomem'), mod('rmmod'), mod('modprobe'), read('/proc/iomem'));
    expect(r.results).toEqual(['ok', 'EEXIST', 'ok', '00000000-3fffffff : System RAM\n', 'ENOENT', 'ok', TOP]);
    expect(r.violations).toEqual([]);
  });

  it('CONFIG_TEST_HMM=n: modprobe finds no module (ENOENT) and rmmod none loaded (ENOENT)', () => {
    expect(run(hmmBoot({ testHmm: 'n' }), mod('modprobe'), mod('rmmod')).results).toEqual(['ENOENT', 'ENOENT']);
  });

  it('built in (=y, the harness hmm kernel): the chunks are there at boot; modprobe --first-time is EEXIST, rmmod ENOENT (no module to delete)', () => {
    const r = runChecked(hmmBoot({ testHmm: 'y' }), read('/proc/iomem'), mod('modprobe'), mod('rmmod'), read('/proc/iomem'));
    expect(r.results).toEqual([TOP, 'EEXIST', 'ENOENT', TOP]);
    expect(r.violations).toEqual([]);
  });

  it('an out-of-tree test_hmm on a kernel without CONFIG_DEVICE_PRIVATE: memremap_pages WARNs and the load fails with EINVAL, its region released', () => {
    const r = runChecked(hmmBoot({ devicePrivate: false }), mod('modprobe'), read('/proc/iomem'));
    expect(r.results).toEqual(['EINVAL', '00000000-3fffffff : System RAM\n']);
    expect(r.steps[0]?.outcome.log).toContain('Device private memory not supported');
    expect(r.final.hmm.loaded).toBe(false);
    expect(r.violations).toEqual([]);
  });

  it('no free 256 MiB range: request_free_mem_region fails and dmirror_allocate_chunk returns -ENOMEM (not the -ERANGE it got)', () => {
    const full = [{ start: '0x40000000', end: '0xfffffffff', name: 'Reserved', busy: true }];
    const r = runChecked(hmmBoot({ physAddrBits: 36 }, { iomem: full }), mod('modprobe'));
    expect(r.results).toEqual(['ENOMEM']);
    expect(r.violations).toEqual([]);
  });

  it('device 1 finds no range after device 0 took the last one: init unwinds device 0 (err_chrdev) and iomem is as before', () => {
    // Free: only [0x40000000, 0x4fffffff] (256 MiB above RAM); the rest up to 2^36 is reserved.
    const iomem = [{ start: '0x50000000', end: '0xfffffffff', name: 'Reserved', busy: true }];
    const r = runChecked(hmmBoot({ physAddrBits: 36 }, { iomem }), mod('modprobe'), read('/proc/iomem'));
    expect(r.results).toEqual(['ENOMEM', '00000000-3fffffff : System RAM\n50000000-fffffffff : Reserved\n']);
    expect(r.steps[0]?.outcome.log).toEqual(['added new 256 MB chunk (total 1 chunks, 256 MB) PFNs [0x40000 0x50000)']);
    expect(r.violations).toEqual([]);
  });
});

describe('/dev/hmm_dmirror0..1 (dmirror_fops) and the module reference', () => {
  const open = (path: string, fd = 'h0'): Json => ({ type: 'open', pid: 'p1', fd, path, flags: 'rdwr' });
  const close = (fd = 'h0'): Json => ({ type: 'close', pid: 'p1', fd });

  it('an open file holds test_hmm: rmmod is EAGAIN (try_stop_module -EWOULDBLOCK) until the last close; after rmmod the nodes are gone', () => {
    const r = runChecked(hmmBoot(), open('/dev/hmm_dmirror0'), mod('modprobe'), open('/dev/hmm_dmirror1'), open('/dev/hmm_dmirror2', 'h2'), mod('rmmod'), close(), mod('rmmod'), open('/dev/hmm_dmirror0', 'h3'));
    expect(r.results).toEqual(['ENOENT', 'ok', 'ok', 'ENOENT', 'EAGAIN', 'ok', 'ok', 'ENOENT']);
    expect(r.violations).toEqual([]);
  });

  it('a process exit closes the file and releases the module', () => {
    expect(run(hmmBoot(), mod('modprobe'), open('/dev/hmm_dmirror0'), { type: 'exit', pid: 'p1' }, mod('rmmod')).results).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('the block ioctls are no dmirror command (EINVAL); mmap is not modelled (ENODEV under a not-modelled branch)', () => {
    const r = run(hmmBoot(), mod('modprobe'), open('/dev/hmm_dmirror0'), { type: 'ioctl', pid: 'p1', fd: 'h0', cmd: 'BLKDISCARD', args: { start: '0', length: '4096' } }, { type: 'mmap', pid: 'p1', map: 'm1', fd: 'h0', length: '4096', prot: 'rw', flags: ['private'] });
    expect(r.results).toEqual(['ok', 'ok', 'EINVAL', 'ENODEV']);
    expect(r.steps[3]?.branches).toContain('dmirror_fops_mmap:ENODEV(not-modelled)');
  });
});

describe('hot-add over a device-private range (KERNEL-FACTS-HMM §4.2, §4.3)', () => {
  it('the probe file into a chunk: EEXIST after "Unaddressable device ... conflicts with ..."; just below the chunks it adds a block', () => {
    const r = runChecked(hmmBoot(), mod('modprobe'), write('/sys/devices/system/memory/probe', '0xffe0000000'), write('/sys/devices/system/memory/probe', '0xffd8000000'));
    expect(r.results).toEqual(['ok', 'EEXIST', 'ok']);
    expect(r.steps[1]?.outcome.log).toEqual(['resource: Unaddressable device hmm_dmirror [mem 0xffe0000000-0xffefffffff] conflicts with [mem 0xffe0000000-0xffe7ffffff]']);
    expect(r.violations).toEqual([]);
  });

  it('a block hot-added at the top first: the chunks go below it (the candidate intersects System RAM)', () => {
    const r = runChecked(hmmBoot(), write('/sys/devices/system/memory/probe', '0xfff8000000'), mod('modprobe'));
    expect(r.results).toEqual(['ok', 'ok']);
    expect(r.final.hmm.devices.map((d) => d.chunks[0]?.start.toString(16))).toEqual(['ffe0000000', 'ffd0000000']);
    expect(r.violations).toEqual([]);
  });
});

describe('placement rules per profile (get_free_mem_region)', () => {
  // A reserved 128 MiB at the very top: the first candidate [top-256M, top) intersects it.
  const iomem = [{ start: '0xfff8000000', end: '0xffffffffff', name: 'Reserved', busy: true }];
  const first = (kernel: string): string | undefined => run(hmmBoot({}, { kernel, iomem }), mod('modprobe')).final.hmm.devices[0]?.chunks[0]?.start.toString(16);

  it('6.1 steps down by the size (256 MiB), 6.12 and 6.8 by the alignment (128 MiB)', () => {
    expect([first('6.1'), first('6.8'), first('6.12')]).toEqual(['ffe0000000', 'ffe8000000', 'ffe8000000']);
  });

  it('PHYSMEM_END bounds the search when the CPU has more physical address bits than MAX_PHYSMEM_BITS (46)', () => {
    const r = run(hmmBoot({ physAddrBits: 52 }), mod('modprobe'));
    expect(r.final.hmm.devices.map((d) => d.chunks[0]?.start.toString(16))).toEqual(['3ffff0000000', '3fffe0000000']);
  });

  it('5.1 has no test_hmm, but its mm/hmm.c hmm_devmem_add searched the same way (min(iomem end, (1 << MAX_PHYSMEM_BITS) - 1), step by size): request_free_mem_region on a 5.1 state agrees with 6.1', () => {
    const s61 = run(hmmBoot({ testHmm: 'n' })).final;
    const s51 = withState(s61, { profile: makeProfile('5.1', null) });
    const at = (s: typeof s61): bigint | null => {
      const r = requestFreeMemRegion(s.profile, s.config, s.iomem, 256n << 20n, 'hmm_dmirror');
      return r.ok ? r.start : null;
    };
    expect([at(s51), at(s61)]).toEqual([0xfff0000000n, 0xfff0000000n]);
    expect(gfrEnd(s51.profile, s51.config)).toBe((1n << 40n) - 1n);
  });

  it('test_hmm does not exist on 5.1 (v5.7): a boot asking for it is refused', () => {
    expect(() => run(hmmBoot({}, { kernel: '5.1' }))).toThrow(/testHmm.*5\.1 has no lib\/test_hmm\.c/s);
  });
});

describe('bug variants', () => {
  it('hmm-placement-no-physmem-end-clamp (B10): on 6.8 the chunks land above PHYSMEM_END and the invariant fails; on 6.1.192 add_pages refuses them (-ERANGE)', () => {
    const v68 = runChecked(hmmBoot({ physAddrBits: 52 }, { kernel: '6.8', variant: 'hmm-placement-no-physmem-end-clamp' }), mod('modprobe'));
    expect(v68.results).toEqual(['ok']);
    expect(v68.violations).toContain('hmm-device-private-iomem@dmirror_allocate_chunk');
    const v61 = runChecked(hmmBoot({ physAddrBits: 52 }, { kernel: '6.1', variant: 'hmm-placement-no-physmem-end-clamp' }), mod('modprobe'), read('/proc/iomem'));
    expect(v61.results).toEqual(['ERANGE', '00000000-3fffffff : System RAM\n']);
    expect(v61.steps[0]?.outcome.log).toContain('WARNING: at arch/x86/mm/init_64.c:974 add_pages');
    expect(v61.violations).toEqual([]);
  });

  it('hmm-placement-off-by-one (B1): the chunk starts one byte past the section boundary and straddles PHYSMEM_END', () => {
    const r = runChecked(hmmBoot({ physAddrBits: 52 }, { variant: 'hmm-placement-off-by-one' }), mod('modprobe'));
    expect(r.final.hmm.devices[0]?.chunks[0]).toEqual({ start: (1n << 46n) - (256n << 20n) + 1n, end: 1n << 46n });
    expect(r.violations).toContain('hmm-device-private-iomem@dmirror_allocate_chunk');
  });

  it('without a variant the same machines stay clean', () => {
    expect(runChecked(hmmBoot({ physAddrBits: 52 }, { kernel: '6.8' }), mod('modprobe'), mod('rmmod'), mod('modprobe')).violations).toEqual([]);
  });
});

describe('add_pages (arch/x86/mm/init_64.c)', () => {
  it('refuses a range ending above PHYSMEM_END with -ERANGE on 6.1 (unreachable through test_hmm: the placement is clamped), not on 6.8', () => {
    const s = run(hmmBoot()).final;
    const over = (1n << 46n) >> 12n;
    const op = new Op(s);
    expect(addPages(op, over - 1n, 2n)).toEqual({ ok: false, errno: 'ERANGE' });
    expect(op.branches).toEqual(['add_pages:ERANGE']);
    expect(addPages(new Op(withState(s, { profile: makeProfile('6.8', null) })), over - 1n, 2n).ok).toBe(true);
    expect(addPages(new Op(s), over - 2n, 2n).ok).toBe(true);
  });
});

describe('boot description', () => {
  it('with test_hmm built in, an hmm_dmirror iomem entry is refused: the model places the chunks itself', () => {
    const iomem = [{ start: '0xfff0000000', end: '0xffffffffff', name: 'hmm_dmirror', busy: true }];
    expect(() => run(hmmBoot({ testHmm: 'y' }, { iomem }))).toThrow(/iomem\[0\]\.name.*no "hmm_dmirror" entry with config\.testHmm "y"/s);
  });

  it('TEST_HMM=y needs DEVICE_PRIVATE (Kconfig depends on)', () => {
    expect(() => run(hmmBoot({ testHmm: 'y', devicePrivate: false }))).toThrow(/testHmm.*TEST_HMM depends on DEVICE_PRIVATE/s);
  });

  it('an old log listing hmm_dmirror ranges without test_hmm keeps them as boot resources', () => {
    const iomem = [{ start: '0xfff0000000', end: '0xffffffffff', name: 'hmm_dmirror', busy: true }];
    const r = runChecked(hmmBoot({ testHmm: 'n' }, { iomem }), read('/proc/iomem'), write('/sys/devices/system/memory/probe', '0xfff0000000'));
    expect(r.results).toEqual(['00000000-3fffffff : System RAM\nfff0000000-ffffffffff : hmm_dmirror\n', 'EEXIST']);
    expect(r.violations).toEqual([]);
    expect(renderIomem(r.final.iomem)).toContain('hmm_dmirror');
  });
});

describe('recordings from the custom hmm kernel (test_hmm built in)', () => {
  const dir = new URL('../traces-custom/hmm/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();

  it.each(files)('%s: the model places the chunks itself (no hmm_dmirror in the boot) and replays with no divergence and no violation', (name) => {
    const file = new URL(name, dir);
    const events = parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event);
    const b = events[0];
    if (b?.type !== 'boot') throw new Error('no boot');
    expect([b.config.testHmm, b.config.physAddrBits, b.iomem.some((e) => e.name === 'hmm_dmirror')]).toEqual(['y', 40, false]);
    const r = replay(events, { check: checkAll(makeChecker()) });
    expect(r.divergences).toEqual([]);
    expect(r.violations).toEqual([]);
    // Below the guest's firmware Reserved fd00000000-ffffffffff, device 0 first (as its /proc/iomem shows).
    expect(r.steps[0]?.after.hmm.devices.map((d) => d.chunks.map((c) => c.start.toString(16)))).toEqual([['fcf0000000'], ['fce0000000']]);
  });

  it('the recordings read /proc/iomem, so the placement is compared with the guest\'s', () => {
    const iomemReads = files.filter((name) => readFileSync(new URL(name, dir), 'utf8').includes('"path":"/proc/iomem","result":{"ok":true,"value"'));
    // The scripted ones, and the generated ones (kernel fuzz --hmm) whose reads drew /proc/iomem.
    expect(iomemReads.filter((f) => !f.startsWith('fuzz-'))).toEqual(['dmirror-files.jsonl', 'dmirror-two-devices.jsonl', 'placement.jsonl', 'probe-device-private.jsonl']);
    expect(iomemReads.filter((f) => f.startsWith('fuzz-')).length).toBeGreaterThan(0);
  });
});
