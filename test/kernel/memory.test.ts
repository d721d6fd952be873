/**
 * drivers/base/memory.c and the driver-core `online` file, through replayed
 * logs: sysfs writes and reads on /sys/devices/system/memory (KERNEL-FACTS
 * §4.3–4.4, §4.7; docs/kernel-notes.md Q2–Q3).
 *
 * Machine: RAM [0, 2G) and [4G, 6G) on node 0 (boot blocks 0-15, 32-47), and
 * a 1 GiB hmem region at 6G that kmem adds at boot as blocks 48-55, offline.
 */
import { describe, expect, it } from 'vitest';
import { blockFile, boot, read, region, run, write, MEMORY, type Json } from '../helpers/machine.js';

const hmem = { daxRegions: [region('hmem', 0, '0x180000000', '1G')] };
const machine = (config: Json = {}): Json => boot(hmem, { memoryHotremove: true, ...config });
const state48 = blockFile(48, 'state');
const online48 = blockFile(48, 'online');

describe('state_store (memoryN/state)', () => {
  it('state_store accepts offline/online/online_kernel/online_movable, with or without the trailing newline', () => {
    const r = run(
      machine(),
      write(state48, 'online_movable'),
      read(state48),
      write(state48, 'offline'),
      write(state48, 'online_kernel', true),
      read(blockFile(48, 'valid_zones')),
      write(state48, 'offline\n', true),
      write(state48, 'online'),
      read(state48),
    );
    expect(r.results).toEqual(['ok', 'online\n', 'ok', 'ok', 'Normal\n', 'ok', 'ok', 'online\n']);
  });

  it.each([
    ['Online', false],
    ['online ', false],
    ['onlin', false],
    ['online_movable2', false],
    ['going-offline', false],
    ['1', false],
    ['online\n', false], // echo adds a second newline: sysfs_streq allows only one
    ['', false], // echo "" writes "\n"
    ['\nonline', true],
  ])('state_store rejects %j with -EINVAL and leaves the block offline', (value, raw) => {
    const r = run(machine(), write(state48, value, raw), read(state48));
    expect(r.results).toEqual(['EINVAL', 'offline\n']);
  });

  it('state_store turns "already in that state" (device_online/offline returning 1) into -EINVAL', () => {
    const r = run(
      machine(),
      write(state48, 'offline'),
      write(state48, 'online_movable'),
      write(state48, 'online_movable'),
      write(state48, 'online_kernel'),
      write(state48, 'online'),
      read(blockFile(48, 'valid_zones')),
    );
    expect(r.results).toEqual(['EINVAL', 'ok', 'EINVAL', 'EINVAL', 'EINVAL', 'Movable\n']);
  });

  it('state_store is never reached by a zero-byte write (sysfs_kf_write returns 0)', () => {
    const r = run(machine(), write(state48, '', true), read(state48));
    expect(r.results).toEqual(['ok', 'offline\n']);
  });
});

describe('online_store (memoryN/online, kstrtobool)', () => {
  it.each(['1', 'y', 'Y', 'yes', 't', 'T', 'on', 'ON', 'oN'])('online_store takes %j as true and onlines the block', (v) => {
    const r = run(machine(), write(online48, v), read(online48), read(state48));
    expect(r.results).toEqual(['ok', '1\n', 'online\n']);
  });

  it.each(['0', 'n', 'N', 'no', 'f', 'F', 'off', 'OFF', 'of'])('online_store takes %j as false and offlines the block', (v) => {
    const r = run(machine(), write(state48, 'online_movable'), write(online48, v), read(online48), read(state48));
    expect(r.results).toEqual(['ok', 'ok', '0\n', 'offline\n']);
  });

  it.each([
    ['o', true],
    ['o', false],
    ['ox', false],
    ['x', false],
    ['2', false],
    ['-1', false],
    [' 1', false],
    ['', false],
  ])('online_store rejects %j (raw %s) with -EINVAL', (v, raw) => {
    const r = run(machine(), write(online48, v, raw), read(online48));
    expect(r.results).toEqual(['EINVAL', '0\n']);
  });

  it('online_store reports success with no change for an empty raw write (zero bytes)', () => {
    const r = run(machine(), write(online48, '', true), read(online48));
    expect(r.results).toEqual(['ok', '0\n']);
  });

  it('online_store treats "already there" as success (unlike state_store)', () => {
    const r = run(machine(), write(online48, '0'), write(online48, '1'), write(online48, '1'), read(online48));
    expect(r.results).toEqual(['ok', 'ok', 'ok', '1\n']);
  });

  it('online_store onlines with MMOP_ONLINE: the contig-zones default zone (Normal here)', () => {
    const r = run(machine(), write(online48, '1'), read(blockFile(48, 'valid_zones')));
    expect(r.results).toEqual(['ok', 'Normal\n']);
  });
});

