import { describe, expect, it } from 'vitest';
import { parseLogText } from '../../src/log/reader.js';
import { BOOT_LIMITS } from '../../src/log/limits.js';
import { bootWith, expectLogError, type JsonObj } from './helpers.js';

type B = JsonObj & { daxRegions: JsonObj[]; ram: JsonObj[] };
const r0 = (b: B) => b.daxRegions[0] as JsonObj;
const devs = (b: B) => r0(b)['devices'] as JsonObj[];
const d0 = (b: B) => devs(b)[0] as JsonObj;
/** A second device: the base device shrunk to 254M, then dax0.1 after it. */
const twoDevices = (b: B, second: JsonObj) => {
  d0(b)['size'] = '254M';
  devs(b).push({ name: 'dax0.1', ...second });
};
const hmem = (b: B, extra: JsonObj = {}) =>
  b.daxRegions.push({ id: 1, kind: 'hmem', start: '0x180000000', size: '1G', targetNode: 1, devices: [], ...extra });

type Case = [name: string, edit: (b: B) => void, field: string, expected: string, got?: string];

const CASES: Case[] = [
  ['block size not a power of two', (b) => (b['memoryBlockSize'] = '192M'), 'memoryBlockSize', 'a power of two of at least 128M', '0xc000000'],
  ['block size below 128M', (b) => (b['memoryBlockSize'] = '64M'), 'memoryBlockSize', 'a power of two of at least 128M'],
  ['RAM range empty', (b) => ((b.ram[1] as JsonObj)['size'] = '0'), 'ram[1].size', 'a non-zero size'],
  ['RAM ranges overlap', (b) => ((b.ram[1] as JsonObj)['start'] = '0x7ff00000'), 'ram[1].start', 'a range that does not overlap ram[0] [mem 0x00000000-0x7fffffff]'],
  ['RAM beyond physmemBits', (b) => ((b.ram[1] as JsonObj)['start'] = '0x3fffc0000000'), 'ram[1].size', 'a range below 0x400000000000 (2^46, config.physmemBits)'],
  ['RAM fits with 5-level paging', (b) => { b['config'] = { physmemBits: 52 }; (b.ram[1] as JsonObj)['start'] = '0x4000000000000'; b['memoryBlockSize'] = '1'; }, 'memoryBlockSize', 'a power of two'],
  ['autoOnline type the 5.1 kernel lacks', (b) => { b['kernel'] = '5.1'; b['config'] = { autoOnline: 'online_movable' }; }, 'config.autoOnline', '"online" or "offline" (kernel 5.1'],
  ['iomem straddles another', (b) => (b['iomem'] = [{ start: '0x1000', size: '8K', name: 'a' }, { start: '0x2000', size: '8K', name: 'b' }]), 'iomem[1]', 'contains, nests in or stays clear of iomem[0] [mem 0x00001000-0x00002fff]', '[mem 0x00002000-0x00003fff]'],
  ['iomem straddles RAM', (b) => (b['iomem'] = [{ start: '0x7ff00000', size: '2M', name: 'Reserved' }]), 'iomem[0]', 'stays clear of ram[0]'],
  ['iomem straddles a dax region', (b) => (b['iomem'] = [{ start: '0x90000000', size: '1G', name: 'PCI Bus' }]), 'iomem[0]', 'stays clear of daxRegions[0]'],
  ['region empty', (b) => (r0(b)['size'] = '0'), 'daxRegions[0].size', 'a non-zero size'],
  ['region beyond 2^64', (b) => hmem(b, { start: '0xffffffffc0000000', size: '2G' }), 'daxRegions[1].size', 'ends at or below 0xffffffffffffffff'],
  ['region align not allowed', (b) => (r0(b)['align'] = '64K'), 'daxRegions[0].align', 'one of 4K, 2M, 1G', '0x10000'],
  ['region start not aligned', (b) => hmem(b, { start: '0x180100000' }), 'daxRegions[1].start', 'a multiple of the region align 2M'],
  ['region size not aligned', (b) => hmem(b, { size: '0x40100000' }), 'daxRegions[1].size', 'a multiple of the region align 2M'],
  ['region overlaps RAM', (b) => (r0(b)['start'] = '0x7fe00000'), 'daxRegions[0].start', 'a region that does not overlap ram[0]'],
  ['regions overlap', (b) => hmem(b, { start: '0x80000000' }), 'daxRegions[1].start', 'does not overlap daxRegions[0]'],
  ['region ids repeat', (b) => hmem(b, { id: 0 }), 'daxRegions[1].id', 'an id not used by daxRegions[0]'],
  ['namespace on hmem', (b) => hmem(b, { namespace: { name: 'namespace1.0', size: '2M' } }), 'daxRegions[1].namespace', 'only pmem regions'],
  ['namespace larger than region', (b) => ((r0(b)['namespace'] as JsonObj)['size'] = '1G'), 'daxRegions[0].namespace.size', "within the region's 512M"],
  ['namespace under a busy entry', (b) => (b['iomem'] = [{ start: '0x80000000', size: '512M', name: 'Reserved', busy: true }]), 'daxRegions[0].namespace', 'a namespace whose metadata area [mem 0x80000000-0x801fffff] dax_pmem can reserve', 'iomem[0] "Reserved" [mem 0x80000000-0x9fffffff] (busy)'],
  ['namespace partly under an entry nested in the region', (b) => (b['iomem'] = [{ start: '0x80100000', size: '2M', name: 'x' }]), 'daxRegions[0].namespace', 'no busy resource over it, any other containing it', 'iomem[0] "x" [mem 0x80100000-0x802fffff] (not containing it)'],
  ['device over the namespace', (b) => (d0(b)['start'] = '0x80000000'), 'daxRegions[0].devices[0].start', 'inside the region after its namespace [mem 0x80200000-0x9fffffff]'],
  ['device outside region', (b) => (d0(b)['size'] = '512M'), 'daxRegions[0].devices[0].start', 'a range inside the region after its namespace'],
  ['device range empty', (b) => (d0(b)['size'] = '0'), 'daxRegions[0].devices[0].size', 'a non-zero size'],
  ['device size not a multiple of 2M', (b) => (d0(b)['size'] = '509M'), 'daxRegions[0].devices[0].size', 'a multiple of 2M'],
  ['device size not a multiple of its 1G align', (b) => (d0(b)['align'] = '1G'), 'daxRegions[0].devices[0].size', 'a multiple of 1G'],
  ['device align not allowed', (b) => (d0(b)['align'] = '8K'), 'daxRegions[0].devices[0].align', 'one of 4K, 2M, 1G'],
  ['device start not region-aligned', (b) => twoDevices(b, { start: '0x90100000', size: '2M' }), 'daxRegions[0].devices[1].start', 'a multiple of the region align 2M'],
  ['devices overlap', (b) => twoDevices(b, { start: '0x8fe00000', size: '4M' }), 'daxRegions[0].devices[1].start', 'does not overlap daxRegions[0].devices[0] (dax0.0) [mem 0x80200000-0x8fffffff]'],
  ['device ranges overlap each other', (b) => hmem(b, { devices: [{ name: 'dax1.0', ranges: [{ start: '0x180000000', size: '4M' }, { start: '0x180200000', size: '2M' }] }] }), 'daxRegions[1].devices[0].ranges[1].start', 'does not overlap daxRegions[1].devices[0].ranges[0]'],
  ['device name form', (b) => (d0(b)['name'] = 'dax1.0'), 'daxRegions[0].devices[0].name', 'a name "dax0.<n>"', '"dax1.0"'],
  ['device name leading zero', (b) => (d0(b)['name'] = 'dax0.00'), 'daxRegions[0].devices[0].name', 'a name "dax0.<n>"'],
  ['device names repeat', (b) => twoDevices(b, { name: 'dax0.0', start: '0x90000000', size: '2M' }), 'daxRegions[0].devices[1].name', 'used only once'],
  ['pmem device without ranges', (b) => { delete d0(b)['start']; delete d0(b)['size']; d0(b)['ranges'] = []; }, 'daxRegions[0].devices[0].ranges', 'pmem devices are static'],
  ['multi-range device on 5.1', (b) => { b['kernel'] = '5.1'; hmem(b, { devices: [{ name: 'dax1.0', ranges: [{ start: '0x180000000', size: '2M' }, { start: '0x180400000', size: '2M' }] }] }); }, 'daxRegions[1].devices[0].ranges', 'multi-range devices need kernel >= 5.10'],
  ['unmovable block without RAM', (b) => (b['unmovable'] = [1, 16]), 'unmovable[1]', 'a memory block that boot RAM covers', '16 [mem 0x80000000-0x87ffffff]'],
  ['unmovable block twice', (b) => (b['unmovable'] = [3, 3]), 'unmovable[1]', 'each block id once'],
  ['block device twice', (b) => (b['blockDevices'] = ['/dev/ram0', '/dev/ram0']), 'blockDevices[1]', 'each block device once', '"/dev/ram0" again'],
  ['swap area not a block device', (b) => { b['blockDevices'] = ['/dev/ram0']; b['swapAreas'] = ['/dev/ram0', '/dev/ram1']; }, 'swapAreas[1]', 'one of the paths in blockDevices', '"/dev/ram1"'],
  ['swap area twice', (b) => { b['blockDevices'] = ['/dev/ram0']; b['swapAreas'] = ['/dev/ram0', '/dev/ram0']; }, 'swapAreas[1]', 'each swap area once'],
];

