/**
 * vs-kernel: the model's time for each committed real-kernel sequence
 * (test/traces/**.jsonl, each recorded under QEMU with the seconds it took)
 * against that recorded time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeChecker } from '../properties/invariants/index.js';
import { parseLogText } from '../src/log/index.js';
import { replay } from '../src/replay/engine.js';
import { stats, type Stats } from './measure.js';

export interface VsKernelFigures {
  readonly sequences: number;
  readonly modelMs: Stats;
  readonly qemuMs: Stats;
  readonly minSpeedup: number;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.jsonl') ? [p] : [];
  });
}

/** The QEMU wall time a recorded trace notes in a `// ... seconds` header comment. */
function qemuSeconds(text: string): number | null {
  const m = /^\/\/ recorded on .* in ([0-9]+(?:\.[0-9]+)?) s under QEMU$/m.exec(text);
  return m === null ? null : Number(m[1]);
}

export async function vsKernel(repeats: number): Promise<VsKernelFigures> {
  const model: number[] = [];
  const qemu: number[] = [];
  let minSpeedup = Infinity;
  const check = makeChecker();
  for (const f of files('test/traces')) {
    const text = readFileSync(f, 'utf8');
    const secs = qemuSeconds(text);
    if (secs === null) continue;
    const events = parseLogText(text, f).map((l) => l.event);
    replay(events, { check, keepSteps: false });
    const xs: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t = process.hrtime.bigint();
      replay(events, { check, keepSteps: false });
      xs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const ms = stats(xs).median;
    model.push(ms);
    qemu.push(secs * 1000);
    minSpeedup = Math.min(minSpeedup, (secs * 1000) / ms);
  }
  return { sequences: model.length, modelMs: stats(model.length > 0 ? model : [0]), qemuMs: stats(qemu.length > 0 ? qemu : [0]), minSpeedup: model.length > 0 ? minSpeedup : 0 };
}