describe('read-only block attributes', () => {
  it('phys_index_show prints the block id as %08lx', () => {
    const r = run(machine(), read(blockFile(0, 'phys_index')), read(blockFile(1, 'phys_index')), read(blockFile(47, 'phys_index')), read(blockFile(48, 'phys_index')));
    expect(r.results).toEqual(['00000000\n', '00000001\n', '0000002f\n', '00000030\n']);
  });

  it('block_size_bytes_show prints the block size as %lx', () => {
    expect(run(machine(), read(`${MEMORY}/block_size_bytes`)).results).toEqual(['8000000\n']);
    const big = boot({ memoryBlockSize: '1G' });
    expect(run(big, read(`${MEMORY}/block_size_bytes`)).results).toEqual(['40000000\n']);
  });

  it('removable_show prints IS_ENABLED(CONFIG_MEMORY_HOTREMOVE): 1 with it, 0 without; phys_device_show prints 0 on x86', () => {
    const r = run(machine(), read(blockFile(48, 'removable')), read(blockFile(33, 'phys_device')));
    expect(r.results).toEqual(['1\n', '0\n']);
    expect(run(machine({ memoryHotremove: false }), read(blockFile(33, 'removable'))).results).toEqual(['0\n']);
  });
});

describe('kernfs open checks and missing files', () => {
  it('kernfs_fop_open refuses to open a read-only attribute for writing: phys_index -> EACCES', () => {
    const r = run(machine(), write(blockFile(48, 'phys_index'), '0'), write(`${MEMORY}/block_size_bytes`, '8000000'));
    expect(r.results).toEqual(['EACCES', 'EACCES']);
  });

  it('kernfs_fop_open refuses to open a write-only attribute for reading: bind/unbind/new_id -> EACCES', () => {
    const r = run(machine(), read('/sys/bus/dax/drivers/kmem/bind'), read('/sys/bus/dax/drivers/device_dax/unbind'), read('/sys/bus/dax/drivers/kmem/new_id'));
    expect(r.results).toEqual(['EACCES', 'EACCES', 'EACCES']);
  });

  it('memory block directories exist only for blocks that exist, named in decimal without leading zeros', () => {
    const r = run(
      machine(),
      read(blockFile(9999, 'state')),
      write(blockFile(9999, 'state'), 'online'),
      read(blockFile('017', 'state')),
      read(blockFile(16, 'state')),
      read(blockFile(17, 'state')),
      read(blockFile(48, 'no_such_file')),
    );
    expect(r.results).toEqual(['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT']);
  });
});

describe('valid_zones_show', () => {
  const vz = (id: number) => read(blockFile(id, 'valid_zones'));

  it('valid_zones_show for an offline block past Normal: default Normal, then Movable', () => {
    expect(run(machine(), vz(48)).results).toEqual(['Normal Movable\n']);
  });

  it('valid_zones_show for an offline block inside Movable\'s span only: "Movable Normal"', () => {
    const r = run(machine(), write(state48, 'online_movable'), write(blockFile(50, 'state'), 'online_movable'), vz(49));
    expect(r.results).toEqual(['ok', 'ok', 'Movable Normal\n']);
  });

  it('valid_zones_show with movable_node: a block in no zone defaults to Movable', () => {
    expect(run(machine({ movableNode: true }), vz(48)).results).toEqual(['Movable Normal\n']);
  });

  it('valid_zones_show for online blocks prints mem->zone, "none" for a block spanning DMA and DMA32', () => {
    const r = run(machine(), write(state48, 'online_movable'), vz(48), vz(0), vz(1), vz(15), vz(32), vz(47));
    expect(r.results).toEqual(['ok', 'Movable\n', 'none\n', 'DMA32\n', 'DMA32\n', 'Normal\n', 'Normal\n']);
  });

  it('valid_zones exists only with CONFIG_MEMORY_HOTREMOVE', () => {
    const r = run(machine({ memoryHotremove: false }), vz(48), vz(32));
    expect(r.results).toEqual(['ENOENT', 'ENOENT']);
  });
});

describe('auto_online_blocks (mhp_default_online_type)', () => {
  const path = `${MEMORY}/auto_online_blocks`;

  it('auto_online_blocks_store on 6.x takes the four online-type words and reads them back', () => {
    const r = run(
      machine(),
      read(path),
      write(path, 'online_movable'),
      read(path),
      write(path, 'online_kernel', true),
      read(path),
      write(path, 'online'),
      read(path),
      write(path, 'offline'),
      read(path),
    );
    expect(r.results).toEqual(['offline\n', 'ok', 'online_movable\n', 'ok', 'online_kernel\n', 'ok', 'online\n', 'ok', 'offline\n']);
  });

  it('auto_online_blocks_store rejects anything else with -EINVAL and keeps the old value', () => {
    const r = run(machine(), write(path, 'online'), write(path, 'movable'), write(path, '1'), write(path, 'Online'), read(path));
    expect(r.results).toEqual(['ok', 'EINVAL', 'EINVAL', 'EINVAL', 'online\n']);
  });

  it('auto_online_blocks_store on 5.1 (memhp_auto_online bool) takes only online/offline', () => {
    const r = run(
      boot({ kernel: '5.1' }),
      write(path, 'online_kernel'),
      write(path, 'online_movable'),
      read(path),
      write(path, 'online'),
      read(path),
      write(path, 'offline'),
      read(path),
    );
    expect(r.results).toEqual(['EINVAL', 'EINVAL', 'offline\n', 'ok', 'online\n', 'ok', 'offline\n']);
  });
});
