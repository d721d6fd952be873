#!/usr/bin/env node
// Print a recorded memhp log (results.jsonl) compactly, one op per line:
//   node harness/show.mjs harness/transcripts/walkthrough.results.jsonl [--full]
// Long read values are shown as <N bytes> unless --full; /proc/iomem reads are
// shown without the static low-memory lines.
import fs from 'node:fs';
const [file, flag] = process.argv.slice(2);
const full = flag === '--full';
const short = (p) => p.replace('/sys/devices/system/memory/', 'M/').replace('/sys/bus/dax/drivers/', 'drv/').replace('/sys/bus/dax/devices/', 'dev/');
for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
  if (!l) continue;
  if (l.startsWith('//')) { console.log(l); continue; }
  const e = JSON.parse(l);
  if (e.type === 'boot') { console.log('boot', JSON.stringify(e)); continue; }
  const r = e.result;
  let v;
  if (r.ok) {
    v = 'ok';
    if (r.value !== undefined) {
      if (e.path === '/proc/iomem' && !full) v += '\n' + r.value.split('\n').filter((x) => /^ *1[0-9a-f]{8}-/.test(x)).map((x) => '      ' + x).join('\n');
      else v += ' ' + (r.value.length > 120 && !full ? `<${r.value.length} bytes>` : JSON.stringify(r.value));
    }
  } else v = `${r.errno}${e.failedAt ? ' (at ' + e.failedAt + ')' : ''}`;
  const val = e.value !== undefined ? ' ' + JSON.stringify(e.value) + (e.raw ? ' raw' : '') : '';
  const kl = e.klog ? '\n      klog: ' + e.klog.map((k) => k.replace(/^\[ *[\d.]+\] /, '')).join('\n      klog: ') : '';
  console.log(`${String(e.seq).padStart(3)} ${e.type === 'write' ? 'W' : 'R'} ${short(e.path)}${val} => ${v}${kl}`);
}
