/**
 * Mirrors lib/test_hmm.c (Debian 6.1.192) as far as loading and unloading
 * go: hmm_dmirror_init, dmirror_device_init, dmirror_allocate_chunk,
 * dmirror_device_remove(_chunks), hmm_dmirror_exit; and the module syscalls
 * that run them (kernel/module/main.c: finit_module's -EEXIST for a module
 * already in the kernel, delete_module's -ENOENT and -EWOULDBLOCK).
 *
 * The char devices' file operations are in dmirrorFops.ts. Left out: chunks allocated on
 * demand by dmirror_devmem_alloc_page, the device-coherent devices
 * (spm_addr_dev0/1), the chrdev region and device registration, and the 6.1
 * init error path's leak of the failing device's cdev (KERNEL-FACTS-HMM
 * §3.2, B13: the kernel BUGs later; the model unwinds the devices before it).
 */
import { err, OK, type Ret } from '../errno.js';
import type { Op } from '../op.js';
import { releaseMemRegion } from '../resource.js';
import { requestFreeMemRegion } from '../resourceFreeRegion.js';
import { withState, type DaxRange } from '../state.js';
import { memremapPagesPrivate, memunmapPages } from './memremap.js';
import { dmirrorDeviceEvictChunk } from './dmirrorMigrate.js';
import { DEVMEM_CHUNK_SIZE, DMIRROR_PRIVATE_DEVICES, HMM_UNLOADED, type DmirrorDevice } from './types.js';

const PAGE_SHIFT = 12n;

/**
 * @kernel dmirror_allocate_chunk lib/test_hmm.c (MEMORY_DEVICE_PRIVATE)
 * request_free_mem_region for 256 MiB ("hmm_dmirror"); an error there is
 * -ENOMEM (ret keeps its initial value: the ERR_PTR's -ERANGE is dropped);
 * memremap_pages' error releases the region. Returns the chunk's range.
 */
export function dmirrorAllocateChunk(op: Op, chunksBefore: number): Ret<DaxRange> {
  const s = op.state;
  const res = requestFreeMemRegion(s.profile, s.config, s.iomem, DEVMEM_CHUNK_SIZE, 'hmm_dmirror');
  if (!res.ok) {
    op.branch('dmirror_allocate_chunk', 'ENOMEM');
    return err('ENOMEM');
  }
  for (const w of res.warnings) op.print(w);
  op.state = withState(op.state, { iomem: res.root });
  const range: DaxRange = { start: res.start, end: res.start + res.size - 1n };
  const mapped = memremapPagesPrivate(op, range);
  if (!mapped.ok) {
    op.state = withState(op.state, { iomem: releaseMemRegion(op.state.iomem, range.start, res.size).root });
    op.branch('dmirror_allocate_chunk', mapped.errno);
    return err(mapped.errno);
  }
  const n = chunksBefore + 1;
  const mb = Number(DEVMEM_CHUNK_SIZE >> 20n);
  const first = range.start >> PAGE_SHIFT;
  const last = first + (res.size >> PAGE_SHIFT);
  op.print(`added new ${mb} MB chunk (total ${n} chunks, ${n * mb} MB) PFNs [0x${first.toString(16)} 0x${last.toString(16)})`);
  return { ok: true, value: range };
}

/**
 * The device with a new chunk (the tail of dmirror_allocate_chunk): the
 * chunk joins devmem_chunks and its pfns are pushed on the free stack, in
 * ascending order, so the chunk's last page is on top.
 */
export function withChunk(dev: DmirrorDevice, range: DaxRange): DmirrorDevice {
  const lo = Number(range.start >> PAGE_SHIFT);
  const next = Number((range.end + 1n) >> PAGE_SHIFT) - 1;
  return { chunks: [...dev.chunks, range], free: dev.free, fresh: { lo, next } };
}

/**
 * @kernel dmirror_device_remove_chunks lib/test_hmm.c
 * For every chunk, in order: marked as being removed with its free pages
 * off the stack (dmirror_remove_free_pages), evicted (its pages migrated
 * back to system memory and not put back), memunmap_pages,
 * release_mem_region. The device ends with no chunk and an empty stack.
 */
export function dmirrorDeviceRemoveChunks(op: Op, index: number): void {
  const dev = op.state.hmm.devices[index];
  if (dev === undefined) throw new Error(`model bug: no dmirror device ${index}`);
  for (const c of dev.chunks) {
    dmirrorDeviceEvictChunk(op, c, true);
    memunmapPages(op, c);
    const rel = releaseMemRegion(op.state.iomem, c.start, c.end - c.start + 1n);
    if (rel.warning !== undefined) throw new Error(`model bug: test_hmm chunk ${c.start.toString(16)} not in iomem (${rel.warning})`);
    op.state = withState(op.state, { iomem: rel.root });
  }
  const devices = op.state.hmm.devices.slice();
  devices[index] = { chunks: [], free: null, fresh: null };
  op.state = withState(op.state, { hmm: { ...op.state.hmm, devices } });
}

