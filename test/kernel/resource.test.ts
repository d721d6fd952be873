/**
 * kernel/resource.c rules (KERNEL-FACTS §1), on hand-built trees. Expected
 * flags, paths and text are written out from the kernel's rules; the model is
 * only ever the thing under test.
 */
import { describe, expect, it } from 'vitest';
import {
  insertResource,
  releaseMemRegion,
  releaseMemRegionAdjustable,
  releaseResource,
  removeResource,
  renderIomem,
  regionIntersects,
  requestRegion,
  requestResource,
  walkSystemRamRange,
  type Resource,
} from '../../src/kernel/resource.js';

// include/linux/ioport.h
const MEM = 0x00000200;
const SYSRAM = 0x01000000;
const DRIVER_MANAGED = 0x02000000;
const BUSY = 0x80000000;
const SYSTEM_RAM = MEM | SYSRAM;
// enum { REGION_INTERSECTS, REGION_DISJOINT, REGION_MIXED }
const INTERSECTS = 0;
const DISJOINT = 1;
const MIXED = 2;

function n(start: bigint, end: bigint, name: string, flags: number = MEM, desc = 0, children: Resource[] = []): Resource {
  return { start, end, name, flags: flags >>> 0, desc, children };
}
function root(...children: Resource[]): Resource {
  return { start: 0n, end: 0xffffffffffffffffn, name: 'PCI mem', flags: MEM, desc: 0, children };
}
const ram = (start: bigint, end: bigint): Resource => n(start, end, 'System RAM', SYSTEM_RAM | BUSY);
/** Persistent Memory (desc 4) holding a BUSY namespace0.0 metadata node. */
const pmem = (...extra: Resource[]): Resource =>
  n(0x80000000n, 0x9fffffffn, 'Persistent Memory', MEM, 4, [n(0x80000000n, 0x801fffffn, 'namespace0.0', MEM | BUSY, 4), ...extra]);
/** kmem's layout under Soft Reserved: daxR.I (non-BUSY SYSTEM_RAM) > System RAM (kmem). */
const kmemTree = (): Resource =>
  root(
    n(0x180000000n, 0x1bfffffffn, 'Soft Reserved', MEM, 8, [
      n(0x180000000n, 0x1bfffffffn, 'dax0.0', SYSTEM_RAM, 8, [
        n(0x180000000n, 0x1bfffffffn, 'System RAM (kmem)', SYSTEM_RAM | BUSY | DRIVER_MANAGED, 8),
      ]),
    ]),
  );

function ok<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error('expected success');
  return r as Extract<T, { ok: true }>;
}

