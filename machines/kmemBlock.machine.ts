/**
 * The life of one logical block of a kmem_blk disk (the kmem persistence
 * RFC's type BLK, patch 4/4, drivers/dax/kmem_blk.c as posted;
 * KERNEL-FACTS-PERSIST §1.6): `unmapped` (its index entry is 0) or `mapped`
 * (the entry names a device page P in the data pool).
 *
 * A write to an unmapped block maps it when dax_kmem_alloc_page gets a page
 * of the device, and leaves it unmapped (EIO) when it gets none; a write to a
 * mapped block overwrites P in place; a discard or write-zeroes unmaps it and
 * frees P; a read never allocates. A reboot keeps the entry (the index is on
 * the media); an unbind frees P but leaves the entry, which is the RFC's bug
 * P4, not a transition of the block.
 */
import { setup } from 'xstate';

export type KmemBlockEvent =
  /** kmem_blk_insert_page found the block unmapped and dax_kmem_alloc_page gave a device page. */
  | { type: 'write.allocated' }
  /** ... and got no page (or one outside the device, freed again): the bio fails with EIO. */
  | { type: 'write.nopage' }
  /** copy_to_kmem_blk into the page the block already maps. */
  | { type: 'write.inplace' }
  /** copy_from_kmem_blk: the page's bytes, or zeros for an unmapped block. */
  | { type: 'read' }
  /** kmem_blk_discard (REQ_OP_DISCARD, REQ_OP_WRITE_ZEROES): the entry cleared, the page freed. */
  | { type: 'discard' };

export type KmemBlockState = 'unmapped' | 'mapped';

export const kmemBlockMachine = setup({
  types: {
    events: {} as KmemBlockEvent,
  },
}).createMachine({
  id: 'kmemBlock',
  initial: 'unmapped',
  states: {
    unmapped: {
      on: {
        'write.allocated': { target: 'mapped' },
        'write.nopage': { target: 'unmapped' },
        read: { target: 'unmapped' },
        discard: { target: 'unmapped' },
      },
    },
    mapped: {
      on: {
        'write.inplace': { target: 'mapped' },
        read: { target: 'mapped' },
        discard: { target: 'unmapped' },
      },
    },
  },
});
