/**
 * Invariants of memory blocks and their accounting (drivers/base/memory.c,
 * mm/memory_hotplug.c).
 */
import { hex } from '../../src/util/u64.js';
import { mhpSupportsMemmapOnMemory } from '../../src/kernel/memmapOnMemory.js';
import { systemRamPages } from '../../src/kernel/memoryHotplug.js';
import { IORESOURCE_BUSY, IORESOURCE_SYSTEM_RAM, hasFlags, type Resource } from '../../src/kernel/resource.js';
import type { KernelState, MemoryBlock } from '../../src/kernel/state.js';
import type { Invariant } from './types.js';

function systemRamNodes(root: Resource): Resource[] {
  const out: Resource[] = [];
  const rec = (n: Resource): void => {
    for (const c of n.children) {
      // Nodes below System RAM (Kernel code, ...) are not separate memory.
      if (hasFlags(c, (IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY) >>> 0)) out.push(c);
      else rec(c);
    }
  };
  rec(root);
  return out;
}

/** blocks-cover-system-ram: blocks exist exactly for the block-sized chunks of added memory. */
export const blocksCoverSystemRam: Invariant = {
  name: 'blocks-cover-system-ram',
  inputs: ['blocks', 'iomem', 'blockSize', 'blockPages'],
  summary: 'a memory block exists for every block-sized chunk of BUSY System RAM, and every hot-added block is fully covered by BUSY System RAM',
  kernel: 'add_memory_resource creates one block per chunk (create_memory_block_devices); try_remove_memory removes blocks and then the resource',
  check: ({ before, after, blockChanges, full }) => {
    const out: string[] = [];
    const B = after.blockSize;
    // Coverage changes only with the tree or when a block appears; a state change of a block cannot break it.
    // A changed tree (bind, unbind: rare) re-checks every hot-added block.
    const treeChanged = full || before === null || before.iomem !== after.iomem;
    const ids = treeChanged ? after.blocks.keys() : blockChanges.filter((c) => c.before === undefined).map((c) => c.id);
    for (const id of ids) {
      const b = after.blocks.get(id);
      if (b === undefined || b.boot) continue;
      // The kernel's child-searching walk, whatever the profile's online path uses.
      const covered = systemRamPages(after, id, true);
      if (covered !== after.blockPages) out.push(`memory${id} is covered by ${covered} of ${after.blockPages} pages of BUSY System RAM`);
    }
    // Existence only changes with the resource tree or when blocks appear or vanish.
    const createdOrRemoved = before !== null && blockChanges.some((c) => c.before === undefined || c.after === undefined);
    if (full || before === null || before.iomem !== after.iomem || createdOrRemoved) {
      for (const r of systemRamNodes(after.iomem)) {
        for (let id = Number(r.start / B); BigInt(id) * B <= r.end; id++) {
          if (!after.blocks.has(id)) out.push(`System RAM ${r.name} [${hex(r.start)}-${hex(r.end)}] has no memory block ${id}`);
        }
      }
    }
    return out;
  },
};

/** The add each changed block came from, checked whole: all blocks of one add have an altmap or none do. */
function addsTouched(state: KernelState, ids: readonly number[]): Array<{ first: number; blocks: Array<[number, MemoryBlock]> }> {
  const seen = new Set<number>();
  const out: Array<{ first: number; blocks: Array<[number, MemoryBlock]> }> = [];
  for (const id of ids) {
    const b = state.blocks.get(id);
    if (b === undefined || b.boot || seen.has(b.addId)) continue;
    seen.add(b.addId);
    let lo = id;
    while (state.blocks.get(lo - 1)?.addId === b.addId) lo--;
    const blocks: Array<[number, MemoryBlock]> = [];
    for (let i = lo; state.blocks.get(i)?.addId === b.addId; i++) blocks.push([i, state.blocks.get(i) as MemoryBlock]);
    out.push({ first: lo, blocks });
  }
  return out;
}

/** vmemmap-in-own-block: a block's memmap lies inside that block, only where support holds. */
export const vmemmapInOwnBlock: Invariant = {
  name: 'vmemmap-in-own-block',
  inputs: ['blocks', 'profile', 'config', 'blockPages'],
  summary: "a block's self-hosted memmap lies inside that block, fits it, needs mhp_supports_memmap_on_memory(), and one add's blocks have it all or none",
  kernel: 'create_altmaps_and_memory_blocks (v6.8): one altmap per block with base_pfn = block start; mhp_supports_memmap_on_memory',
  check: ({ before, after, changedBlocks, blockChanges }) => {
    const out: string[] = [];
    let support: ReturnType<typeof mhpSupportsMemmapOnMemory> | undefined;
    for (const { id, after: b } of blockChanges) {
      if (b === undefined || b.memmapHost === null) continue;
      support ??= mhpSupportsMemmapOnMemory(after.profile, after.config, after.blockPages, after.blockPages);
      if (b.memmapHost !== 0) out.push(`memory${id}'s struct pages live in memory${id + b.memmapHost}`);
      if (b.memmapHost === 0 && (b.vmemmapPages <= 0 || b.vmemmapPages >= b.pages)) out.push(`memory${id} hosts ${b.vmemmapPages} memmap pages of ${b.pages}`);
      if (!support.ok) out.push(`memory${id} has a self-hosted memmap but memmap_on_memory is unsupported here (${support.why})`);
      else if (b.memmapHost === 0 && b.vmemmapPages !== support.pages) out.push(`memory${id} hosts ${b.vmemmapPages} memmap pages, one block needs ${support.pages}`);
    }
    // All-or-none is decided when the blocks are created; only a step that created blocks can break it.
    if (before !== null && !blockChanges.some((c) => c.before === undefined)) return out;
    const created = before === null ? changedBlocks : blockChanges.filter((c) => c.before === undefined).map((c) => c.id);
    for (const add of addsTouched(after, created)) {
      const withMap = add.blocks.filter(([, b]) => b.memmapHost !== null).length;
      if (withMap !== 0 && withMap !== add.blocks.length) out.push(`the add starting at memory${add.first} has ${withMap} of ${add.blocks.length} blocks with a self-hosted memmap`);
    }
    return out;
  },
};