/** memunmap_pages and release_mem_region for each chunk of a device that holds no page (init's unwind, module exit). */
function releaseChunks(op: Op, dev: DmirrorDevice): void {
  for (const c of dev.chunks) {
    memunmapPages(op, c);
    const rel = releaseMemRegion(op.state.iomem, c.start, c.end - c.start + 1n);
    if (rel.warning !== undefined) throw new Error(`model bug: test_hmm chunk ${c.start.toString(16)} not in iomem (${rel.warning})`);
    op.state = withState(op.state, { iomem: rel.root });
  }
}

/**
 * @kernel hmm_dmirror_init lib/test_hmm.c
 * Two device-private devices, each dmirror_device_init'ed in turn
 * (cdev_device_add, then one chunk at once); a failure removes the devices
 * made before it (err_chrdev) and returns the errno.
 */
export function hmmDmirrorInit(op: Op): Ret {
  const devices: DmirrorDevice[] = [];
  for (let id = 0; id < DMIRROR_PRIVATE_DEVICES; id++) {
    // dmirror_device_init: the chunk allocation is its last step.
    const chunk = dmirrorAllocateChunk(op, 0);
    if (!chunk.ok) {
      for (const d of devices) releaseChunks(op, d);
      op.branch('hmm_dmirror_init', chunk.errno);
      return chunk;
    }
    devices.push(withChunk({ chunks: [], free: null, fresh: null }, chunk.value));
  }
  op.print('HMM test module loaded. This is only for testing HMM.');
  op.state = withState(op.state, { hmm: { loaded: true, devices, pages: op.state.hmm.pages } });
  return OK;
}

/**
 * @kernel hmm_dmirror_exit lib/test_hmm.c
 * dmirror_device_remove for each device: its chunks released.
 */
export function hmmDmirrorExit(op: Op): void {
  // No file is open (rmmod refuses otherwise), and close evicted every page: the chunks are only released.
  if (op.state.hmm.pages.size > 0) throw new Error('model bug: test_hmm unloads with device pages allocated');
  for (const d of op.state.hmm.devices) releaseChunks(op, d);
  op.state = withState(op.state, { hmm: HMM_UNLOADED });
}

/**
 * `modprobe --first-time test_hmm`: kmod refuses a module already in the
 * kernel, built in or loaded, with -EEXIST (finit_module's own answer for a
 * loaded one), and a module it cannot find (CONFIG_TEST_HMM=n) with -ENOENT;
 * otherwise finit_module runs hmm_dmirror_init and returns its errno.
 * @kernel load_module kernel/module/main.c (do_init_module)
 */
export function modprobeTestHmm(op: Op): Ret {
  const cfg = op.state.config.testHmm;
  if (cfg === 'n') {
    op.branch('modprobe', 'ENOENT');
    return err('ENOENT');
  }
  if (cfg === 'y' || op.state.hmm.loaded) {
    op.branch('load_module', 'EEXIST');
    return err('EEXIST');
  }
  return hmmDmirrorInit(op);
}

/**
 * `rmmod test_hmm`: delete_module(2) with O_NONBLOCK. A module not in the
 * module list (not loaded, or built in: built-in code is no module) is
 * -ENOENT; one an open /dev/hmm_dmirrorN file holds is -EWOULDBLOCK
 * (EAGAIN; kmod's rmmod says "Module test_hmm is in use"); otherwise
 * hmm_dmirror_exit runs.
 * @kernel delete_module kernel/module/main.c
 */
export function rmmodTestHmm(op: Op): Ret {
  if (op.state.config.testHmm !== 'm' || !op.state.hmm.loaded) {
    op.branch('delete_module', 'ENOENT');
    return err('ENOENT');
  }
  // try_stop_module: a file of /dev/hmm_dmirrorN holds a module reference (chrdev_open's fops_get) until its last fput.
  for (const f of op.state.mm.files.values()) {
    if (f.driver === 'dmirror') {
      op.branch('delete_module', 'EAGAIN');
      return err('EAGAIN');
    }
  }
  hmmDmirrorExit(op);
  return OK;
}

/**
 * Boot: a built-in test_hmm runs hmm_dmirror_init as its initcall
 * (module_init = device_initcall); do_one_initcall ignores the return value
 * and prints it only under initcall_debug, so a failure leaves test_hmm
 * unloaded and says nothing more.
 */
export function bootTestHmm(op: Op): void {
  if (op.state.config.testHmm !== 'y') return;
  hmmDmirrorInit(op);
}
