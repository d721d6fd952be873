/**
 * Small machines for the exhaustive search (`memhp explore --preset NAME`),
 * each exhausted in seconds, plus the two harness machines whose sequences a
 * real kernel can run (`--cover --emit`). Every preset is a boot event read
 * through the log reader, so it is a machine a log could describe.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BootConfig } from '../src/kernel/config.js';
import type { VariantName } from '../src/kernel/profile.js';
import type { BootEvent } from '../src/log/events.js';
import { parseLogText } from '../src/log/index.js';
import { parseBoot } from '../src/log/parse.js';
import type { MachineName } from '../src/realkernel/machine.js';
import { KERNEL_VARIANT_PROFILE } from './variants.js';

export interface Preset {
  readonly name: string;
  readonly summary: string;
  readonly boot: () => BootEvent;
  /** Boot blocks in the alphabet (default none). */
  readonly bootBlocks?: readonly number[];
  /** Only this many hot-added blocks (the lowest ids) get block operations (default all). */
  readonly hotBlockLimit?: number;
  /** The generators used when --ops is not given (default all but the opt-in program events). */
  readonly ops?: readonly string[];
  /** The harness machine this preset is, for the conformance suite. */
  readonly harness?: MachineName;
}

type Json = Record<string, unknown>;

/** 1 GiB of boot RAM on node 0 (blocks 0-7): small, so the global part of each fingerprint is short. */
const RAM = [{ start: '0x0', size: '1G', node: 0 }];

function machine(regions: Json[], config: Json = {}, kernel = '6.8'): () => BootEvent {
  return () => parseBoot({ type: 'boot', kernel, memoryBlockSize: '128M', ram: RAM, config, daxRegions: regions });
}

function fromFile(file: string): () => BootEvent {
  return () => {
    const path = fileURLToPath(new URL(`./presets/${file}`, import.meta.url));
    const first = parseLogText(readFileSync(path, 'utf8'), path)[0];
    if (first === undefined || first.event.type !== 'boot') throw new Error(`model bug: ${path} has no boot event`);
    return first.event;
  };
}

/** A dynamic (hmem/cxl) region at `start` with one device over all of it. */
function dynamic(kind: 'hmem' | 'cxl', id: number, start: string, size: string, targetNode: number, device: Json = {}): Json {
  return { id, kind, start, size, targetNode, devices: [{ name: `dax${id}.0`, start, size, driver: 'device_dax', ...device }] };
}

