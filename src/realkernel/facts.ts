/**
 * The facts a guest dumps (harness/guest/init `dumpfacts`: the raw text of
 * /proc/iomem, /proc/meminfo, every memory block's files, every dax device's
 * attributes and links) parsed into what the machine derivation needs.
 */

/** One /proc/iomem line and the lines nested under it. */
export interface IomemNode {
  readonly start: bigint;
  /** Inclusive, as /proc/iomem prints it. */
  readonly end: bigint;
  readonly name: string;
  readonly children: IomemNode[];
}

/** /proc/iomem text (as root: real addresses) into its containment tree. */
export function parseIomem(text: string): IomemNode[] {
  const root: IomemNode = { start: 0n, end: 0n, name: '', children: [] };
  const stack: { depth: number; node: IomemNode }[] = [{ depth: -1, node: root }];
  for (const line of text.split('\n')) {
    const m = /^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 2;
    const node: IomemNode = { start: BigInt(`0x${m[2] ?? '0'}`), end: BigInt(`0x${m[3] ?? '0'}`), name: m[4] ?? '', children: [] };
    while ((stack.at(-1)?.depth ?? -1) >= depth) stack.pop();
    (stack.at(-1)?.node ?? root).children.push(node);
    stack.push({ depth, node });
  }
  return root.children;
}

export interface BlockFacts {
  readonly id: number;
  readonly state: string | undefined;
  /** The node the block's `nodeN` link names, or null when it has none. */
  readonly node: number | null;
  readonly validZones: string | undefined;
}

export interface DaxFacts {
  readonly name: string;
  /** Where /sys/bus/dax/devices/NAME points (its parent tells the producer: hmem, ndbus, cxl). */
  readonly sysfs: string;
  readonly driver: string | null;
  readonly targetNode: number | undefined;
  readonly size: bigint | undefined;
  readonly align: bigint | undefined;
  readonly resource: bigint | undefined;
  readonly region: { readonly id: number | undefined; readonly size: bigint | undefined; readonly align: bigint | undefined } | null;
}

export interface MachineFacts {
  readonly uname: string;
  readonly cmdline: string;
  readonly blockSize: bigint;
  readonly autoOnlineBlocks: string;
  readonly memTotalKiB: number;
  /** `/sys/module/memory_hotplug/parameters/memmap_on_memory` (Y/N), when the guest has it. */
  readonly memmapOnMemoryParam: string | undefined;
  readonly iomem: IomemNode[];
  readonly blocks: BlockFacts[];
  readonly dax: DaxFacts[];
}

export type FactFiles = Readonly<Record<string, string | { error: string }>>;
export type FactLinks = Readonly<Record<string, string>>;

function text(files: FactFiles, path: string): string | undefined {
  const v = files[path];
  return typeof v === 'string' ? v : undefined;
}

function trimmed(files: FactFiles, path: string): string | undefined {
  return text(files, path)?.trim();
}

function big(s: string | undefined, radix: 10 | 16 = 10): bigint | undefined {
  if (s === undefined || s === '') return undefined;
  try {
    if (radix === 16) return BigInt(s.startsWith('0x') ? s : `0x${s}`);
    return BigInt(s);
  } catch {
    return undefined;
  }
}

/** Why a fact the derivation needs is missing. */
export class MissingFact extends Error {
  constructor(what: string) {
    super(`the guest did not report ${what}`);
    this.name = 'MissingFact';
  }
}

/** The facts dumped under one tag, as the machine derivation reads them. */
export function summarize(uname: string, files: FactFiles, links: FactLinks): MachineFacts {
  const M = '/sys/devices/system/memory';
  const blockSizeText = trimmed(files, `${M}/block_size_bytes`);
  const blockSize = big(blockSizeText, 16);
  if (blockSize === undefined) throw new MissingFact(`${M}/block_size_bytes`);
  const meminfo = text(files, '/proc/meminfo');
  const memTotal = meminfo === undefined ? undefined : /^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  if (memTotal === undefined) throw new MissingFact('MemTotal in /proc/meminfo');
  const iomemText = text(files, '/proc/iomem');
  if (iomemText === undefined) throw new MissingFact('/proc/iomem');

  const blocks: BlockFacts[] = [];
  for (const p of Object.keys(files)) {
    const m = /^\/sys\/devices\/system\/memory\/memory(\d+)\/state$/.exec(p);
    if (m === null) continue;
    const id = Number(m[1]);
    const dir = `${M}/memory${id}`;
    const nodeLink = Object.keys(links).find((l) => l.startsWith(`${dir}/node`));
    blocks.push({
      id,
      state: trimmed(files, `${dir}/state`),
      node: nodeLink === undefined ? null : Number(nodeLink.slice(`${dir}/node`.length)),
      validZones: trimmed(files, `${dir}/valid_zones`),
    });
  }
  blocks.sort((a, b) => a.id - b.id);

  const dax: DaxFacts[] = [];
  for (const [l, target] of Object.entries(links)) {
    const m = /^\/sys\/bus\/dax\/devices\/([^/]+)$/.exec(l);
    if (m === null) continue;
    const name = m[1] ?? '';
    const d = `/sys/bus/dax/devices/${name}`;
    const drv = links[`${d}/driver`];
    // The region's attributes live in the device's parent directory (…/dax_region).
    const parentRel = target.split('/').slice(0, -1).join('/').replace(/^(\.\.\/)+/, '');
    const regionKey = Object.keys(files).find((p) => p.endsWith('/dax_region/id') && p.includes(parentRel));
    const regionDir = regionKey?.slice(0, -'/id'.length);
    const tn = trimmed(files, `${d}/target_node`);
    dax.push({
      name,
      sysfs: target,
      driver: drv === undefined ? null : (drv.split('/').pop() ?? null),
      targetNode: tn === undefined ? undefined : Number(tn),
      size: big(trimmed(files, `${d}/size`)),
      align: big(trimmed(files, `${d}/align`)),
      resource: big(trimmed(files, `${d}/resource`), 16),
      region:
        regionDir === undefined
          ? null
          : {
              id: (() => {
                const v = trimmed(files, `${regionDir}/id`);
                return v === undefined ? undefined : Number(v);
              })(),
              size: big(trimmed(files, `${regionDir}/size`)),
              align: big(trimmed(files, `${regionDir}/align`)),
            },
    });
  }
  dax.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return {
    uname,
    cmdline: trimmed(files, '/proc/cmdline') ?? '',
    blockSize,
    autoOnlineBlocks: trimmed(files, `${M}/auto_online_blocks`) ?? 'offline',
    memTotalKiB: Number(memTotal),
    memmapOnMemoryParam: trimmed(files, '/sys/module/memory_hotplug/parameters/memmap_on_memory'),
    iomem: parseIomem(iomemText),
    blocks,
    dax,
  };
}
