/**
 * Any boot the reader accepts can be replayed without an internal error
 * (issue 9, item 1). Boots are drawn on a 2 MiB grid so RAM, iomem entries
 * (busy or not), dax regions, namespaces and devices overlap, nest and
 * straddle each other in every way, contradictory machines included; each
 * is then driven by generated steps. Through the CLI the exit status is
 * 0, 1 or 2, never 70. MEMHP_BOOT_RUNS / MEMHP_BOOT_SEED run a longer or
 * different campaign of it by hand.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { KERNEL_VERSIONS, VARIANT_NAMES } from '../../src/kernel/profile.js';
import { LogError, parseLogText, writeLog } from '../../src/log/index.js';
import type { BootEvent } from '../../src/log/events.js';
import { checkStep } from '../../properties/invariants/index.js';
import { checkAll, runSequence } from '../../properties/sequence.js';
import { choices } from '../../properties/arbitraries/steps.js';

const MIB = 2 ** 20;
/** An address on the grid: mostly 64 MiB multiples, sometimes 2 MiB off one. */
const addr = fc.tuple(fc.nat(63), fc.constantFrom(0, 0, 0, 1, 31)).map(([u, off]) => (u * 32 + off) * 2 * MIB);
const size = fc.tuple(fc.integer({ min: 0, max: 18 }), fc.constantFrom(0, 0, 1, 31)).map(([u, off]) => Math.max(1, u * 32 + off) * 2 * MIB);
const hex = (n: number) => `0x${n.toString(16)}`;

/** Boot RAM below 2 GiB and from 4 GiB; regions go between, iomem entries anywhere. */
const ram = fc.tuple(fc.integer({ min: 1, max: 16 }), fc.nat(8), fc.nat(1), fc.nat(2)).map(([low, high, n0, n1]) => [
  { start: 0, size: low * 128 * MIB, node: n0 },
  ...(high === 0 ? [] : [{ start: 4096 * MIB, size: high * 128 * MIB, node: n1 }]),
]);
const iomem = fc.record({
  start: fc.oneof(addr, addr.map((a) => 2048 * MIB + (a % (2048 * MIB)))),
  size,
  name: fc.constantFrom('Reserved', 'PCI Bus 0000:00', 'ACPI Tables', 'Soft Reserved', 'Persistent Memory (legacy)', 'namespace0.0'),
  busy: fc.boolean(),
});
const small = fc.constantFrom(2 * MIB, 2 * MIB, 64 * MIB, 128 * MIB, 130 * MIB);
const device = fc.record({ off: small, size: small, driver: fc.constantFrom(undefined, 'device_dax', 'kmem', null) });
const region = fc.record({
  kind: fc.constantFrom('pmem', 'hmem', 'cxl'),
  start: fc.tuple(fc.nat(2), fc.constantFrom(0, 0, 2, 64, 66)).map(([slot, off]) => (2048 + slot * 640 + off) * MIB),
  size,
  targetNode: fc.integer({ min: -1, max: 2 }),
  namespace: fc.option(fc.constantFrom(2 * MIB, 64 * MIB), { nil: null }),
  devices: fc.array(device, { maxLength: 2 }),
});

const rawBoot = fc
  .record({
    kernel: fc.constantFrom(...KERNEL_VERSIONS),
    blockShift: fc.nat(2),
    hotremove: fc.boolean(),
    autoOnline: fc.constantFrom('offline', 'online'),
    memmap: fc.constantFrom(false, true, 'force'),
    unmovable: fc.array(fc.nat(40), { maxLength: 2 }),
    reservedKiB: fc.constantFrom(0, 4096),
    variant: fc.constantFrom(null, ...VARIANT_NAMES),
    ram,
    iomem: fc.array(iomem, { maxLength: 3 }),
    regions: fc.array(region, { maxLength: 3 }),
  })
  .map((b) => ({
    type: 'boot',
    kernel: b.kernel,
    config: { memoryHotremove: b.hotremove, autoOnline: b.autoOnline, memmapOnMemory: b.memmap },
    unmovable: b.unmovable,
    reservedKiB: b.reservedKiB,
    variant: b.variant,
    memoryBlockSize: hex((128 * MIB) << b.blockShift),
    ram: b.ram.map((r) => ({ start: hex(r.start), size: hex(r.size), node: r.node })),
    iomem: b.iomem.map((e) => ({ start: hex(e.start), size: hex(e.size), name: e.name, busy: e.busy })),
    daxRegions: b.regions.map((r, id) => ({
      id,
      kind: r.kind,
      start: hex(r.start),
      size: hex(r.size),
      targetNode: r.targetNode,
      ...(r.namespace === null || r.kind !== 'pmem' ? {} : { namespace: { name: `namespace${id}.0`, size: hex(r.namespace) } }),
      devices: r.devices.map((d, j) => ({ name: `dax${id}.${j}`, start: hex(r.start + (r.kind === 'pmem' ? (r.namespace ?? 0) : 0) + d.off - 2 * MIB), size: hex(d.size), ...(d.driver === undefined ? {} : { driver: d.driver }) })),
    })),
  }));

/** The boot if the reader accepts it, null if it refuses it with a LogError (anything else propagates). */
function accepted(line: string): BootEvent | null {
  try {
    const [first] = parseLogText(line, 'boot.jsonl');
    return first?.event.type === 'boot' ? first.event : null;
  } catch (e) {
    if (e instanceof LogError) return null;
    throw e;
  }
}

async function exitStatus(text: string): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(['check', '-'], { stdout: () => undefined, stderr: (s) => void (err += s) }, { color: false, check: checkAll(checkStep), stdin: Readable.from([text]) });
  return { code, err };
}

describe('boots the reader accepts', () => {
  it('the issue 9 machine (a busy entry over a pmem namespace) is refused, naming both', async () => {
    const line = '{"type":"boot","memoryBlockSize":"128M","ram":[{"start":"0x0","size":"2G","node":0}],"iomem":[{"start":"0x80000000","end":"0x9fffffff","name":"Reserved","busy":true}],"daxRegions":[{"id":0,"kind":"pmem","start":"0x80000000","size":"512M","targetNode":0,"namespace":{"name":"namespace0.0","size":"2M"},"devices":[{"name":"dax0.0","start":"0x80200000","size":"510M"}]}]}';
    const { code, err } = await exitStatus(`${line}\n`);
    expect(err).toContain('<stdin>:1: field "daxRegions[0].namespace":');
    expect(err).toContain('iomem[0] "Reserved" [mem 0x80000000-0x9fffffff] (busy)');
    expect(code).toBe(2);
  });

  it('replay without a model exception, and the CLI exits 0, 1 or 2', async () => {
    let replayed = 0;
    await fc.assert(
      fc.asyncProperty(rawBoot, choices(12), async (raw, steps) => {
        const line = JSON.stringify(raw);
        const boot = accepted(line);
        let text = `${line}\n`;
        if (boot !== null) {
          replayed++;
          const r = runSequence(boot, steps, { stopAtViolation: false });
          expect(r.violations.filter((v) => v.invariant === 'model-exception')).toEqual([]);
          text = writeLog(r.events);
        }
        const { code, err } = await exitStatus(text);
        expect(err).not.toContain('internal error');
        expect([0, 1, 2]).toContain(code);
      }),
      { numRuns: Number(process.env['MEMHP_BOOT_RUNS'] ?? 3000), seed: Number(process.env['MEMHP_BOOT_SEED'] ?? 9) },
    );
    // The grid must reach the model, not only the reader's refusals.
    expect(replayed).toBeGreaterThan(300);
  });
});
