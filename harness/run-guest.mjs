#!/usr/bin/env node
// memhp QEMU harness: boot a guest, perform a sequence of file operations on
// the real kernel, and record the results in the memhp event-log format.
//
//   node harness/run-guest.mjs <machine> <ops.jsonl> [--out PREFIX]
//        [--timeout SECONDS] [--op-timeout SECONDS] [--append "kernel args"]
//        [--quiet]
//
// <machine>: hmem | pmem (see MACHINES below).  <ops.jsonl>: memhp JSON lines
// (SPEC §3); blank lines, "//" lines and "boot" events are ignored.  Besides
// "write" (optional "raw": true) and "read", two harness-only ops exist:
//   {"type":"dump"}            re-dump every fact (as at boot) at this point
//   {"type":"sleep","seconds":1}
// Outputs (PREFIX defaults to .cache/runs/<name of ops file>):
//   PREFIX.results.jsonl   a recorded memhp log: a derived "boot" event, then
//                          every op with "seq" and "result" ({"ok":true[,
//                          "value"]} / {"ok":false,"errno":"E…"}) and "klog"
//                          (kernel messages printed while the op ran);
//                          dumps appear as "//" comment lines
//   PREFIX.boot.json       boot facts (raw files + parsed summary)
//   PREFIX.dumps.json      facts of every {"type":"dump"} op
//   PREFIX.dmesg.txt       kernel log of the boot (until the first op)
//   PREFIX.console.log     raw serial console
// Requires harness/setup.sh to have run.  No dependencies beyond Node 20.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BUILD = path.join(ROOT, '.cache', 'build');

const COMMON_APPEND = 'console=ttyS0,115200 nokaslr loglevel=1 panic=-1 memhp_default_state=offline';
const NUMA_2 = [
  '-object', 'memory-backend-ram,id=m0,size=5G',
  '-object', 'memory-backend-ram,id=m1,size=1G',
  '-numa', 'node,nodeid=0,memdev=m0',
  '-numa', 'node,nodeid=1,memdev=m1',
];
export const MACHINES = {
  // RAM 0-3G and 4G-7G (QEMU pc puts 3 GiB below 4 GiB); node 1 = last GiB,
  // turned into Soft Reserved (e820 type 0xefffffff) so dax_hmem makes dax0.0.
  hmem: { mem: '6G', qemu: NUMA_2, append: 'memmap=1G%0x180000000+0xefffffff' },
  // legacy pmem (e820 type 12) at 5G-6G on node 0; ndctl turns it into devdax.
  pmem: { mem: '6G', qemu: NUMA_2, append: 'memmap=1G!0x140000000' },
};

function usage(msg) {
  if (msg) console.error(`run-guest: ${msg}`);
  console.error('usage: node harness/run-guest.mjs <hmem|pmem> <ops.jsonl> [--out PREFIX] [--timeout S] [--op-timeout S] [--append ARGS] [--quiet]');
  process.exit(2);
}

// ---------------------------------------------------------------- ops
export function parseOps(text) {
  const ops = [];
  let comments = [];
  for (const [i, line0] of text.split('\n').entries()) {
    const line = line0.trim();
    if (line.startsWith('//')) { comments.push(line); continue; }
    if (!line) continue;
    let ev;
    try { ev = JSON.parse(line); } catch (e) { throw new Error(`line ${i + 1}: ${e.message}`); }
    if (ev.type === 'boot') continue;
    if (!['write', 'read', 'dump', 'sleep'].includes(ev.type)) throw new Error(`line ${i + 1}: unsupported type ${ev.type}`);
    if ((ev.type === 'write' || ev.type === 'read') && typeof ev.path !== 'string') throw new Error(`line ${i + 1}: no path`);
    if (ev.type === 'write' && typeof ev.value !== 'string') throw new Error(`line ${i + 1}: write needs a string value`);
    const { result, klog, failedAt, seq, ...op } = ev; // drop a previously recorded result
    // comments preceding an op are kept (non-enumerable) and copied to the results
    Object.defineProperty(op, 'comments', { value: comments, enumerable: false });
    comments = [];
    ops.push(op);
  }
  ops.forEach((op, i) => { op.seq = i + 1; });
  return ops;
}

const hex = (s) => (s === '' ? '-' : Buffer.from(s, 'utf8').toString('hex'));

