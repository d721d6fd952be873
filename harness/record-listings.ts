// Run: node --import tsx harness/record-listings.ts [6.1|6.12 ...] (after harness/setup.sh; one guest at a time).
// Records the sysfs surface of each harness kernel and machine: every entry of a memory block directory (a boot
// block and a hot-added one), /sys/devices/system/memory/, the dax device directory and both dax driver
// directories, each with `ls -l`'s mode, a symlink's target and a readable file's content, before and after the
// walkthrough's hand-over to kmem. Writes test/sysfs-listings/KERNEL-MACHINE.jsonl (the ops, then one line per
// listed directory, after the boot event the guest's facts give), which test/sysfs/listing.test.ts compares with the
// model's own listing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HARNESS_KERNELS, isHarnessKernel, PACKAGE_ROOT, resolveArtefacts, runGuest } from '../src/realkernel/guest.js';
import { bootFromRun, checkGuestIsMachine, probeMachine } from '../src/realkernel/record.js';
import { writeEvent } from '../src/log/writer.js';
import { MACHINES, MACHINE_NAMES } from '../src/realkernel/machine.js';
import type { GuestOp } from '../src/realkernel/protocol.js';

const MEM = '/sys/devices/system/memory';
const DAX = '/sys/bus/dax';
const kernels = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [...HARNESS_KERNELS];
for (const k of kernels) {
  if (!isHarnessKernel(k)) throw new Error(`not a harness kernel: ${k}`);
  for (const m of MACHINE_NAMES) {
    const hot = m === 'hmem' ? 48 : 41;
    const dirs = (blocks: number[]): GuestOp[] => [
      ...[MEM, ...blocks.map((b) => `${MEM}/memory${b}`), `${DAX}/devices/dax0.0`, `${DAX}/drivers/kmem`, `${DAX}/drivers/device_dax`].map((path) => ({ type: 'list' as const, path })),
    ];
    const ops: GuestOp[] = [
      ...dirs([0, 1, hot]),
      { type: 'write', path: `${DAX}/drivers/device_dax/unbind`, value: 'dax0.0', raw: false },
      { type: 'write', path: `${DAX}/drivers/kmem/new_id`, value: 'dax0.0', raw: false },
      { type: 'write', path: `${MEM}/memory${hot + 1}/state`, value: 'online_movable', raw: false },
      ...dirs([hot, hot + 1]),
    ];
    const artefacts = resolveArtefacts({ kernelVersion: k });
    const probe = await probeMachine(MACHINES[m], artefacts);
    const run = await runGuest({ machine: MACHINES[m], ops, artefacts, prefix: join(PACKAGE_ROOT, '.cache', `listings-${k}-${m}`) });
    const boot = bootFromRun(run, probe.unmovable);
    checkGuestIsMachine(boot.event, MACHINES[m], run);
    const lines: string[] = [`// sysfs listings recorded on Linux ${run.report.uname ?? '?'} (machine ${m}) by harness/record-listings.ts`, writeEvent(boot.event)];
    ops.forEach((op, i) => {
      const seq = i + 1;
      const res = run.report.results.get(seq);
      if (op.type === 'list') lines.push(JSON.stringify({ seq, list: op.path, entries: run.report.listings.get(seq) ?? [] }));
      else if (op.type === 'write') lines.push(JSON.stringify({ seq, write: op.path, value: op.value, result: res }));
    });
    const out = join(PACKAGE_ROOT, 'test', 'sysfs-listings', `${k}-${m}.jsonl`);
    writeFileSync(out, `${lines.join('\n')}\n`);
    console.log(`${out}: ${run.seconds.toFixed(1)} s`);
  }
}
