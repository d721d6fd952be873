/**
 * The device-dax program tests' machine and events: the harness's hmem
 * machine shape (a dynamic region on node 0 whose device is bound to
 * device_dax at boot, 6.1 by default) and the SPEC §7 events on
 * /dev/dax0.0, written once for every test that maps the device.
 */
import { boot, programSmaps, region, write, type Json } from './machine.js';

export const DAX = '/sys/bus/dax';
export const unbind = write(`${DAX}/drivers/device_dax/unbind`, 'dax0.0');
export const bind = write(`${DAX}/drivers/device_dax/bind`, 'dax0.0');
export const align = (a: string): Json => write(`${DAX}/devices/dax0.0/align`, a);

export interface HmemMachine {
  readonly kernel?: string;
  readonly align?: string;
  /** The region's size (1G by default). */
  readonly size?: string;
  readonly patches?: readonly string[];
  readonly variant?: string;
  /** Two ranges of 512 MiB with a 512 MiB gap instead of one GiB. */
  readonly twoRanges?: boolean;
}

export function hmem(m: HmemMachine = {}): Json {
  const r = region('hmem', 0, '0x180000000', m.twoRanges === true ? '1536M' : (m.size ?? '1G'), { driver: 'device_dax', align: m.align ?? '2M' });
  if (m.twoRanges === true) r['devices'] = [{ name: 'dax0.0', ranges: [{ start: '0x180000000', size: '512M' }, { start: '0x1c0000000', size: '512M' }], driver: 'device_dax', align: m.align ?? '2M' }];
  return boot({ kernel: m.kernel ?? '6.1', daxRegions: [r], ...(m.patches === undefined ? {} : { patches: m.patches }), ...(m.variant === undefined ? {} : { variant: m.variant }) });
}

export const open = (pid: string, fd: string, flags = 'rdwr'): Json => ({ type: 'open', pid, fd, path: '/dev/dax0.0', flags });
export const close = (pid: string, fd: string): Json => ({ type: 'close', pid, fd });
export const mmap = (pid: string, map: string, fd: string, length: string, extra: Json = {}): Json => ({ type: 'mmap', pid, map, fd, length, offset: '0', prot: 'rw', flags: ['shared'], ...extra });
export const touch = (pid: string, map: string, offset = '0'): Json => ({ type: 'access', pid, map, offset, op: 'read' });
export const poke = (pid: string, map: string, offset: string, value: string): Json => ({ type: 'access', pid, map, offset, op: 'write', value });

/** The values of `field` in a smaps text, for the vmas the test's program mapped (programSmaps). */
export function smapsField(text: string, field: string): string[] {
  return programSmaps(text)
    .split('\n')
    .filter((l) => l.startsWith(`${field}:`))
    .map((l) => l.slice(field.length + 1).trim());
}