function opsText(ops) {
  return ops.map((op) => {
    switch (op.type) {
      case 'write': return `${op.seq} ${op.raw ? 'raw' : 'write'} ${hex(op.path)} ${hex(op.value)}`;
      case 'read': return `${op.seq} read ${hex(op.path)} -`;
      case 'dump': return `${op.seq} dump - -`;
      case 'sleep': return `${op.seq} sleep - ${hex(String(op.seconds ?? 1))}`;
    }
  }).join('\n') + '\n';
}

// newc cpio archive of small files (all mode 0644, owner root)
function cpio(files) {
  const parts = [];
  let ino = 1000;
  const pad4 = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name, data, mode) => {
    const nameBuf = Buffer.from(name + '\0');
    const f = (v) => v.toString(16).padStart(8, '0');
    const hdr = '070701' + [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0].map(f).join('');
    parts.push(Buffer.from(hdr), nameBuf, pad4(110 + nameBuf.length), data, pad4(data.length));
  };
  for (const [name, content] of Object.entries(files)) entry(name, Buffer.from(content), 0o100644);
  entry('TRAILER!!!', Buffer.alloc(0), 0);
  const out = Buffer.concat(parts);
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}

// ---------------------------------------------------------------- console parsing
function decodeResult(line) {
  // "RESULT ok [b64]" | "RESULT open-error EACCES" | "RESULT write-error EBUSY" ...
  const m = /^RESULT (\S+)(?: (\S+))?(?: (\S+))?/.exec(line ?? '');
  if (!m) return { ok: false, errno: 'EHARNESS', harness: `unparsable: ${line}` };
  const [, kind, a, b] = m;
  if (kind === 'ok') {
    const r = { ok: true };
    if (a !== undefined) r.value = a === '=' ? '' : Buffer.from(a, 'base64').toString('utf8');
    return r;
  }
  if (kind === 'open-error' || kind === 'write-error' || kind === 'read-error' || kind === 'close-error') {
    return { ok: false, errno: a, stage: kind.replace('-error', '') };
  }
  if (kind === 'short-write') return { ok: true, short: { written: Number(a), length: Number(b) } };
  return { ok: false, errno: 'EHARNESS', harness: line };
}

export function parseConsole(text) {
  const res = { uname: null, mods: [], setup: [], facts: {}, links: {}, ops: {}, klog: {}, begun: false, ended: false };
  for (let line of text.split('\n')) {
    line = line.replace(/\r$/, '');
    const i = line.indexOf('@@MEMHP ');
    if (i < 0) continue;
    const body = line.slice(i + 8);
    const sp = body.indexOf(' ');
    const tag = sp < 0 ? body : body.slice(0, sp);
    const rest = sp < 0 ? '' : body.slice(sp + 1);
    const words = rest.split(' ');
    switch (tag) {
      case 'BEGIN': res.begun = true; break;
      case 'END': res.ended = true; break;
      case 'UNAME': res.uname = rest; break;
      case 'MOD': res.mods.push({ name: words[0], rc: Number(words[1]), msg: words.slice(2).join(' ') }); break;
      case 'SETUP': res.setup.push(rest); break;
      case 'FACT': {
        const [t, p] = words;
        const r = decodeResult(words.slice(2).join(' '));
        (res.facts[t] ??= {})[p] = r.ok ? r.value : { error: r.errno };
        break;
      }
      case 'LINK': (res.links[words[0]] ??= {})[words[1]] = words[2]; break;
      case 'OP': (res.ops[words[0]] ??= {}).mode = words[1]; break;
      case 'RES': (res.ops[words[0]] ??= {}).result = decodeResult(words.slice(1).join(' ')); break;
      case 'KLOG': (res.klog[words[0]] ??= []).push(words.slice(1).join(' ')); break;
    }
  }
  return res;
}

// ---------------------------------------------------------------- fact summaries
export function parseIomem(text) {
  const root = { children: [] };
  const stack = [{ depth: -1, node: root }];
  for (const line of (text ?? '').split('\n')) {
    const m = /^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 2;
    const node = { start: '0x' + m[2], end: '0x' + m[3], name: m[4], children: [] };
    while (stack.at(-1).depth >= depth) stack.pop();
    stack.at(-1).node.children.push(node);
    stack.push({ depth, node });
  }
  const strip = (n) => (n.children.length ? n : (({ children, ...r }) => r)(n));
  const walk = (n) => { n.children = n.children.map((c) => strip(walk(c))); return n; };
  return walk(root).children;
}