describe('__request_region (request_mem_region)', () => {
  it('__request_region descends into a non-BUSY container; the node takes its type and desc (MEM|BUSY, desc 4)', () => {
    const r = ok(requestRegion(root(ram(0n, 0x7fffffffn), pmem()), 0x88000000n, 0x18000000n, 'dax0.0'));
    expect(r.path).toEqual([1, 1]);
    expect(r.root.children[1]?.children[1]).toEqual(n(0x88000000n, 0x9fffffffn, 'dax0.0', MEM | BUSY, 4));
  });

  it('__request_region descends through several non-BUSY levels with identical ranges (CXL Window > region0)', () => {
    const t = root(n(0x490000000n, 0x50fffffffn, 'CXL Window 0', MEM, 9, [n(0x490000000n, 0x50fffffffn, 'region0', MEM, 9)]));
    const r = ok(requestRegion(t, 0x490000000n, 0x80000000n, 'dax0.0'));
    expect(r.path).toEqual([0, 0, 0]);
    expect(r.root.children[0]?.children[0]?.children[0]).toEqual(n(0x490000000n, 0x50fffffffn, 'dax0.0', MEM | BUSY, 9));
  });

  it('__request_region inherits IORESOURCE_SYSRAM under a System RAM-typed parent and desc 8 under Soft Reserved', () => {
    const t = root(n(0x180000000n, 0x1bfffffffn, 'Soft Reserved', MEM, 8, [n(0x180000000n, 0x1bfffffffn, 'dax0.0', SYSTEM_RAM, 8)]));
    // register_memory_resource passes SYSTEM_RAM|BUSY|SYSRAM_DRIVER_MANAGED.
    const kmem = ok(requestRegion(t, 0x180000000n, 0x40000000n, 'System RAM (kmem)', SYSTEM_RAM | BUSY | DRIVER_MANAGED));
    expect(kmem.path).toEqual([0, 0, 0]);
    expect(kmem.root.children[0]?.children[0]?.children[0]).toMatchObject({ flags: 0x83000200, desc: 8 });
    // With no caller flags the SYSRAM bit still comes from the parent.
    const plain = ok(requestRegion(t, 0x180000000n, 0x8000000n, 'x'));
    expect(plain.root.children[0]?.children[0]?.children[0]).toMatchObject({ flags: 0x81000200, desc: 8 });
  });

  it('__request_region at the top level takes the root type (MEM), desc NONE, and lands in start order', () => {
    const t = root(ram(0n, 0x7fffffffn), ram(0x100000000n, 0x17fffffffn));
    const r = ok(requestRegion(t, 0x90000000n, 0x1000n, 'mmio'));
    expect(r.path).toEqual([1]);
    expect(r.root.children.map((c) => c.name)).toEqual(['System RAM', 'mmio', 'System RAM']);
    expect(r.root.children[1]).toMatchObject({ flags: 0x80000200, desc: 0 });
  });

  it('__request_region never enters a BUSY node (System RAM, a pmem namespace, an identical BUSY range)', () => {
    const t = root(ram(0n, 0x7fffffffn), pmem());
    expect(requestRegion(t, 0x1000n, 0x1000n, 'x').ok).toBe(false);
    expect(requestRegion(t, 0x80000000n, 0x1000n, 'x').ok).toBe(false);
    expect(requestRegion(t, 0x80000000n, 0x200000n, 'x').ok).toBe(false);
  });

  it('__request_region fails for a request straddling two siblings or wrapping one, even when they are not BUSY', () => {
    const t = root(n(0x1000n, 0x1fffn, 'A'), n(0x2000n, 0x2fffn, 'B'));
    expect(requestRegion(t, 0x1800n, 0x1000n, 'x').ok).toBe(false);
    expect(requestRegion(t, 0x800n, 0x1000n, 'x').ok).toBe(false);
    expect(requestRegion(t, 0x0n, 0x4000n, 'x').ok).toBe(false);
    // Inside one of them is fine: it nests.
    expect(ok(requestRegion(t, 0x2800n, 0x100n, 'x')).path).toEqual([1, 0]);
  });

  it('__request_region warns "Unaddressable device" when a top-level conflict is device-private (desc 6)', () => {
    const t = root(n(0x3ffff8000000n, 0x3fffffffffffn, 'hmm', MEM | BUSY, 6));
    const r = requestRegion(t, 0x3ffff8000000n, 0x4000000n, 'System RAM (kmem)', SYSTEM_RAM | BUSY);
    expect(r.ok).toBe(false);
    expect(r.warnings).toEqual(['resource: Unaddressable device hmm [mem 0x3ffff8000000-0x3fffffffffff] conflicts with [mem 0x3ffff8000000-0x3ffffbffffff]']);
  });

  it('__request_region does not warn for a device-private node below the top level (parent != &iomem_resource; 2025 fix, in stable)', () => {
    const t = root(n(0x3ff000000000n, 0x3fffffffffffn, 'Reserved', MEM, 7, [n(0x3ffff8000000n, 0x3fffffffffffn, 'hmm', MEM | BUSY, 6)]));
    const r = requestRegion(t, 0x3ffff8000000n, 0x4000000n, 'x');
    expect(r.ok).toBe(false);
    expect(r.warnings).toEqual([]);
  });

  it('__request_region warns at any depth before the 2025 fix (v5.1, v6.8.0: warnTopLevelOnly false)', () => {
    const t = root(n(0x3ff000000000n, 0x3fffffffffffn, 'Reserved', MEM, 7, [n(0x3ffff8000000n, 0x3fffffffffffn, 'hmm', MEM | BUSY, 6)]));
    const r = requestRegion(t, 0x3ffff8000000n, 0x4000000n, 'x', 0, [], { warnTopLevelOnly: false });
    expect(r.ok).toBe(false);
    expect(r.warnings).toEqual(['resource: Unaddressable device hmm [mem 0x3ffff8000000-0x3fffffffffff] conflicts with [mem 0x3ffff8000000-0x3ffffbffffff]']);
  });

  it('__request_region refuses a zero-length request (end < start: the parent is the conflict)', () => {
    expect(requestRegion(root(), 0x1000n, 0n, 'x').ok).toBe(false);
  });
});

