// Run: node --import tsx harness/experiments/resize-after-pinned-kmem.ts (after harness/setup.sh). An experiment: the resize-after-pinned-kmem finding on the real 6.1 kernel, on the
// hmem machine with the first 2 MiB of its Soft Reserved GiB turned back into RAM, so dax0.0 starts 2 MiB
// past a block boundary and kmem's block-aligned part leaves the first 126 MiB unpinned.
import { MACHINES } from '../../src/realkernel/machine.js';
import { resolveArtefacts, runGuest } from '../../src/realkernel/guest.js';
const w = (path: string, value: string) => ({ type: 'write' as const, path, value, raw: false });
const r = (path: string) => ({ type: 'read' as const, path });
const ops = [
  r('/proc/iomem'),
  r('/sys/bus/dax/devices/dax0.0/resource'),
  r('/sys/bus/dax/devices/dax0.0/size'),
  w('/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0'),
  w('/sys/bus/dax/drivers/kmem/new_id', 'dax0.0'),
  r('/proc/iomem'),
  w('/sys/devices/system/memory/memory49/state', 'online_movable'),
  w('/sys/bus/dax/drivers/kmem/unbind', 'dax0.0'),
  w('/sys/bus/dax/devices/dax0.0/size', '0'),
  w('/sys/bus/dax/devices/dax0.0/size', '2097152'),
  r('/sys/bus/dax/devices/dax0.0/resource'),
  w('/sys/bus/dax/drivers/device_dax/bind', 'dax0.0'),
  r('/proc/iomem'),
  r('/sys/devices/system/memory/memory49/state'),
];
const run = await runGuest({ machine: MACHINES.hmem, ops, artefacts: resolveArtefacts(), prefix: '.cache/resize-after-pinned-kmem', append: 'memmap=2M%0x180000000-0xefffffff+1' });
console.log('uname', run.report.uname, 'seconds', run.seconds);
ops.forEach((op, i) => console.log(i + 1, op.type, 'path' in op ? op.path : '', 'value' in op ? op.value : '', '->', JSON.stringify(run.report.results.get(i + 1)).slice(0, 900)));
