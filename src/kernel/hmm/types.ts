/**
 * The state of lib/test_hmm.c (Debian 6.1.192): whether the module is live,
 * its device-private dmirror devices (dmirror_devices[0..1]) and each
 * device's chunks (struct dmirror_chunk: one pgmap range each, in
 * mdevice->devmem_chunks order). Device-coherent devices (module parameters
 * spm_addr_dev0/1) are left out.
 */
import type { DaxRange } from '../state.js';

/** struct dmirror_device, the part the model keeps: its chunks' pgmap ranges. */
export interface DmirrorDevice {
  readonly chunks: readonly DaxRange[];
}

export interface HmmState {
  /** test_hmm is live: hmm_dmirror_init returned 0 (at boot when built in, at modprobe as a module) and no rmmod since. */
  readonly loaded: boolean;
  /** The device-private devices while loaded (two: hmm_dmirror_init always creates dmirror0 and dmirror1); [] otherwise. */
  readonly devices: readonly DmirrorDevice[];
}

export const HMM_UNLOADED: HmmState = { loaded: false, devices: [] };

/** DEVMEM_CHUNK_SIZE (lib/test_hmm.c): 256 MiB per chunk. */
export const DEVMEM_CHUNK_SIZE = 256n << 20n;

/** DMIRROR_NDEVICES less the two device-coherent ones: the device-private devices hmm_dmirror_init creates. */
export const DMIRROR_PRIVATE_DEVICES = 2;