describe('__request_resource (request_resource)', () => {
  const t = root(n(0x0n, 0xfffn, 'A'), n(0x1000n, 0x1fffn, 'B'), n(0x2000n, 0x2fffn, 'C', MEM | BUSY));

  it('__request_resource returns the parent itself when the new node is outside it or has end < start', () => {
    const outside = requestResource(t, [1], n(0x800n, 0x17ffn, 'x'));
    expect(outside).toEqual({ ok: false, conflict: [1], conflictIsParent: true });
    expect(requestResource(t, [], n(0x5000n, 0x4fffn, 'x'))).toEqual({ ok: false, conflict: [], conflictIsParent: true });
  });

  it('__request_resource names the first overlapping child, BUSY or not, and never nests by itself', () => {
    expect(requestResource(t, [], n(0x1800n, 0x27ffn, 'x'))).toEqual({ ok: false, conflict: [1], conflictIsParent: false });
    expect(requestResource(t, [], n(0x1100n, 0x11ffn, 'x'))).toEqual({ ok: false, conflict: [1], conflictIsParent: false });
    expect(requestResource(t, [], n(0x0n, 0x2fffn, 'x'))).toEqual({ ok: false, conflict: [0], conflictIsParent: false });
  });

  it('__request_resource inserts into a gap keeping children sorted by start', () => {
    const r = ok(requestResource(root(n(0x0n, 0xfffn, 'A'), n(0x2000n, 0x2fffn, 'C')), [], n(0x1000n, 0x1fffn, 'B')));
    expect(r.path).toEqual([1]);
    expect(r.root.children.map((c) => c.name)).toEqual(['A', 'B', 'C']);
  });
});

describe('insert_resource', () => {
  const t = root(n(0x1000n, 0x1fffn, 'A'), n(0x3000n, 0x3fffn, 'B', MEM | BUSY), n(0x10000n, 0x10fffn, 'D'));

  it('insert_resource adopts the siblings lying entirely inside the new node', () => {
    const r = ok(insertResource(t, n(0x0n, 0x4fffn, 'C')));
    expect(r.root.children.map((c) => c.name)).toEqual(['C', 'D']);
    expect(r.root.children[0]?.children.map((c) => c.name)).toEqual(['A', 'B']);
  });

  it('insert_resource fails on a partial overlap', () => {
    expect(insertResource(t, n(0x1800n, 0x37ffn, 'x')).ok).toBe(false);
  });

  it('insert_resource descends into a node that fully contains the new one', () => {
    const r = ok(insertResource(t, n(0x1100n, 0x11ffn, 'x')));
    expect(r.path).toEqual([0, 0]);
    expect(r.root.children[0]?.children[0]?.name).toBe('x');
  });
});

describe('__release_region (release_mem_region)', () => {
  const dax = n(0x88000000n, 0x9fffffffn, 'dax0.0', MEM | BUSY, 4);

  it('__release_region frees the BUSY node matching exactly, found below non-BUSY containers', () => {
    const r = releaseMemRegion(root(pmem(dax)), 0x88000000n, 0x18000000n);
    expect(r.warning).toBeUndefined();
    expect(r.root).toEqual(root(pmem()));
  });

  it('__release_region leaves a BUSY node alone when asked for a sub-range, and warns', () => {
    const t = root(pmem(dax));
    const r = releaseMemRegion(t, 0x88000000n, 0x8000000n);
    expect(r.root).toEqual(t);
    expect(r.warning).toMatch(/^Trying to free nonexistent resource </);
  });

  it('__release_region cannot free a non-BUSY node, even with its exact range', () => {
    const t = root(pmem(dax));
    const r = releaseMemRegion(t, 0x80000000n, 0x20000000n);
    expect(r.root).toEqual(t);
    expect(r.warning).toMatch(/^Trying to free nonexistent resource </);
  });

  it('__release_region warns for a range that lies in a hole', () => {
    const t = root(pmem(dax));
    const r = releaseMemRegion(t, 0x200000000n, 0x1000n);
    expect(r.root).toEqual(t);
    expect(r.warning).toMatch(/^Trying to free nonexistent resource </);
  });
});

describe('remove_resource vs release_resource', () => {
  const kmem = n(0x88000000n, 0x9fffffffn, 'System RAM (kmem)', SYSTEM_RAM | BUSY | DRIVER_MANAGED, 4);
  const t = root(pmem(n(0x88000000n, 0x9fffffffn, 'dax0.0', SYSTEM_RAM, 4, [kmem])));

  it('remove_resource splices the children into the parent list in its place', () => {
    expect(removeResource(t, [0, 1])).toEqual(root(pmem(kmem)));
  });

  it('release_resource unlinks the node together with its whole subtree', () => {
    expect(releaseResource(t, [0, 1])).toEqual(root(pmem()));
  });
});

