import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type MainOptions } from '../../src/cli/main.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLE = join(ROOT, 'examples/qemu-pmem-kmem.jsonl');
export const BIN = join(ROOT, 'bin/memhp.js');

export interface RunResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** main() in-process, colour off unless asked for. */
export async function run(argv: string[], options: MainOptions = {}): Promise<RunResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, { color: false, ...options });
  return { code, out, err };
}

let dir: string | undefined;

/** Write `lines` as a log in a fresh temp directory; returns its path. */
export function tempLog(name: string, lines: readonly string[]): string {
  dir ??= mkdtempSync(join(tmpdir(), 'memhp-cli-'));
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

export const BOOT = JSON.stringify({
  type: 'boot',
  kernel: '6.8',
  memoryBlockSize: '128M',
  ram: [{ start: '0x0', size: '4G', node: 0 }],
});

/** A recorded result the model disagrees with: offlining a block without CONFIG_MEMORY_HOTREMOVE gives EINVAL. */
export const DIVERGING = [
  BOOT,
  '{"seq":1,"type":"read","path":"/sys/devices/system/memory/block_size_bytes","result":{"ok":true,"value":"8000000\\n"}}',
  '{"seq":2,"type":"write","path":"/sys/devices/system/memory/memory3/state","value":"offline","result":{"ok":true}}',
];

export interface DocEvent {
  seq: number;
  type: string;
  path?: string;
  value?: string;
  result: { ok: boolean; errno?: string; value?: string; log?: string[] };
}

export interface ReplayDoc {
  events: DocEvent[];
  state: {
    kernel: string;
    iomem: string;
    memoryBlockSize: string;
    blocks: Array<{ id: number; state: string; zone: string | null; node: number; vmemmapPages: number }>;
    devices: Array<{ name: string; state: string; driver: string | null; targetNode: number }>;
    memTotalKiB: number;
  };
  violations: Array<{ seq: number; invariant: string; message: string }>;
  divergences: Array<{ seq: number; recorded: { ok: boolean }; model: { ok: boolean; errno?: string } }>;
  views?: Record<string, unknown>;
}

export function parseDoc(text: string): ReplayDoc {
  return JSON.parse(text) as ReplayDoc;
}
