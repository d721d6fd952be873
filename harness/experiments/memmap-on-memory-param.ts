// Run: node --import tsx harness/experiments/memmap-on-memory-param.ts (after harness/setup.sh; one guest).
// An experiment: the hmem machine on the 6.12 kernel booted with memory_hotplug.memmap_on_memory=1, so the v6.8
// per-block memmap_on_memory (profile switch memmapOnMemory: 'per-block', daxMemmapOnMemory) can be seen: kmem's
// 1 GiB add spans eight blocks, which v5.12-v6.7 would have refused to put on the memory itself. Writes the
// recording to test/traces-6.12/param/hmem-memmap-on-memory.jsonl (test/realkernel/corpus.test.ts replays it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT, resolveArtefacts } from '../../src/realkernel/guest.js';
import { MACHINES } from '../../src/realkernel/machine.js';
import { shapeBoot } from '../../src/realkernel/generate.js';
import { record, renderRecording } from '../../src/realkernel/record.js';
import type { LogEvent } from '../../src/log/events.js';

const DAX = '/sys/bus/dax';
const MEM = '/sys/devices/system/memory';
const w = (path: string, value: string): LogEvent => ({ type: 'write', path, value, raw: false });
const r = (path: string): LogEvent => ({ type: 'read', path });
const events: LogEvent[] = [
  shapeBoot(MACHINES.hmem, '6.12'),
  r(`${DAX}/devices/dax0.0/memmap_on_memory`),
  r('/proc/meminfo'),
  w(`${DAX}/drivers/kmem/unbind`, 'dax0.0'),
  w(`${DAX}/devices/dax0.0/memmap_on_memory`, '1'),
  r(`${DAX}/devices/dax0.0/memmap_on_memory`),
  w(`${DAX}/drivers/kmem/bind`, 'dax0.0'),
  w(`${DAX}/devices/dax0.0/memmap_on_memory`, '0'),
  r('/proc/iomem'),
  r('/proc/meminfo'),
  w(`${MEM}/memory48/state`, 'online_movable'),
  r('/proc/meminfo'),
  w(`${MEM}/memory55/state`, 'online'),
  r('/proc/meminfo'),
  w(`${MEM}/memory48/state`, 'offline'),
  w(`${MEM}/memory55/state`, 'offline'),
  w(`${DAX}/drivers/kmem/unbind`, 'dax0.0'),
  r('/proc/iomem'),
  w(`${DAX}/devices/dax0.0/memmap_on_memory`, '0'),
  w(`${DAX}/drivers/kmem/bind`, 'dax0.0'),
  w(`${MEM}/memory48/state`, 'online_movable'),
  r('/proc/meminfo'),
];
const rec = await record(events, { artefacts: resolveArtefacts({ kernelVersion: '6.12' }), append: 'memory_hotplug.memmap_on_memory=1', name: 'memmap-param' });
const dir = join(PACKAGE_ROOT, 'test', 'traces-6.12', 'param');
mkdirSync(dir, { recursive: true });
const out = join(dir, 'hmem-memmap-on-memory.jsonl');
writeFileSync(out, renderRecording(rec, [], ['hmem machine with memory_hotplug.memmap_on_memory=1 (harness/experiments/memmap-on-memory-param.ts)']));
console.log(`${out}: ${rec.seconds.toFixed(1)} s; notes: ${rec.notes.join(' / ')}`);