describe('release_mem_region_adjustable', () => {
  const t = root(ram(0x100000000n, 0x17fffffffn));
  const v63 = { stopAtNonSysram: false };

  it('release_mem_region_adjustable deletes an exact match', () => {
    expect(releaseMemRegionAdjustable(t, 0x100000000n, 0x80000000n, v63)).toEqual(root());
  });

  it('release_mem_region_adjustable trims the front when the starts match', () => {
    expect(releaseMemRegionAdjustable(t, 0x100000000n, 0x8000000n, v63)).toEqual(root(ram(0x108000000n, 0x17fffffffn)));
  });

  it('release_mem_region_adjustable trims the back when the ends match', () => {
    expect(releaseMemRegionAdjustable(t, 0x178000000n, 0x8000000n, v63)).toEqual(root(ram(0x100000000n, 0x177ffffffn)));
  });

  it('release_mem_region_adjustable splits an interior range into two siblings with the same name, flags and desc', () => {
    expect(releaseMemRegionAdjustable(t, 0x110000000n, 0x8000000n, v63)).toEqual(
      root(ram(0x100000000n, 0x10fffffffn), ram(0x118000000n, 0x17fffffffn)),
    );
  });

  it('release_mem_region_adjustable descends through non-BUSY MEM nodes to the kmem RAM (v6.3+)', () => {
    const after = releaseMemRegionAdjustable(kmemTree(), 0x180000000n, 0x40000000n, v63);
    expect(after).toEqual(root(n(0x180000000n, 0x1bfffffffn, 'Soft Reserved', MEM, 8, [n(0x180000000n, 0x1bfffffffn, 'dax0.0', SYSTEM_RAM, 8)])));
  });

  it('release_mem_region_adjustable before v6.3 stops at a containing node without IORESOURCE_SYSRAM (Soft Reserved)', () => {
    const before = kmemTree();
    expect(releaseMemRegionAdjustable(before, 0x180000000n, 0x40000000n, { stopAtNonSysram: true })).toEqual(before);
  });

  it('release_mem_region_adjustable before v6.3 still descends through SYSRAM-typed containers', () => {
    const top = root(n(0x180000000n, 0x1bfffffffn, 'dax0.0', SYSTEM_RAM, 0, [n(0x180000000n, 0x1bfffffffn, 'System RAM', SYSTEM_RAM | BUSY)]));
    expect(releaseMemRegionAdjustable(top, 0x180000000n, 0x40000000n, { stopAtNonSysram: true })).toEqual(
      root(n(0x180000000n, 0x1bfffffffn, 'dax0.0', SYSTEM_RAM, 0)),
    );
  });
});

describe('walk_system_ram_range', () => {
  const walk = { searchChildren: true, minusOne: false };

  it('walk_system_ram_range drops partial pages: [0x1800, 0x4fff] gives PFN_UP 2 .. PFN_DOWN 5 = 3 pages', () => {
    expect(walkSystemRamRange(root(ram(0x1800n, 0x4fffn)), 0n, 16n, walk)).toEqual({ ok: true, pages: 3n });
  });

  it('walk_system_ram_range clips each resource to the walked range', () => {
    expect(walkSystemRamRange(root(ram(0n, 0xfffffn)), 16n, 8n, walk)).toEqual({ ok: true, pages: 8n });
  });

  it('walk_system_ram_range returns -EINVAL when no callback ran, -1 before the 2019 error-code fix', () => {
    const sub = root(ram(0x1800n, 0x1fffn));
    expect(walkSystemRamRange(sub, 0n, 16n, walk)).toEqual({ ok: false, ret: -22 });
    expect(walkSystemRamRange(sub, 0n, 16n, { searchChildren: true, minusOne: true })).toEqual({ ok: false, ret: -1 });
    expect(walkSystemRamRange(root(), 0n, 16n, walk)).toEqual({ ok: false, ret: -22 });
  });

  it('walk_system_ram_range only counts BUSY System RAM (a BUSY Reserved node does not)', () => {
    expect(walkSystemRamRange(root(n(0n, 0xfffffn, 'Reserved', MEM | BUSY, 7)), 0n, 16n, walk)).toEqual({ ok: false, ret: -22 });
  });

  it('walk_system_ram_range sees kmem RAM nested below non-BUSY nodes; the first_lvl (top-level-only) form does not', () => {
    expect(walkSystemRamRange(kmemTree(), 0x180000n, 0x8000n, walk)).toEqual({ ok: true, pages: 0x8000n });
    expect(walkSystemRamRange(kmemTree(), 0x180000n, 0x8000n, { searchChildren: false, minusOne: false })).toEqual({ ok: false, ret: -22 });
  });
});

