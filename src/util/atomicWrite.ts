/**
 * Files that other processes read while memhp runs (saved fuzz failures, a
 * JUnit report, kernel-fuzz divergences): written under a temporary name in
 * the same directory, then renamed over the final one (rename(2) is atomic
 * within a file system). A reader, or a later `memhp fuzz` replaying what
 * --out holds, sees the whole file or none, never half of one.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temporary name: a dot file not ending in .jsonl, so replaying saved failures never picks it up. */
export function temporaryName(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
}

export function writeFileAtomic(file: string, text: string): void {
  const tmp = temporaryName(file);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
