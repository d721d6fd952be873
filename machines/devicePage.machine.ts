/**
 * The life of one device-private page of test_hmm (lib/test_hmm.c and
 * mm/migrate_device.c of Debian's 6.1.192; the model's side is
 * src/kernel/hmm/devicePages.ts).
 *
 * `free`: on mdevice->free_pages (dmirror_allocate_chunk pushed every page
 * of its chunk there) → `allocated`: dmirror_devmem_alloc_page handed it out
 * with one reference (zone_device_page_init) and a backing system page →
 * `mapped`: device-private entries map it, and each holds a reference
 * (page_mapcount is the refcount: the model has no pins) → back to `free`
 * when the last reference goes (put_page → free_zone_device_page →
 * pgmap->ops->page_free = dmirror_devmem_free pushes it on the stack), or
 * `gone` when its chunk is being removed (dmirror_devmem_free skips the
 * push when chunk->remove; the chunk is then memunmap_pages'd and freed).
 *
 * Two ways lead out of `mapped`, and the difference is who holds the last
 * reference. zap_pte_range's page_remove_rmap + put_page drops the entry's
 * own: the last such unmap frees the page (`devpage.unmapped` with its
 * guard on the remaining mapcount). A migration first takes a reference of
 * its own (folio_get in migrate_vma_collect_pmd, get_page_unless_zero in
 * migrate_device_range) and then turns every entry into a migration entry
 * (page_remove_rmap + folio_put, "The folio won't be freed, as we took a
 * reference just above"): the page is held with no mapping, which is
 * `allocated` again (`devpage.isolated`), and it is freed by the
 * migration's put in migrate_device_finalize (`devpage.freed`), or mapped
 * again by remove_migration_ptes when it did not migrate.
 *
 * The context is what the guards read: the mapcount, and chunk->remove.
 */
import { and, assign, not, setup } from 'xstate';

export interface DevicePageContext {
  /** page_mapcount: the device-private entries mapping the page (each holds a reference). */
  readonly mapcount: number;
  /** dmirror_page_to_chunk(page)->remove: dmirror_device_remove_chunks is removing the page's chunk. */
  readonly removing: boolean;
}

export type DevicePageEvent =
  /** dmirror_devmem_alloc_page popped it (zone_device_page_init: refcount 1, BACKING_PAGE set). */
  | { type: 'devpage.allocated' }
  /** One more device-private entry: migrate_vma_insert_page, remove_migration_pte, copy_nonpresent_pte at fork. */
  | { type: 'devpage.mapped' }
  /** zap_pte_range removed one device-private entry (page_remove_rmap + put_page). */
  | { type: 'devpage.unmapped' }
  /** A migration holds the page and every entry became a migration entry (migrate_vma_collect_pmd, try_to_migrate_one). */
  | { type: 'devpage.isolated' }
  /** The last put of a page no entry maps (migrate_device_finalize's folio_put): free_zone_device_page → dmirror_devmem_free. */
  | { type: 'devpage.freed' }
  /** dmirror_device_remove_chunks set devmem->remove and took the chunk's free pages off the stack (dmirror_remove_free_pages). */
  | { type: 'chunk.removing' };

export const DEVICE_PAGE_EVENT_TYPES = ['devpage.allocated', 'devpage.mapped', 'devpage.unmapped', 'devpage.isolated', 'devpage.freed', 'chunk.removing'] as const;

export type DevicePageState = 'free' | 'allocated' | 'mapped' | 'gone';

/**
 * Context updates, shared by the machine's named actions and by the table
 * stepper derived from it (machines/index.ts stepDevicePage), as for the
 * memory block machine.
 */
export const devicePageActionImpls = {
  addMapping: (ctx: DevicePageContext): DevicePageContext => ({ mapcount: ctx.mapcount + 1, removing: ctx.removing }),
  dropMapping: (ctx: DevicePageContext): DevicePageContext => ({ mapcount: ctx.mapcount - 1, removing: ctx.removing }),
  dropAllMappings: (ctx: DevicePageContext): DevicePageContext => ({ mapcount: 0, removing: ctx.removing }),
  markRemoving: (ctx: DevicePageContext): DevicePageContext => ({ mapcount: ctx.mapcount, removing: true }),
} as const;

