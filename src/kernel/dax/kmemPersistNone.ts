/**
 * Mirrors type NONE of the 2022 kmem persistence RFC (patch 3/4,
 * drivers/dax/kmem.c as posted; KERNEL-FACTS-PERSIST §1.4, seed L798-887):
 * the only persistent state is the 12-byte header in page 0.
 */
import { OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { freeDevicePage, freeDevicePages, persistOf, writeSuperHeader } from './kmemPersist.js';
import { KMEM_PERSIST_NONE } from './kmemPersistTypes.js';

/** @kernel kmem_persist_none_format (RFC 3/4): magic and type 0 into page 0; the rest of the page untouched. */
export function kmemNoneFormat(op: Op, name: string): Ret {
  writeSuperHeader(op, persistOf(op.state, name), KMEM_PERSIST_NONE);
  return OK;
}

/** @kernel kmem_persist_none_probe (RFC 3/4): __free_page on pages 1 .. num_pages-1; page 0 stays allocated. */
export function kmemNoneProbe(op: Op, name: string): Ret {
  freeDevicePages(op, name, 1, persistOf(op.state, name).numPages);
  return OK;
}

/** @kernel kmem_persist_none_cleanup (RFC 3/4): __free_page(page 0); returns 0. */
export function kmemNoneCleanup(op: Op, name: string): Ret {
  if (persistOf(op.state, name).held.has(0)) freeDevicePage(op, name, 0);
  return OK;
}
