/**
 * The process entry point (bin/memhp.js loads it through tsx): memhp with the
 * real invariants (and must-succeed properties), the process's streams and its exit status.
 */
import { checkStep } from '../../properties/invariants/index.js';
import { checkAll } from '../../properties/sequence.js';
import { main } from './main.js';

// The reader went away (`memhp replay big.jsonl | head`): stop quietly, as a
// command killed by SIGPIPE does (status 128 + 13), instead of an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

/*
 * `npx memhp` and `npm run` start memhp through `sh -c`, and npm forwards a
 * signal only to that shell: a SIGTERM to npx kills the shell and leaves
 * memhp running, orphaned. Under npm (which sets npm_command), a parent that
 * goes away is taken as that SIGTERM, and memhp stops as if sent it directly
 * (fuzz failures are saved as they are found, so nothing is lost). Outside
 * npm a parent may exit on purpose (`memhp fuzz &`, nohup), so memhp keeps on.
 */
if (process.env['npm_command'] !== undefined) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 200);
  watch.unref();
}

const code = await main(
  process.argv.slice(2),
  {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
  },
  // Every invariant and the must-succeed properties, as memhp fuzz checks them, so replay reproduces its failures.
  { check: checkAll(checkStep), stdin: process.stdin },
);
// exitCode, not exit(): let stdout drain (a pipe to head, a large JSON document).
process.exitCode = code;
