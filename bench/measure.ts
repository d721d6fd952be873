/**
 * Repetition and statistics for benchmarks: warm-up, then N timed runs in
 * one process; median, min, max.
 */
export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] as number, min: s[0] as number, max: s[s.length - 1] as number, runs: s.length };
}

/** Time `f` (ms): `warmup` untimed runs, then `runs` timed ones. */
export async function time(f: () => unknown | Promise<unknown>, runs: number, warmup = 1): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    xs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return stats(xs);
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

export function fmt(s: Stats, unit = 'ms'): string {
  return `median ${s.median.toFixed(1)} ${unit} (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, ${s.runs} runs)`;
}
