/**
 * The sysfs surface against real kernels: test/sysfs-listings/KERNEL-MACHINE.jsonl hold `ls -l`-style listings
 * of /sys/devices/system/memory/, memory block directories, the dax device directory and both dax driver
 * directories, recorded in the guest of each harness kernel (harness/record-listings.ts), before and after the
 * walkthrough's writes. The model replays the same boot and writes, and its listDirectory must give the same
 * entries (a missing or extra file fails), the same modes, the same symlinks and, for every file the kernel let
 * root read, the same content.
 */
import { failureKey } from '../../src/log/events.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Op } from '../../src/kernel/op.js';
import type { LogEvent } from '../../src/log/events.js';
import { parseEvent } from '../../src/log/parse.js';
import { Replayer } from '../../src/replay/engine.js';
import { listDirectory, type ListedEntry } from '../../src/sysfs/surface.js';

const DIR = fileURLToPath(new URL('../sysfs-listings/', import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.jsonl')).sort();

interface Recorded {
  readonly mode: string;
  readonly name: string;
  readonly target: string | null;
  readonly read: { readonly kind: string; readonly value?: string } | null;
}
type Line =
  | { readonly seq: number; readonly list: string; readonly entries: readonly Recorded[] }
  | { readonly seq: number; readonly write: string; readonly value: string; readonly result: { readonly kind: string; readonly errno?: string } };

function load(file: string): { boot: LogEvent; lines: Line[] } {
  const text = readFileSync(join(DIR, file), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('//'));
  const [bootLine, ...rest] = text;
  if (bootLine === undefined) throw new Error(`${file}: empty`);
  return { boot: parseEvent(JSON.parse(bootLine)), lines: rest.map((l) => JSON.parse(l) as Line) };
}

/**
 * A recorded symlink against the model's absolute target: the kernel's link is relative to the device's own
 * sysfs directory (its depth depends on the parent device: platform/hmem.0 or an nvdimm bus), so its path
 * without the leading ../ must end the model's. A driver's device links name the device's physical directory,
 * which the model does not know: only the device name is compared there.
 */
function sameTarget(dir: string, e: Recorded, model: string | null): boolean {
  if (e.target === null || model === null) return e.target === model;
  const rel = e.target.replace(/^(\.\.\/)+/, '');
  if (dir.startsWith('/sys/bus/dax/drivers/') && /^dax\d+\.\d+$/.test(e.name)) return rel.split('/').pop() === model.split('/').pop();
  return model.endsWith(`/${rel}`);
}

describe.each(FILES)('%s', (file) => {
  const { boot, lines } = load(file);

  it('was recorded from a boot, with listings before and after the writes', () => {
    expect(boot.type).toBe('boot');
    expect(lines.filter((l) => 'list' in l).length).toBeGreaterThanOrEqual(8);
    expect(lines.filter((l) => 'write' in l).length).toBeGreaterThanOrEqual(2);
  });

  it('the model lists every directory as the kernel does: the same entries, modes, links and contents', () => {
    const r = new Replayer({ keepSteps: false });
    r.feed(boot);
    const problems: string[] = [];
    for (const l of lines) {
      if ('write' in l) {
        const step = r.feed({ type: 'write', seq: l.seq, path: l.write, value: l.value, raw: false });
        const got = step?.outcome.ok === true ? 'ok' : (step?.outcome.ok === false ? failureKey(step.outcome) : '?');
        const want = l.result.kind === 'ok' ? 'ok' : (l.result.errno ?? '?');
        if (got !== want) problems.push(`#${l.seq} ${l.write}: kernel ${want}, model ${got}`);
        continue;
      }
      const listed = listDirectory(new Op(r.current), l.list);
      // A directory the kernel did not have (memory48 before kmem added it) is an empty recorded listing.
      if (l.entries.length === 0) {
        if (listed !== null) problems.push(`#${l.seq} ${l.list}: the kernel has no such directory, the model lists ${listed.length} entries`);
        continue;
      }
      if (listed === null) {
        problems.push(`#${l.seq} ${l.list}: the model has no such directory`);
        continue;
      }
      const byName = new Map<string, ListedEntry>(listed.map((e) => [e.name, e]));
      for (const e of l.entries) {
        const m = byName.get(e.name);
        if (m === undefined) {
          problems.push(`#${l.seq} ${l.list}/${e.name}: missing in the model (kernel ${e.mode})`);
          continue;
        }
        byName.delete(e.name);
        if (m.mode !== e.mode) problems.push(`#${l.seq} ${l.list}/${e.name}: mode kernel ${e.mode}, model ${m.mode}`);
        if (!sameTarget(l.list, e, m.target)) problems.push(`#${l.seq} ${l.list}/${e.name}: link kernel ${String(e.target)}, model ${String(m.target)}`);
        if (e.read?.kind === 'ok' && m.content !== (e.read.value ?? '')) {
          problems.push(`#${l.seq} ${l.list}/${e.name}: content kernel ${JSON.stringify(e.read.value)}, model ${JSON.stringify(m.content)}`);
        }
      }
      for (const extra of byName.keys()) problems.push(`#${l.seq} ${l.list}/${extra}: in the model, not in the kernel`);
    }
    expect(problems).toEqual([]);
  });
});

describe('listDirectory', () => {
  it('is null for a directory the model does not mirror whole, and for a missing device or block', () => {
    const { boot } = load(FILES[0] ?? '');
    const r = new Replayer({ keepSteps: false });
    r.feed(boot);
    const op = new Op(r.current);
    expect(listDirectory(op, '/sys/devices/system/node')).toBeNull();
    expect(listDirectory(op, '/sys/bus/dax/devices/dax9.9')).toBeNull();
    expect(listDirectory(op, '/sys/devices/system/memory/memory999')).toBeNull();
    expect(listDirectory(op, '/sys/devices/system/memory/')?.some((e) => e.name === 'block_size_bytes')).toBe(true);
  });

  it('follows the Kconfig of the boot: memory_root_attrs, valid_zones and removable', () => {
    const names = (config: Record<string, boolean>, dir: string) => {
      const r = new Replayer({ keepSteps: false });
      const b = load(FILES[0] ?? '').boot;
      if (b.type !== 'boot') throw new Error('no boot');
      r.feed({ ...b, config: { ...b.config, ...config } });
      return (listDirectory(new Op(r.current), dir) ?? []).map((e) => `${e.name}${e.content === null ? '' : `=${e.content.trim()}`}`);
    };
    const root = names({ memoryFailure: true, crashHotplug: true }, '/sys/devices/system/memory').filter((n) => !n.startsWith('memory'));
    expect(root).toEqual(['auto_online_blocks=offline', 'block_size_bytes=8000000', 'crash_hotplug=0', 'hard_offline_page', 'power', 'soft_offline_page', 'uevent=']);
    expect(names({ memoryFailure: false, crashHotplug: false }, '/sys/devices/system/memory').filter((n) => !n.startsWith('memory'))).toEqual([
      'auto_online_blocks=offline',
      'block_size_bytes=8000000',
      'power',
      'uevent=',
    ]);
    const block = names({ memoryHotremove: false }, '/sys/devices/system/memory/memory1');
    expect(block).toContain('removable=0');
    expect(block.some((n) => n.startsWith('valid_zones'))).toBe(false);
  });
});