function present(b: MemoryBlock | undefined): number {
  return b !== undefined && b.state === 'online' ? b.pages : 0;
}
function managed(b: MemoryBlock | undefined): number {
  // Self-hosted memmap pages are present but never handed to the buddy.
  return b !== undefined && b.state === 'online' ? b.pages - b.vmemmapPages : 0;
}

/** accounting: present and managed pages (MemTotal) are the sums over online blocks. */
export const accounting: Invariant = {
  name: 'accounting',
  inputs: ['blocks', 'presentPages', 'managedPages', 'bootReservedPages'],
  summary: 'present pages and managed pages (MemTotal) equal the sums over online blocks; memmap pages are present, never managed',
  kernel: 'online_pages / offline_pages: adjust_managed_page_count and adjust_present_page_count; memory_block_online adds the vmemmap pages to present only',
  check: ({ before, after, blockChanges, full }) => {
    const out: string[] = [];
    if (full || before === null) {
      let p = 0;
      let m = 0;
      for (const b of after.blocks.values()) {
        p += present(b);
        m += managed(b);
      }
      m -= after.bootReservedPages;
      if (p !== after.presentPages) out.push(`present pages ${after.presentPages}, but online blocks sum to ${p}`);
      if (m !== after.managedPages) out.push(`managed pages (MemTotal ${after.managedPages * 4} kB) ${after.managedPages}, but online blocks sum to ${m}`);
      return out;
    }
    let dp = 0;
    let dm = 0;
    for (const c of blockChanges) {
      dp += present(c.after) - present(c.before);
      dm += managed(c.after) - managed(c.before);
    }
    if (after.presentPages - before.presentPages !== dp) out.push(`present pages moved by ${after.presentPages - before.presentPages}, blocks by ${dp}`);
    if (after.managedPages - before.managedPages !== dm) out.push(`managed pages moved by ${after.managedPages - before.managedPages}, blocks by ${dm}`);
    return out;
  },
};

/** node-respected: hot-added memory is on its device's target node. */
export const nodeRespected: Invariant = {
  name: 'node-respected',
  inputs: ['blocks', 'devices', 'blockSize'],
  summary: "every block of kmem memory is on its dax device's target node",
  kernel: 'dev_dax_kmem_probe: numa_node = target_node (rejected if < 0); memory_group_register_static(numa_node, ...)',
  check: ({ before, after, blockChanges, full }) => {
    const out: string[] = [];
    // Only a new block, a block whose node changed, or a change of the devices can break this.
    const devicesChanged = before === null || before.devices !== after.devices;
    if (!full && !devicesChanged && blockChanges.every((c) => c.before?.nid === c.after?.nid)) return out;
    const ids = full || devicesChanged ? [...after.blocks.keys()] : blockChanges.filter((c) => c.before?.nid !== c.after?.nid).map((c) => c.id);
    if (ids.length === 0) return out;
    for (const dev of after.devices) {
      for (const r of dev.kmem?.res ?? []) {
        if (r === null) continue;
        const lo = Number(r.start / after.blockSize);
        const hi = Number((r.end + 1n) / after.blockSize) - 1;
        for (const id of ids) {
          if (id < lo || id > hi) continue;
          const b = after.blocks.get(id);
          if (b !== undefined && b.nid !== dev.targetNode) out.push(`memory${id} of ${dev.name} is on node ${b.nid}, target_node is ${dev.targetNode}`);
        }
      }
    }
    return out;
  },
};

/** no-transient-at-rest: going-offline never survives an operation. */
export const noTransientAtRest: Invariant = {
  name: 'no-transient-at-rest',
  inputs: ['blocks'],
  summary: 'no block is left going-offline after an operation',
  kernel: 'memory_block_change_state sets MEM_GOING_OFFLINE only for the duration of memory_block_offline',
  check: ({ blockChanges }) => {
    const out: string[] = [];
    for (const c of blockChanges) if (c.after?.state === 'going-offline') out.push(`memory${c.id} is still going-offline`);
    return out;
  },
};