function flatIomem(tree, out = []) {
  for (const n of tree) { out.push(n); if (n.children) flatIomem(n.children, out); }
  return out;
}

export function summarize(facts, links) {
  const M = '/sys/devices/system/memory';
  const get = (p) => (typeof facts[p] === 'string' ? facts[p].trim() : facts[p] === undefined ? undefined : facts[p]);
  const blocks = [];
  for (const p of Object.keys(facts)) {
    const m = /^\/sys\/devices\/system\/memory\/memory(\d+)\/state$/.exec(p);
    if (!m) continue;
    const id = Number(m[1]);
    const d = `${M}/memory${id}`;
    const nodeLink = Object.keys(links).find((l) => l.startsWith(`${d}/node`));
    blocks.push({
      id,
      state: get(`${d}/state`),
      online: get(`${d}/online`),
      phys_index: get(`${d}/phys_index`),
      valid_zones: get(`${d}/valid_zones`),
      removable: get(`${d}/removable`),
      phys_device: get(`${d}/phys_device`),
      node: nodeLink ? Number(nodeLink.slice(`${d}/node`.length)) : null,
    });
  }
  blocks.sort((a, b) => a.id - b.id);
  const dax = [];
  for (const l of Object.keys(links)) {
    const m = /^\/sys\/bus\/dax\/devices\/([^/]+)$/.exec(l);
    if (!m) continue;
    const name = m[1];
    const d = `/sys/bus/dax/devices/${name}`;
    const drv = links[`${d}/driver`];
    // the region's attributes live next to the device in its parent
    const target = links[l];
    const parentRel = target.split('/').slice(0, -1).join('/');
    const regionKey = Object.keys(facts).find((p) => p.endsWith('/dax_region/id') && p.includes(parentRel.replace(/^(\.\.\/)+/, '')));
    const regionDir = regionKey ? regionKey.slice(0, -'/id'.length) : null;
    dax.push({
      name,
      sysfs: target,
      driver: drv ? drv.split('/').pop() : null,
      target_node: get(`${d}/target_node`),
      numa_node: get(`${d}/numa_node`),
      size: get(`${d}/size`),
      align: get(`${d}/align`),
      resource: get(`${d}/resource`),
      modalias: get(`${d}/modalias`),
      memmap_on_memory: get(`${d}/memmap_on_memory`),
      region: regionDir && {
        dir: regionDir,
        id: get(`${regionDir}/id`),
        size: get(`${regionDir}/size`),
        align: get(`${regionDir}/align`),
        available_size: get(`${regionDir}/available_size`),
        seed: get(`${regionDir}/seed`),
      },
    });
  }
  const meminfo = facts['/proc/meminfo'];
  const memTotal = meminfo ? /MemTotal:\s+(\d+ kB)/.exec(meminfo)?.[1] : undefined;
  const nodes = {};
  for (const p of Object.keys(facts)) {
    const m = /^\/sys\/devices\/system\/node\/node(\d+)\/meminfo$/.exec(p);
    if (m) nodes[m[1]] = { MemTotal: /MemTotal:\s+(\d+ kB)/.exec(facts[p])?.[1], MemFree: /MemFree:\s+(\d+ kB)/.exec(facts[p])?.[1] };
  }
  return {
    cmdline: get('/proc/cmdline'),
    block_size_bytes: get(`${M}/block_size_bytes`),
    auto_online_blocks: get(`${M}/auto_online_blocks`),
    memTotal,
    nodes,
    node_online: get('/sys/devices/system/node/online'),
    node_has_memory: get('/sys/devices/system/node/has_memory'),
    node_has_normal_memory: get('/sys/devices/system/node/has_normal_memory'),
    memoryBlocks: blocks,
    dax,
    iomemTree: parseIomem(facts['/proc/iomem']),
  };
}