describe('boot self-consistency', () => {
  it.each(CASES)('%s', (_name, edit, field, expected, got) => {
    const err = expectLogError(bootWith(edit), { line: 1, field, expected });
    if (got !== undefined) expect(err.got).toBe(got);
  });

  it('accepts nesting by containment, same-range nesting, zero-size hmem devices and multi-range on 6.x', () => {
    const text = bootWith((b) => {
      b['iomem'] = [
        { start: '0x1000', size: '4K', name: 'Reserved', busy: true },
        { start: '0x1000000', size: '16M', name: 'Kernel code' },
        { start: '0x180000000', size: '1G', name: 'hmem.0' },
        { start: '0x180000000', size: '1G', name: 'Soft Reserved' },
        { start: '0xfffffffffff00000', end: '0xffffffffffffffff', name: 'top' },
      ];
      b['unmovable'] = [0, 15, 32];
      hmem(b, {
        devices: [
          { name: 'dax1.0', ranges: [{ start: '0x180000000', size: '2M' }, { start: '0x180400000', size: '4M' }], align: '4K' },
          { name: 'dax1.1', ranges: [] },
        ],
      });
    });
    expect(() => parseLogText(text, 'x.jsonl')).not.toThrow();
  });
});

// Issue 9, item 5: a one-line boot of 2 PiB ran for minutes and died of memory (exit 134).
describe('boot limits (README: Limits)', () => {
  const ramBoot = (ram: JsonObj[], fields: JsonObj = {}) => JSON.stringify({ type: 'boot', kernel: '6.8', config: { physmemBits: 52 }, memoryBlockSize: '128M', ram, ...fields });

  it('a boot spanning more memory blocks than BOOT_LIMITS.blocks is refused before any block is built', () => {
    const err = expectLogError(ramBoot([{ start: '0x0', size: '2P', node: 0 }]), { line: 1, field: 'ram[0].size', expected: `at most ${BOOT_LIMITS.blocks} memory blocks of 128M in boot RAM and dax regions together` });
    expect(err.got).toBe('[mem 0x00000000-0x7ffffffffffff]: 16777216 blocks, 16777216 so far');
    // Exactly the limit is accepted; one block more, in a dax region, is not.
    const limit = `${BOOT_LIMITS.blocks * 128}M`;
    expect(() => parseLogText(ramBoot([{ start: '0x0', size: limit, node: 0 }]), 'x.jsonl')).not.toThrow();
    const region = { id: 0, kind: 'cxl', start: '0x100000000000000', size: '128M', targetNode: 0 };
    expectLogError(ramBoot([{ start: '0x0', size: limit, node: 0 }], { daxRegions: [region] }), { line: 1, field: 'daxRegions[0].size', expected: 'at most' });
    // The same bytes in 2 GiB blocks fit.
    expect(() => parseLogText(ramBoot([{ start: '0x0', size: '2P', node: 0 }], { memoryBlockSize: '2G' }), 'x.jsonl')).not.toThrow();
  });

  it('devices and ranges are counted over all regions together', () => {
    const regions = (perRegion: number, n: number) =>
      Array.from({ length: n }, (_v, r) => ({
        id: r,
        kind: 'hmem',
        start: `0x${(0x100000000 + r * 0x40000000).toString(16)}`,
        size: '1G',
        targetNode: 0,
        devices: Array.from({ length: perRegion }, (_w, i) => ({ name: `dax${r}.${i}`, ranges: [] })),
      }));
    const at = (perRegion: number, n: number) => ramBoot([{ start: '0x0', size: '2G', node: 0 }], { daxRegions: regions(perRegion, n) });
    expect(() => parseLogText(at(BOOT_LIMITS.devices / 4, 4), 'x.jsonl')).not.toThrow();
    const err = expectLogError(at(BOOT_LIMITS.devices / 4 + 1, 4), { line: 1, field: `daxRegions[3].devices[${BOOT_LIMITS.devices / 4 - 3}]`, expected: `at most ${BOOT_LIMITS.devices} dax devices in all regions together` });
    expect(err.got).toBe(`device ${BOOT_LIMITS.devices + 1}`);
  });

  it.each([
    ['ram', BOOT_LIMITS.ramRanges, (i: number) => ({ start: `0x${(i * 0x200000).toString(16)}`, size: '2M', node: 0 }), 'ram', `at most ${BOOT_LIMITS.ramRanges} RAM ranges`],
    ['iomem', BOOT_LIMITS.iomemEntries, (i: number) => ({ start: `0x${(0x1000 * i).toString(16)}`, size: '4K', name: 'r' }), 'iomem', `at most ${BOOT_LIMITS.iomemEntries} iomem entries`],
    ['unmovable', BOOT_LIMITS.unmovable, (i: number) => i, 'unmovable', `at most ${BOOT_LIMITS.unmovable} block ids`],
  ] as const)('%s: at most its limit', (key, limit, item, field, expected) => {
    const at = (n: number) => JSON.stringify({ ...JSON.parse(ramBoot([{ start: '0x0', size: '2G', node: 0 }])), [key]: Array.from({ length: n }, (_v, i) => item(i)) });
    const err = expectLogError(at(limit + 1), { line: 1, field, expected });
    expect(err.got).toBe(`an array (${limit + 1} entries)`);
  });
});