describe('region_intersects (before v6.12: top-level nodes only)', () => {
  const t = root(
    ram(0x0n, 0x9ffffn),
    n(0xa0000n, 0xfffffn, 'Reserved', MEM | BUSY, 7),
    ram(0x100000n, 0x7fffffffn),
    ...kmemTree().children,
  );

  it('region_intersects is INTERSECTS for RAM only, holes not counting as "other"', () => {
    expect(regionIntersects(t, 0x100000n, 0x1000n, SYSTEM_RAM, 0)).toBe(INTERSECTS);
    expect(regionIntersects(t, 0x7ffff000n, 0x2000n, SYSTEM_RAM, 0)).toBe(INTERSECTS);
  });

  it('region_intersects is MIXED for RAM plus another resource', () => {
    expect(regionIntersects(t, 0x0n, 0x100000n, SYSTEM_RAM, 0)).toBe(MIXED);
  });

  it('region_intersects is DISJOINT with no matching resource (Reserved, a hole)', () => {
    expect(regionIntersects(t, 0xa0000n, 0x1000n, SYSTEM_RAM, 0)).toBe(DISJOINT);
    expect(regionIntersects(t, 0x80000000n, 0x1000n, SYSTEM_RAM, 0)).toBe(DISJOINT);
  });

  it('region_intersects misses kmem RAM nested under Soft Reserved (DISJOINT; fixed in v6.12, CVE-2024-49878)', () => {
    expect(regionIntersects(t, 0x180000000n, 0x1000n, SYSTEM_RAM, 0)).toBe(DISJOINT);
  });

  it('region_intersects matches desc when one is given', () => {
    expect(regionIntersects(t, 0x180000000n, 0x1000n, MEM, 8)).toBe(INTERSECTS);
    expect(regionIntersects(t, 0x180000000n, 0x1000n, MEM, 4)).toBe(DISJOINT);
  });
});

describe('r_show (/proc/iomem)', () => {
  it('r_show indents 2 spaces per level, capped at MAX_IORES_LEVEL 5 (a 7-deep chain)', () => {
    let chain = n(0x10000000n, 0x1fffffffn, 'L6');
    for (let i = 5; i >= 0; i--) chain = n(0x10000000n, 0x1fffffffn, `L${i}`, MEM, 0, [chain]);
    expect(renderIomem(root(chain))).toBe(
      [
        '10000000-1fffffff : L0',
        '  10000000-1fffffff : L1',
        '    10000000-1fffffff : L2',
        '      10000000-1fffffff : L3',
        '        10000000-1fffffff : L4',
        '          10000000-1fffffff : L5',
        '          10000000-1fffffff : L6',
        '',
      ].join('\n'),
    );
  });

  it('r_show pads to 8 hex digits and prints longer values in full, up to 0xffffffffffffffff', () => {
    const t = root(
      n(0x0n, 0xfffn, 'Reserved'),
      ram(0x180000000n, 0x47fffffffn),
      n(0x8000000000000000n, 0xffffffffffffffffn, 'top'),
    );
    expect(renderIomem(t)).toBe('00000000-00000fff : Reserved\n180000000-47fffffff : System RAM\n8000000000000000-ffffffffffffffff : top\n');
  });

  it('r_show prints zeros for a reader without CAP_SYS_ADMIN, keeping names and indentation', () => {
    expect(renderIomem(root(pmem()), true)).toBe('00000000-00000000 : Persistent Memory\n  00000000-00000000 : namespace0.0\n');
  });

  it('r_show uses width 4 when the root ends below 0x10000 (ioport)', () => {
    const io: Resource = { start: 0n, end: 0xffffn, name: 'PCI IO', flags: 0x100, desc: 0, children: [n(0x60n, 0x6fn, 'keyboard', 0x100)] };
    expect(renderIomem(io)).toBe('0060-006f : keyboard\n');
  });
});