// best-effort memhp "boot" event derived from the boot facts
export function bootEvent(sum, uname, kconfig) {
  const B = BigInt('0x' + (sum.block_size_bytes ?? '8000000'));
  const nodeOfBlock = new Map(sum.memoryBlocks.map((b) => [BigInt(b.id), b.node]));
  const ram = [];
  for (const r of sum.iomemTree.filter((n) => n.name === 'System RAM')) {
    let s = BigInt(r.start), e = BigInt(r.end) + 1n;
    while (s < e) { // split at node changes (block granularity)
      const node = nodeOfBlock.get(s / B) ?? 0;
      let t = s;
      while (t < e && (nodeOfBlock.get(t / B) ?? 0) === node) t = (t / B + 1n) * B;
      if (t > e) t = e;
      ram.push({ start: '0x' + s.toString(16), size: '0x' + (t - s).toString(16), node });
      s = t;
    }
  }
  const flat = flatIomem(sum.iomemTree);
  const daxRegions = [];
  for (const d of sum.dax) {
    const id = Number(d.region?.id ?? d.name.replace(/^dax(\d+)\..*/, '$1'));
    let reg = daxRegions.find((r) => r.id === id);
    const start = d.resource ? BigInt('0x' + d.resource.replace(/^0x/, '')) : null;
    if (!reg) {
      const kind = /hmem/.test(d.sysfs) ? 'hmem' : /cxl/.test(d.sysfs) ? 'cxl' : 'pmem';
      // the producer node: the outermost non-RAM iomem node containing the device
      const holder = start === null ? null : flat.find((n) => n.name !== 'System RAM' && BigInt(n.start) <= start && start <= BigInt(n.end) && /Soft Reserved|Persistent Memory|CXL/.test(n.name));
      const regionSize = d.region?.size ? BigInt(d.region.size) : null;
      reg = {
        id, kind, name: holder?.name ?? null,
        start: holder ? holder.start : null,
        size: regionSize !== null ? '0x' + regionSize.toString(16) : holder ? '0x' + (BigInt(holder.end) - BigInt(holder.start) + 1n).toString(16) : null,
        targetNode: d.target_node !== undefined ? Number(d.target_node) : null,
        align: d.region?.align ? '0x' + BigInt(d.region.align).toString(16) : undefined,
        devices: [],
      };
      daxRegions.push(reg);
    }
    reg.devices.push({
      name: d.name,
      start: start !== null ? '0x' + start.toString(16) : null,
      size: d.size ? '0x' + BigInt(d.size).toString(16) : null,
      align: d.align ? '0x' + BigInt(d.align).toString(16) : undefined,
      driver: d.driver,
    });
  }
  const kver = /^(\d+\.\d+)/.exec(uname ?? '')?.[1] ?? uname;
  return {
    type: 'boot',
    kernel: kver,
    config: {
      memoryHotremove: kconfig.CONFIG_MEMORY_HOTREMOVE === 'y',
      autoOnline: sum.auto_online_blocks,
      memmapOnMemory: false,
    },
    memoryBlockSize: '0x' + B.toString(16),
    ram,
    daxRegions,
    variant: `qemu ${uname}`,
  };
}

function readKconfig() {
  const dir = path.join(ROOT, '.cache', 'kernel', 'boot');
  const out = {};
  try {
    const f = fs.readdirSync(dir).find((x) => x.startsWith('config-'));
    for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const m = /^(CONFIG_\w+)=(.*)$/.exec(l);
      if (m) out[m[1]] = m[2];
    }
  } catch { /* no config */ }
  return out;
}