export const PRESETS: readonly Preset[] = [
  {
    name: 'pmem-2blocks',
    summary: 'one legacy pmem device of two blocks on node 0 (2 MiB namespace in the block below), device_dax at boot; 6.8, no hot-remove',
    // The region starts 2 MiB below block 64, so after the namespace the device is exactly blocks 64-65.
    boot: machine([{ id: 0, kind: 'pmem', start: '0x1ffe00000', size: '258M', targetNode: 0, namespace: { name: 'namespace0.0', size: '2M' }, devices: [{ name: 'dax0.0', start: '0x200000000', size: '256M', driver: 'device_dax' }] }]),
  },
  {
    name: 'hmem-hotremove',
    summary: 'one hmem device of two blocks on memoryless node 1, with CONFIG_MEMORY_HOTREMOVE: offline, hot-remove, re-probe; 6.8',
    boot: machine([dynamic('hmem', 0, '0x200000000', '256M', 1)], { memoryHotremove: true }),
  },
  {
    name: 'two-nodes',
    summary: 'two hmem devices of one block each on memoryless nodes 1 and 2 (interchangeable), with hot-remove; 6.8',
    boot: machine([dynamic('hmem', 0, '0x200000000', '128M', 1), dynamic('hmem', 1, '0x240000000', '128M', 2)], { memoryHotremove: true }),
    // Two devices square the state count: without attributes and faults it is 1,176 states reduced, 2,304 not
    // (with both, over 100,000 unreduced).
    ops: ['driver', 'block', 'invalid', 'read'],
  },
  {
    name: 'cxl-memmap',
    summary: 'one CXL device of two blocks on node 1 with memory_hotplug.memmap_on_memory (memmap inside each block); 6.8',
    boot: machine([dynamic('cxl', 0, '0x200000000', '256M', 1)], { memmapOnMemory: true }),
    // Without resizing and faults: with them the memmap placements multiply the states past 100,000.
    ops: ['driver', 'block', 'invalid', 'read'],
  },
  {
    name: 'cxl-memmap-72',
    summary: 'cxl-memmap with 72-byte struct pages: a block\'s memmap (2.25 MiB) is not pageblock-aligned, so memmap_on_memory is refused; 6.8',
    boot: machine([dynamic('cxl', 0, '0x200000000', '256M', 1)], { memmapOnMemory: true, structPageSize: 72 }),
    ops: ['driver', 'block', 'invalid', 'read'],
  },
  {
    name: 'hmem-no-node',
    summary: 'one hmem device of one block whose target_node is -1 (firmware gave no proximity domain); 6.8',
    boot: machine([dynamic('hmem', 0, '0x200000000', '128M', -1)]),
  },
  {
    name: 'hmem-programs',
    summary: 'one hmem device of one block (align 2M) on node 1, device_dax at boot, with programs (SPEC §7): open, mmap, load/store, splits, fork, exit, and device_dax unbind/bind; 6.8',
    boot: machine([dynamic('hmem', 0, '0x200000000', '128M', 1)]),
    // Programs and device_dax unbind/bind (with mappings live) only: with the block and attribute operations
    // as well every process state would be multiplied by every hotplug state.
    ops: ['rebind', 'program'],
  },
  {
    name: 'hmm-52bit',
    summary: 'test_hmm as a module (CONFIG_DEVICE_PRIVATE, the probe file) on a CPU with 52 physical address bits and 4-level paging (MAX_PHYSMEM_BITS 46): modprobe/rmmod and probe writes at the top of the free space; 6.1',
    boot: machine([], { devicePrivate: true, testHmm: 'm', physAddrBits: 52, archMemoryProbe: true, memoryHotremove: true }, '6.1'),
    ops: ['hmm', 'read'],
  },
  {
    name: 'hmm-device',
    summary: 'test_hmm built in (CONFIG_DEVICE_PRIVATE, the harness hmm kernel) with its two devices from boot, a process with anonymous buffers, touches, fork, mprotect, munmap, MADV_DONTNEED, and the dmirror commands including migration to the device and back; 6.1',
    boot: machine([], { devicePrivate: true, testHmm: 'y' }, '6.1'),
    ops: ['hmm-migrate'],
  },
  {
    name: 'pmem-none-programs',
    summary: 'one legacy pmem namespace of one block created --map=none under the 2020 RFC (boot.patches devdax-map-none): no struct pages, VM_PFNMAP, special entries at 2M; device_dax at boot, with programs and the model-only follow_pfn users (KVM, VFIO); 6.1',
    boot: () =>
      parseBoot({
        type: 'boot',
        kernel: '6.1',
        memoryBlockSize: '128M',
        ram: RAM,
        patches: ['devdax-map-none'],
        daxRegions: [{ id: 0, kind: 'pmem', start: '0x200000000', size: '128M', targetNode: 0, map: 'none', devices: [{ name: 'dax0.0', start: '0x200000000', size: '128M', align: '2M', driver: 'device_dax' }] }],
      }),
    ops: ['rebind', 'program', 'pfn'],
  },
  {
    name: 'hmem-6.1',
    summary: 'the harness hmem machine on 6.1 (dax0.0: 1 GiB = 8 blocks on node 1, hot-remove); block operations on the first 2 hot-added blocks; no fault injection',
    boot: fromFile('hmem-6.1.jsonl'),
    hotBlockLimit: 2,
    ops: ['driver', 'block', 'attr', 'invalid', 'read'],
    harness: 'hmem',
  },
  {
    name: 'pmem-6.1',
    summary: 'the harness pmem machine on 6.1 (dax0.0: 1006 MiB, kmem adds blocks 41-47 on node 0, hot-remove); block operations on the first 2 hot-added blocks; no fault injection',
    boot: fromFile('pmem-6.1.jsonl'),
    hotBlockLimit: 2,
    ops: ['driver', 'block', 'attr', 'invalid', 'read'],
    harness: 'pmem',
  },
  {
    name: 'hmem-6.12',
    summary: 'the harness hmem machine on 6.12 (dax0.0 boots on kmem: v6.3 dax_bus_match by type; its 8 blocks offline on node 1, hot-remove); block operations on the first 2 hot-added blocks; no fault injection',
    boot: fromFile('hmem-6.12.jsonl'),
    hotBlockLimit: 2,
    ops: ['driver', 'block', 'attr', 'invalid', 'read'],
    harness: 'hmem',
  },
  {
    name: 'pmem-6.12',
    summary: 'the harness pmem machine on 6.12 (dax0.0: 1006 MiB on device_dax, kmem adds blocks 41-47 on node 0, hot-remove); block operations on the first 2 hot-added blocks; no fault injection',
    boot: fromFile('pmem-6.12.jsonl'),
    hotBlockLimit: 2,
    ops: ['driver', 'block', 'attr', 'invalid', 'read'],
    harness: 'pmem',
  },
];