export const devicePageMachine = setup({
  types: {
    context: {} as DevicePageContext,
    input: {} as DevicePageContext,
    events: {} as DevicePageEvent,
  },
  guards: {
    /** Another entry still maps the page after this one goes (page_mapcount > 1 before page_remove_rmap). */
    otherMappings: ({ context }) => context.mapcount > 1,
    /** This entry is the page's last (and, with no pins, its last reference). */
    lastMapping: ({ context }) => context.mapcount === 1,
    chunkRemoving: ({ context }) => context.removing,
  },
  actions: {
    addMapping: assign(({ context }) => devicePageActionImpls.addMapping(context)),
    dropMapping: assign(({ context }) => devicePageActionImpls.dropMapping(context)),
    dropAllMappings: assign(({ context }) => devicePageActionImpls.dropAllMappings(context)),
    markRemoving: assign(({ context }) => devicePageActionImpls.markRemoving(context)),
  },
}).createMachine({
  id: 'devicePage',
  context: ({ input }) => ({ mapcount: input.mapcount, removing: input.removing }),
  initial: 'free',
  states: {
    free: {
      on: {
        // dmirror_devmem_alloc_page: pop mdevice->free_pages (or, when empty, dmirror_allocate_chunk pushes a new
        // chunk's pages and hands out the top one), zone_device_page_init, BACKING_PAGE = the system page.
        'devpage.allocated': { target: 'allocated' },
        // dmirror_remove_free_pages unlinks the chunk's free pages: never handed out again, and memunmap_pages
        // frees their struct pages with the chunk.
        'chunk.removing': { target: 'gone', actions: 'markRemoving' },
      },
    },
    allocated: {
      on: {
        // The allocation's (or the migration's) reference holds the page while its first entry appears:
        // migrate_vma_insert_page (page_add_new_anon_rmap + get_page) for a hole or the zero page,
        // remove_migration_pte for a migrated page's entries, or for a page that did not migrate its own
        // entries back (migrate_device_unmap's restore, migrate_device_finalize with dst = src).
        'devpage.mapped': { target: 'mapped', actions: 'addMapping' },
        // migrate_device_finalize drops the last reference of a page no entry maps: a migrated source page
        // (folio_put(src)), or a destination no entry took (folio_put(dst): the migration did not happen).
        // free_zone_device_page → dmirror_devmem_free: the backing page is freed, and the page pushed back on
        // the stack unless its chunk is being removed.
        'devpage.freed': [{ target: 'gone', guard: 'chunkRemoving' }, { target: 'free' }],
        // devmem->remove is set once: dmirror_device_remove_chunks walks each chunk once, then frees it.
        'chunk.removing': { target: 'allocated', guard: not('chunkRemoving'), actions: 'markRemoving' },
      },
    },
    mapped: {
      on: {
        // copy_nonpresent_pte at fork (get_page + page_try_dup_anon_rmap), or remove_migration_pte for each
        // further entry of a migrated page (remove_migration_ptes walks them all).
        'devpage.mapped': { target: 'mapped', actions: 'addMapping' },
        // zap_pte_range (munmap, MADV_DONTNEED, exit): page_remove_rmap + put_page. With no pins the entry's
        // reference is the page's last when it is the last entry, and put_page frees the page.
        'devpage.unmapped': [
          { target: 'mapped', guard: 'otherMappings', actions: 'dropMapping' },
          { target: 'gone', guard: and(['lastMapping', 'chunkRemoving']), actions: 'dropMapping' },
          { target: 'free', guard: 'lastMapping', actions: 'dropMapping' },
        ],
        // migrate_vma_collect_pmd (the migrating mm's entry) and try_to_migrate_one from migrate_device_unmap
        // (every other mm's, after fork; migrate_device_range's eviction finds them all this way): each entry
        // becomes a migration entry under the migration's own reference, so the mapcount reaches 0 and the
        // page is not freed. migrate_device_unmap restores the entries of a page still mapped, so a page
        // leaves with all of them or none.
        'devpage.isolated': { target: 'allocated', actions: 'dropAllMappings' },
        'chunk.removing': { target: 'mapped', guard: not('chunkRemoving'), actions: 'markRemoving' },
      },
    },
    // The chunk's struct pages are gone with memunmap_pages; the pfns may come back in a new chunk, as new pages.
    gone: { type: 'final' },
  },
});

/**
 * The context sample of the derived table a context falls in: what the
 * guards read (the mapcount as none, one or more, and chunk->remove).
 */
export function devicePageContextKey(ctx: DevicePageContext): string {
  const maps = ctx.mapcount === 0 ? 'unmapped' : ctx.mapcount === 1 ? 'sole' : 'shared';
  return ctx.removing ? `${maps}-removing` : maps;
}