// ---------------------------------------------------------------- main
export async function runGuest({ machine, ops, out, timeout = 300, opTimeout = 30, append = '', quiet = false }) {
  const m = MACHINES[machine];
  if (!m) throw new Error(`unknown machine ${machine}`);
  const base = path.join(BUILD, 'initramfs.cpio.gz');
  const kernel = path.join(BUILD, 'vmlinuz');
  if (!fs.existsSync(base) || !fs.existsSync(kernel)) throw new Error('run harness/setup.sh first');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const initrd = `${out}.initrd`;
  const extra = cpio({ 'ops.txt': opsText(ops), 'run.conf': `MACHINE=${machine}\nOP_TIMEOUT=${opTimeout}\n` });
  fs.writeFileSync(initrd, Buffer.concat([fs.readFileSync(base), zlib.gzipSync(extra)]));
  const args = [
    '-accel', 'tcg', '-smp', '1', '-m', m.mem, ...m.qemu,
    '-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd,
    '-append', `${COMMON_APPEND} ${m.append} ${append}`.trim(),
  ];
  const t0 = Date.now();
  const chunks = [];
  const code = await new Promise((resolve, reject) => {
    const q = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => { chunks.push(Buffer.from('\n@@HOST TIMEOUT\n')); q.kill('SIGKILL'); }, timeout * 1000);
    q.stdout.on('data', (d) => chunks.push(d));
    q.stderr.on('data', (d) => { chunks.push(d); if (!quiet) process.stderr.write(d); });
    q.on('error', reject);
    q.on('exit', (c, sig) => { clearTimeout(timer); resolve(c ?? sig); });
  });
  const seconds = (Date.now() - t0) / 1000;
  fs.rmSync(initrd, { force: true });
  const consoleText = Buffer.concat(chunks).toString('utf8');
  fs.writeFileSync(`${out}.console.log`, consoleText);
  const parsed = parseConsole(consoleText);
  if (!parsed.begun) throw new Error(`guest never started the harness (qemu exit ${code}); see ${out}.console.log`);
  const bootFacts = parsed.facts.boot ?? {};
  const bootLinks = parsed.links.boot ?? {};
  const summary = summarize(bootFacts, bootLinks);
  const kconfig = readKconfig();
  const boot = {
    machine, uname: parsed.uname, qemuArgs: args, seconds,
    modules: parsed.mods, setup: parsed.setup,
    summary: (({ iomemTree, ...s }) => s)(summary), iomemTree: summary.iomemTree,
    files: bootFacts, links: bootLinks,
  };
  fs.writeFileSync(`${out}.boot.json`, JSON.stringify(boot, null, 1) + '\n');
  fs.writeFileSync(`${out}.dmesg.txt`, (parsed.klog['0'] ?? []).join('\n') + '\n');
  const lines = [JSON.stringify({ ...bootEvent(summary, parsed.uname, kconfig) })];
  const dumps = {};
  let missing = 0;
  for (const op of ops) {
    lines.push(...(op.comments ?? []));
    const r = parsed.ops[String(op.seq)];
    if (op.type === 'dump') {
      dumps[op.seq] = { files: parsed.facts[`op${op.seq}`] ?? {}, links: parsed.links[`op${op.seq}`] ?? {} };
      const s = summarize(dumps[op.seq].files, dumps[op.seq].links);
      dumps[op.seq].summary = (({ iomemTree, ...x }) => x)(s);
      const st = s.memoryBlocks.reduce((a, b) => ((a[b.state] = (a[b.state] ?? 0) + 1), a), {});
      lines.push(`// dump at seq ${op.seq} (${Object.entries(st).map(([k, v]) => `${v} ${k}`).join(', ')} blocks; dax ${s.dax.map((d) => `${d.name}:${d.driver ?? 'unbound'}`).join(' ')}): see ${path.basename(out)}.dumps.json`);
      continue;
    }
    if (op.type === 'sleep') { lines.push(`// sleep ${op.seconds ?? 1}`); continue; }
    const ev = { ...op };
    if (!r || !r.result) { missing++; ev.result = { ok: false, errno: 'EHARNESS', harness: 'no result (guest died or timed out)' }; }
    else {
      const { stage, ...result } = r.result;
      ev.result = result;
      if (stage) ev.failedAt = stage;
    }
    const kl = parsed.klog[String(op.seq)];
    if (kl?.length) ev.klog = kl;
    lines.push(JSON.stringify(ev));
  }
  fs.writeFileSync(`${out}.results.jsonl`, lines.join('\n') + '\n');
  if (Object.keys(dumps).length) fs.writeFileSync(`${out}.dumps.json`, JSON.stringify(dumps, null, 1) + '\n');
  return { seconds, code, ended: parsed.ended, missing, uname: parsed.uname, out };
}

async function main() {
  const argv = process.argv.slice(2);
  const pos = [];
  const opt = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') opt.out = argv[++i];
    else if (a === '--timeout') opt.timeout = Number(argv[++i]);
    else if (a === '--op-timeout') opt.opTimeout = Number(argv[++i]);
    else if (a === '--append') opt.append = argv[++i];
    else if (a === '--quiet') opt.quiet = true;
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 2) usage();
  const [machine, opsFile] = pos;
  const ops = parseOps(fs.readFileSync(opsFile, 'utf8'));
  const out = path.resolve(opt.out ?? path.join(ROOT, '.cache', 'runs', path.basename(opsFile).replace(/\.jsonl?$/, '')));
  const r = await runGuest({ machine, ops, out, ...opt });
  console.log(`${path.basename(out)}: ${ops.length} ops, ${r.seconds.toFixed(1)} s, kernel ${r.uname}, ` +
    `${r.ended ? 'completed' : 'DID NOT COMPLETE'}${r.missing ? `, ${r.missing} ops without result` : ''} -> ${r.out}.results.jsonl`);
  if (!r.ended || r.missing) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(`run-guest: ${e.message}`); process.exit(1); });
}
