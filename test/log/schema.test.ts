import { describe, expect, it } from 'vitest';
import { BOOT, bootWith, expectLogError, logError, type Expect } from './helpers.js';

type Case = [name: string, text: string, want: Omit<Expect, 'line'> & { line?: number; got?: string }];

const step = (json: string) => `${BOOT}\n${json}`;
const region = (b: { daxRegions: Record<string, unknown>[] }) => b.daxRegions[0] as Record<string, unknown>;
const device = (b: { daxRegions: Record<string, unknown>[] }) => (region(b)['devices'] as Record<string, unknown>[])[0] as Record<string, unknown>;

const CASES: Case[] = [
  // step events
  ['write: path not a string', step('{"type":"write","path":42,"value":"x"}'), { line: 2, field: 'path', expected: 'a path string', got: '42' }],
  ['write: relative path', step('{"type":"write","path":"sys/x","value":"x"}'), { line: 2, field: 'path', expected: 'an absolute path' }],
  ['write: value missing', step('{"type":"write","path":"/x"}'), { line: 2, field: 'value', expected: 'a string', got: 'nothing (the field is missing)' }],
  ['write: raw not boolean', step('{"type":"write","path":"/x","value":"1","raw":"yes"}'), { line: 2, field: 'raw', expected: 'true or false' }],
  ['write: unknown field', step('{"type":"write","path":"/x","value":"1","valeu":"2"}'), { line: 2, field: 'valeu', expected: 'a known field (seq, type, path, value, raw, result)', got: 'an unknown field "valeu"' }],
  ['read: unknown field', step('{"type":"read","path":"/x","value":"1"}'), { line: 2, field: 'value', expected: 'a known field' }],
  ['inject: unknown site', step('{"type":"inject","site":"kmalloc","errno":"ENOMEM"}'), { line: 2, field: 'site', expected: 'one of "add_memory"' }],
  ['inject: unknown errno', step('{"type":"inject","site":"add_memory","errno":"EBUS"}'), { line: 2, field: 'errno', expected: 'an errno name (EPERM' }],
  ['inject: errno as number', step('{"type":"inject","site":"add_memory","errno":16}'), { line: 2, field: 'errno', expected: 'an errno name' }],
  ['inject: nth 0', step('{"type":"inject","site":"add_memory","errno":"EBUSY","nth":0}'), { line: 2, field: 'nth', expected: 'a positive integer' }],
  ['result: not an object', step('{"type":"read","path":"/x","result":"ok"}'), { line: 2, field: 'result', expected: 'an outcome object' }],
  ['result: ok missing', step('{"type":"read","path":"/x","result":{}}'), { line: 2, field: 'result.ok', expected: 'true or false' }],
  ['result: failure without errno', step('{"type":"read","path":"/x","result":{"ok":false}}'), { line: 2, field: 'result.errno', expected: 'when "ok" is false' }],
  ['result: success with errno', step('{"type":"read","path":"/x","result":{"ok":true,"errno":"EIO"}}'), { line: 2, field: 'result.errno', expected: 'no errno, signal or oops when "ok" is true' }],
  ['result: failure with value', step('{"type":"read","path":"/x","result":{"ok":false,"errno":"EIO","value":"1"}}'), { line: 2, field: 'result.value', expected: 'no value' }],
  ['result: log not strings', step('{"type":"read","path":"/x","result":{"ok":true,"log":[1]}}'), { line: 2, field: 'result.log[0]', expected: 'a string' }],
  ['modprobe: unknown module', step('{"type":"modprobe","module":"test_hmmm"}'), { line: 2, field: 'module', expected: 'one of "test_hmm"', got: '"test_hmmm"' }],
  ['modprobe: module missing', step('{"type":"modprobe"}'), { line: 2, field: 'module', expected: 'one of "test_hmm"', got: 'nothing (the field is missing)' }],
  ['rmmod: a pid (module syscalls name no process)', step('{"type":"rmmod","module":"test_hmm","pid":"p1"}'), { line: 2, field: 'pid', expected: 'a known field (seq, result, type, module)', got: 'an unknown field "pid"' }],
  ['boot: physAddrBits out of range', bootWith((b) => (b['config'] = { physAddrBits: 60 })), { line: 1, field: 'config.physAddrBits', expected: "the CPU's physical address bits, 36..52", got: '60' }],
  ['boot: testHmm not n/m/y', bootWith((b) => (b['config'] = { testHmm: 'yes' })), { line: 1, field: 'config.testHmm', expected: 'one of "n", "m", "y"', got: '"yes"' }],
  ['swapon: path missing', step('{"type":"swapon"}'), { line: 2, field: 'path', expected: 'a path ("/dev/ram0")', got: 'nothing (the field is missing)' }],
  ['swapon: relative path', step('{"type":"swapon","path":"dev/ram0"}'), { line: 2, field: 'path', expected: 'an absolute path ("/dev/ram0")', got: '"dev/ram0"' }],
  ['swapon: a pid', step('{"type":"swapon","path":"/dev/ram0","pid":"p1"}'), { line: 2, field: 'pid', expected: 'a known field (seq, result, type, path)', got: 'an unknown field "pid"' }],
  ['swapoff: path not a string', step('{"type":"swapoff","path":3}'), { line: 2, field: 'path', expected: 'a path ("/dev/ram0")', got: '3' }],
  ['swapon: flags (not in the log format: swapon\'s flags are 0)', step('{"type":"swapon","path":"/dev/ram0","flags":1}'), { line: 2, field: 'flags', expected: 'a known field' }],
  ['result: unknown field', step('{"type":"read","path":"/x","result":{"ok":true,"errno2":1}}'), { line: 2, field: 'result.errno2', expected: 'a known field (ok, value, errno, signal, code, oops, out, log)' }],
  // boot fields
  ['boot: unknown top-level field', bootWith((b) => (b['memoryBlocksize'] = '128M')), { line: 1, field: 'memoryBlocksize', expected: 'a known field' }],
  ['boot: kernel', bootWith((b) => (b['kernel'] = '5.10')), { line: 1, field: 'kernel', expected: 'one of "5.1", "6.1", "6.8"', got: '"5.10"' }],
  ['boot: config not an object', bootWith((b) => (b['config'] = 'default')), { line: 1, field: 'config', expected: 'a config object' }],
  ['boot: config unknown field', bootWith((b) => (b['config'] = { hotremove: true })), { line: 1, field: 'config.hotremove', expected: 'a known field (memoryHotremove, autoOnline' }],
  ['boot: config.autoOnline', bootWith((b) => (b['config'] = { autoOnline: 'movable' })), { line: 1, field: 'config.autoOnline', expected: 'one of "offline", "online", "online_kernel", "online_movable"' }],
  ['boot: config.memmapOnMemory', bootWith((b) => (b['config'] = { memmapOnMemory: 'on' })), { line: 1, field: 'config.memmapOnMemory', expected: 'true, false or "force"' }],
  ['boot: config.structPageSize', bootWith((b) => (b['config'] = { structPageSize: 56 })), { line: 1, field: 'config.structPageSize', expected: 'one of 64, 72, 80' }],
  ['boot: config.pageblockOrder', bootWith((b) => (b['config'] = { pageblockOrder: 11 })), { line: 1, field: 'config.pageblockOrder', expected: 'one of 9, 10' }],
  ['boot: config.physmemBits', bootWith((b) => (b['config'] = { physmemBits: 48 })), { line: 1, field: 'config.physmemBits', expected: 'one of 46, 52' }],
  ['boot: memoryBlockSize missing', bootWith((b) => delete b['memoryBlockSize']), { line: 1, field: 'memoryBlockSize', expected: 'a hex ("0x80000000")' }],
  ['boot: address garbage', bootWith((b) => ((b.ram[0] as Record<string, unknown>)['start'] = '0xzz')), { line: 1, field: 'ram[0].start', expected: 'a hex', got: '"0xzz"' }],
  ['boot: address overflows 64 bits', bootWith((b) => ((b.ram[1] as Record<string, unknown>)['start'] = '0x10000000000000000')), { line: 1, field: 'ram[1].start', expected: 'fits in 64 bits' }],
  ['boot: unsafe JSON integer', bootWith((b) => ((b.ram[1] as Record<string, unknown>)['size'] = 2 ** 60)), { line: 1, field: 'ram[1].size', expected: 'a safe integer' }],
  ['boot: negative size', bootWith((b) => ((b.ram[1] as Record<string, unknown>)['size'] = -1)), { line: 1, field: 'ram[1].size', expected: 'a safe integer', got: '-1' }],
  ['boot: ram empty', bootWith((b) => (b.ram = [])), { line: 1, field: 'ram', expected: 'at least one RAM range' }],
  ['boot: ram node negative', bootWith((b) => ((b.ram[0] as Record<string, unknown>)['node'] = -1)), { line: 1, field: 'ram[0].node', expected: 'a node id 0..1023' }],
  ['boot: ram unknown field', bootWith((b) => ((b.ram[0] as Record<string, unknown>)['end'] = '0x10')), { line: 1, field: 'ram[0].end', expected: 'a known field (start, size, node)' }],
  ['boot: iomem size and end', bootWith((b) => (b['iomem'] = [{ start: '0x1000', size: '4K', end: '0x1fff', name: 'Reserved' }])), { line: 1, field: 'iomem[0].size', expected: 'exactly one of "size" and "end"', got: 'both' }],
  ['boot: iomem neither size nor end', bootWith((b) => (b['iomem'] = [{ start: '0x1000', name: 'Reserved' }])), { line: 1, field: 'iomem[0].size', expected: 'exactly one of "size" and "end"', got: 'neither' }],
  ['boot: iomem end below start', bootWith((b) => (b['iomem'] = [{ start: '0x2000', end: '0x1fff', name: 'Reserved' }])), { line: 1, field: 'iomem[0].end', expected: 'an end at or above start 0x2000' }],
  ['boot: iomem empty name', bootWith((b) => (b['iomem'] = [{ start: '0x1000', size: '4K', name: '' }])), { line: 1, field: 'iomem[0].name', expected: 'a non-empty resource name' }],
  ['boot: iomem System RAM', bootWith((b) => (b['iomem'] = [{ start: '0x1000', size: '4K', name: 'System RAM' }])), { line: 1, field: 'iomem[0].name', expected: 'boot RAM belongs in "ram"' }],
  ['boot: iomem desc', bootWith((b) => (b['iomem'] = [{ start: '0x1000', size: '4K', name: 'x', desc: 12 }])), { line: 1, field: 'iomem[0].desc', expected: 'an IORES_DESC_* value 0..9' }],
  ['boot: unmovable not integers', bootWith((b) => (b['unmovable'] = ['1'])), { line: 1, field: 'unmovable[0]', expected: 'a memory block id' }],
  ['boot: region kind', bootWith((b) => (region(b)['kind'] = 'nvdimm')), { line: 1, field: 'daxRegions[0].kind', expected: 'one of "pmem", "hmem", "cxl"' }],
  ['boot: region id negative', bootWith((b) => (region(b)['id'] = -1)), { line: 1, field: 'daxRegions[0].id', expected: 'a region id' }],
  ['boot: targetNode below -1', bootWith((b) => (region(b)['targetNode'] = -2)), { line: 1, field: 'daxRegions[0].targetNode', expected: 'a node id -1..1023' }],
  ['boot: namespace unknown field', bootWith((b) => (region(b)['namespace'] = { name: 'namespace0.0', size: '2M', uuid: 'x' })), { line: 1, field: 'daxRegions[0].namespace.uuid', expected: 'a known field (name, size)' }],
  ['boot: device unknown field', bootWith((b) => (device(b)['sizee'] = '1G')), { line: 1, field: 'daxRegions[0].devices[0].sizee', expected: 'a known field (name, start, size, ranges' }],
  ['boot: device driver', bootWith((b) => (device(b)['driver'] = 'dax_kmem')), { line: 1, field: 'daxRegions[0].devices[0].driver', expected: '"device_dax", "kmem" or null' }],
  ['boot: device both forms', bootWith((b) => (device(b)['ranges'] = [{ start: '0x80200000', size: '510M' }])), { line: 1, field: 'daxRegions[0].devices[0].ranges', expected: 'either "start" and "size" or "ranges", not both' }],
  ['boot: device neither form', bootWith((b) => (region(b)['devices'] = [{ name: 'dax0.0' }])), { line: 1, field: 'daxRegions[0].devices[0].start', expected: '"start" and "size", or "ranges"' }],
  ['boot: device start without size', bootWith((b) => delete device(b)['size']), { line: 1, field: 'daxRegions[0].devices[0].size', expected: 'a size to go with "start"' }],
  ['boot: device range unknown field', bootWith((b) => (region(b)['devices'] = [{ name: 'dax0.0', ranges: [{ start: '0x80200000', len: '2M' }] }])), { line: 1, field: 'daxRegions[0].devices[0].ranges[0].len', expected: 'a known field (start, size)' }],
  ['boot: device memmapOnMemory', bootWith((b) => (device(b)['memmapOnMemory'] = 1)), { line: 1, field: 'daxRegions[0].devices[0].memmapOnMemory', expected: 'true or false' }],
  ['boot: variant', bootWith((b) => (b['variant'] = 'memmap-whole')), { line: 1, field: 'variant', expected: 'null or one of "walk-top-level-only"' }],
  ['boot: config.devicePrivate', bootWith((b) => (b['config'] = { devicePrivate: 'y' })), { line: 1, field: 'config.devicePrivate', expected: 'true or false' }],
  ['boot: blockDevices not a list', bootWith((b) => (b['blockDevices'] = '/dev/ram0')), { line: 1, field: 'blockDevices', expected: 'a list of block device paths' }],
  ['boot: swapAreas entry not under /dev', bootWith((b) => (b['swapAreas'] = ['/tmp/swapfile'])), { line: 1, field: 'swapAreas[0]', expected: 'a block device path ("/dev/ram0")' }],
  ['boot: result', bootWith((b) => (b['result'] = { ok: 1 })), { line: 1, field: 'result.ok', expected: 'true or false' }],
];

describe('field errors name the line, the field and what was expected', () => {
  it.each(CASES)('%s', (_name, text, want) => {
    const err = expectLogError(text, { line: want.line ?? 1, field: want.field, expected: want.expected });
    if (want.got !== undefined) expect(err.got).toBe(want.got);
  });

  it("messages are in the log's words, never zod's", () => {
    for (const [, text] of CASES) {
      const err = logError(text);
      expect(err.name).toBe('LogError');
      expect(err.message).not.toMatch(/Invalid input|received|ZodError|Unrecognized key/);
    }
  });
});
