/**
 * Advancing a dax device's lifecycle machine from the kernel paths. When a
 * kernel path (a variant, a proposed patch) does something the machine has no
 * transition for, the device still goes where the kernel put it and the
 * refusal is recorded: properties/invariants reports it as device-one-way.
 */
import { stepDaxDevice, type DaxDeviceEvent, type DaxDeviceState } from '../../../machines/index.js';
import type { Op } from '../op.js';
import { replaceDevice, withDevice, type DaxDevice } from '../state.js';

/** Where each event puts a device when the kernel forces it past the machine. */
const FORCED_TARGET: Readonly<Record<DaxDeviceEvent['type'], DaxDeviceState>> = {
  'devdax.probed': 'devdax',
  'devdax.removed': 'unbound',
  'kmem.added': 'kmem',
  'block.onlined': 'online',
  'kmem.removed': 'unbound',
};

export function advanceDevice(op: Op, dev: DaxDevice, event: DaxDeviceEvent['type'], patch: Partial<DaxDevice> = {}): DaxDevice {
  let phase = stepDaxDevice(dev.phase, event, op.state.config.memoryHotremove);
  if (phase !== undefined) op.transition(`daxDevice:${op.state.config.memoryHotremove ? 'hotremove' : 'oneway'}:${dev.phase}:${event}`);
  if (phase === undefined) {
    // Events a phase ignores by definition (onlining a second block of an online device) are not refusals.
    if (event === 'block.onlined' && dev.phase === 'online') phase = dev.phase;
    else {
      op.branch('lifecycle-refused', `${dev.name}:${dev.phase}-${event}`);
      phase = FORCED_TARGET[event];
    }
  }
  const next: DaxDevice = withDevice(dev, { ...patch, phase });
  op.state = replaceDevice(op.state, next);
  return next;
}