/** The presets exhausted by `npm test` and the bench: the small ones (the harness ones are searched to a depth). */
export const SMALL_PRESETS: readonly string[] = ['pmem-2blocks', 'hmem-hotremove', 'two-nodes', 'cxl-memmap', 'cxl-memmap-72', 'hmem-no-node', 'hmem-programs', 'pmem-none-programs'];

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

export function presetByName(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}

/**
 * The preset each bug variant is searched on: the smallest machine that can
 * show it (the device-dax mapping variants: the one with program events).
 */
export const VARIANT_PRESET: Readonly<Record<VariantName, string>> = {
  'walk-top-level-only': 'pmem-2blocks',
  'walk-returns-minus-one': 'pmem-2blocks',
  'register-top-level-only': 'pmem-2blocks',
  'kmem-accepts-invalid-node': 'hmem-no-node',
  'kmem-probe-leaks-on-add-failure': 'pmem-2blocks',
  'memmap-whole-range': 'cxl-memmap',
  'memmap-ignores-support': 'cxl-memmap-72',
  'kmem-remove-releases-region': 'pmem-2blocks',
  'dax-no-may-split': 'hmem-programs',
  'mremap-no-split-check': 'hmem-programs',
  'dax-pte-fault-ignores-align': 'hmem-programs',
  'dax-unbind-skips-zap': 'hmem-programs',
  'follow-pfn-pte-only': 'pmem-none-programs',
  'hmm-placement-no-physmem-end-clamp': 'hmm-52bit',
  'hmm-placement-off-by-one': 'hmm-52bit',
  'hmm-fork-keeps-write': 'hmm-device',
  'hmm-mprotect-keeps-write': 'hmm-device',
  'hmm-zap-skips-put': 'hmm-device',
  'hmm-range-fault-foreign-valid': 'hmm-device',
  'hmm-exclusive-maps-partial': 'hmm-device',
};

/**
 * `boot` with a bug variant switched on, on the kernel and config the
 * variant's history needs (KERNEL_VARIANT_PROFILE), as fuzz's machines get.
 */
export function withVariant(boot: BootEvent, variant: VariantName | null): BootEvent {
  if (variant === null) return boot;
  const need = KERNEL_VARIANT_PROFILE[variant];
  const config: BootConfig = { ...boot.config, ...need.config };
  const patches = [...new Set([...boot.patches, ...(need.patches ?? [])])];
  return { ...boot, kernel: need.kernel ?? boot.kernel, config, variant, patches };
}
