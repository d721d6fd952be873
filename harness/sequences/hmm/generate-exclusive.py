# Generates the HMM_DMIRROR_EXCLUSIVE sequences (device-exclusive entries): python3 generate-exclusive.py
import json, os
HERE = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(HERE, 'dmirror-migrate.jsonl')
BOOT = json.loads([l for l in open(src) if l.startswith('{"type":"boot"')][0]); BOOT.pop('result', None)
K = 4096; M = 1 << 20
EXCL = 'HMM_DMIRROR_EXCLUSIVE'; CHECK = 'HMM_DMIRROR_CHECK_EXCLUSIVE'; SNAP = 'HMM_DMIRROR_SNAPSHOT'
READ = 'HMM_DMIRROR_READ'; WRITE = 'HMM_DMIRROR_WRITE'; TODEV = 'HMM_DMIRROR_MIGRATE_TO_DEV'; TOSYS = 'HMM_DMIRROR_MIGRATE_TO_SYS'

class Seq:
    def __init__(s, name, desc): s.name = name; s.desc = desc; s.ev = []
    def e(s, **k): s.ev.append(k)
    def io(s, cmd, m, off, n, ptr=None, pid='p1', fd='f1'):
        a = {"addr": {"map": m, "offset": hex(off)}, "npages": hex(n)}
        if ptr: a["ptr"] = {"map": ptr[0], "offset": hex(ptr[1])}
        s.e(type='ioctl', pid=pid, fd=fd, cmd=cmd, args=a)
    def acc(s, m, off, op='read', v=None, pid='p1'):
        d = dict(type='access', pid=pid, map=m, offset=hex(off), op=op)
        if v is not None: d['value'] = hex(v)
        s.e(**d)
    def mm(s, m, length, pid='p1', prot='rw'):
        s.e(type='mmap', pid=pid, map=m, fd=None, length=hex(length), offset='0x0', prot=prot, flags=['private'])
    def prot(s, m, off, length, prot, pid='p1'):
        s.e(type='mprotect', pid=pid, map=m, offset=hex(off), length=hex(length), prot=prot)
    def open(s, fd='f1', dev=0, pid='p1'):
        s.e(type='open', pid=pid, fd=fd, path=f'/dev/hmm_dmirror{dev}', flags='rdwr')
    def write(s):
        out = [f'// {s.desc}', f'// memhp kernel record harness/sequences/hmm/{s.name}.jsonl --kernel custom:hmm --machine hmem', json.dumps(BOOT, separators=(",", ":"))]
        for i, x in enumerate(s.ev, 1):
            d = {'seq': i}; d.update(x); out.append(json.dumps(d, separators=(',', ':')))
        open(os.path.join(HERE, f'{s.name}.jsonl'), 'w').write('\n'.join(out) + '\n')

import builtins
open = builtins.open
seqs = []

# 1. THP madvise: 4 KiB pages, EXCLUSIVE succeeds.
s = Seq('dmirror-exclusive', 'HMM_DMIRROR_EXCLUSIVE with THP madvise (4 KiB pages): two windows made device-exclusive and mapped ATOMIC, the data read back, SNAPSHOT seeing no valid entry, CHECK_EXCLUSIVE -EPERM; a CPU write restoring one page (its ATOMIC entry and the next page\'s go), READ faulting exclusive pages back, the other device faulting them back, a window cut short by a read-only vma (EBUSY, pages exclusive without ATOMIC), fork restoring and COW, EXCLUSIVE breaking COW, mprotect (EXCLUSIVE_WRITE to _READ, WRITE -EPERM), munmap of exclusive pages'); seqs.append(s)
s.e(type='write', path='/sys/kernel/mm/transparent_hugepage/enabled', value='madvise')
s.open('f1', 0); s.open('f2', 1)
s.mm('m1', M); s.mm('m2', M); s.mm('m3', 16 * K)
for i in range(4): s.acc('m1', i * K, 'write', 0x10 + i)
s.acc('m1', 5 * K)
s.acc('m1', 0x7f000, 'write', 0x7f)
s.io(READ, 'm1', 0, 4, ('m2', 0), fd='f2')
s.io(EXCL, 'm1', 0, 0x80, ('m2', 0))
s.acc('m2', 0); s.acc('m2', 3 * K); s.acc('m2', 5 * K); s.acc('m2', 0x7f000)
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(CHECK, 'm1', 0, 0x80)
s.io(CHECK, 'm1', 0x80000, 4)
s.io(CHECK, 'm1', 0, 4, fd='f2')
s.io(SNAP, 'm1', 0, 4, ('m3', 0), fd='f2'); s.acc('m3', 0)
s.acc('m1', K, 'write', 0x21)
s.io(CHECK, 'm1', K, 2)
s.io(CHECK, 'm1', 3 * K, 1)
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(READ, 'm1', 0, 4, ('m2', 0)); s.acc('m2', 0); s.acc('m2', K); s.acc('m2', 2 * K)
s.io(CHECK, 'm1', 0, 1)
s.io(CHECK, 'm1', K, 3)
s.io(READ, 'm1', 4 * K, 4, ('m2', 0), fd='f2'); s.acc('m2', K)
s.io(CHECK, 'm1', 4 * K, 4)
s.io(CHECK, 'm1', 8 * K, 1)
s.io(CHECK, 'm1', 9 * K, 1)
s.prot('m1', 0x90000, 0x10000, 'r')
s.acc('m1', 0x90000)
s.acc('m1', 0x88000, 'write', 0x88)
s.io(EXCL, 'm1', 0x88000, 0x10, ('m2', 0))
s.io(CHECK, 'm1', 0x88000, 0x10)
s.io(SNAP, 'm1', 0x88000, 0x10, ('m3', 0)); s.acc('m3', 0); s.acc('m3', 8)
s.acc('m1', 0x88000)
s.e(type='fork', pid='p1', child='p2')
s.io(CHECK, 'm1', 0, 0x80)
s.io(SNAP, 'm1', 0, 0x10, ('m3', 0)); s.acc('m3', 0); s.acc('m3', 8)
s.acc('m1', 3 * K, 'write', 0x33, pid='p2'); s.acc('m1', 3 * K)
s.io(EXCL, 'm1', 0, 0x40, ('m2', 0))
s.acc('m2', 3 * K)
s.acc('m1', 3 * K, pid='p2')
s.io(CHECK, 'm1', 0, 0x40)
s.prot('m1', 0, 0x20000, 'r')
s.io(CHECK, 'm1', 0, 0x20)
s.io(CHECK, 'm1', 0x20000, 0x20)
s.io(WRITE, 'm1', 0, 1, ('m2', 0))
s.acc('m1', 0)
s.prot('m1', 0, 0x20000, 'rw')
s.acc('m1', K, 'write', 0x41); s.acc('m1', K)
s.e(type='munmap', pid='p1', map='m1', offset=hex(0x20000), length=hex(0x10000))
s.io(CHECK, 'm1', 0x30000, 0x10)
s.io(CHECK, 'm1', 0, 0x30)
s.e(type='exit', pid='p2')
s.e(type='close', pid='p1', fd='f2')
s.e(type='exit', pid='p1')

# 2. THP always: FOLL_SPLIT_PMD leaves PTE-mapped THPs, tail pages are not made exclusive.
s = Seq('dmirror-exclusive-thp', 'HMM_DMIRROR_EXCLUSIVE under THP always (KERNEL-FACTS-HMM 2.4): FOLL_SPLIT_PMD splits the PMD, not the THP, so a window of tail pages is -EBUSY with nothing exclusive; a window holding a THP head makes the whole THP device-exclusive (the rmap walk converts all 512 PTEs) and maps only the head ATOMIC, still -EBUSY; a CPU read restores one page; the same window again converts up to the first PTE past the window that is still exclusive; the huge zero page is split and copied into 4 KiB pages, which become exclusive; fork restores the rest; after the fork the same window COWs into 4 KiB pages and succeeds; munmap; a page restored past the window keeps the THP mapped, so its head is refused too. Offsets lie 64 KiB into a 2 MiB unit (or at a unit start, where both the model\'s and the kernel\'s THP boundary fall within the first 64 pages), so they meet the same THPs wherever the kernel or the model places the buffer'); seqs.append(s)
s.open()
s.mm('m1', 8 * M); s.mm('m2', 4 * M); s.mm('m3', 16 * K)
s.acc('m1', 0x210000, 'write', 0x21)
s.acc('m1', 0x300000, 'write', 0x30)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.io(EXCL, 'm1', 0x210000, 0x40, ('m2', 0))
s.io(CHECK, 'm1', 0x210000, 0x40)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.io(EXCL, 'm1', 0x200000, 0x40, ('m2', 0))
s.io(CHECK, 'm1', 0x200000, 0x40)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.acc('m1', 0x210000)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.io(CHECK, 'm1', 0x200000, 0x40)
# The same window again: GUP restores the window's pages, the head's rmap walk converts them and stops at the
# first PTE of the THP past the window, still device-exclusive (page_make_device_exclusive_one: !pte_present).
s.io(EXCL, 'm1', 0x200000, 0x40, ('m2', 0))
s.io(CHECK, 'm1', 0x200000, 0x40)
s.io(SNAP, 'm1', 0x240000, 0x8, ('m3', 0)); s.acc('m3', 0)
# The huge zero page: FOLL_SPLIT_PMD splits its PMD, the write faults copy the zero page into 4 KiB pages.
s.acc('m1', 0x410000)
s.io(SNAP, 'm1', 0x410000, 0x8, ('m3', 0)); s.acc('m3', 0)
s.io(EXCL, 'm1', 0x410000, 0x10, ('m2', 0)); s.acc('m2', 0)
s.io(CHECK, 'm1', 0x410000, 0x10)
s.io(SNAP, 'm1', 0x418000, 0x10, ('m3', 0)); s.acc('m3', 0); s.acc('m3', 8)
s.e(type='fork', pid='p1', child='p2')
s.io(CHECK, 'm1', 0x200000, 0x40)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.acc('m1', 0x300000, 'write', 0x44, pid='p2'); s.acc('m1', 0x300000)
s.e(type='exit', pid='p2')
s.io(EXCL, 'm1', 0x200000, 0x40, ('m2', 0))
s.acc('m2', 0x10000)
s.io(CHECK, 'm1', 0x200000, 0x40)
s.io(SNAP, 'm1', 0x210000, 0x10, ('m3', 0)); s.acc('m3', 0)
s.e(type='munmap', pid='p1', map='m1', offset=hex(0x200000), length=hex(0x40000))
s.io(CHECK, 'm1', 0x200000, 0x40)
s.acc('m1', 0x300000)
# A fresh THP in a new 8 MiB buffer (placed below m3 in both: its 2 MiB boundaries fall 0x11000 / 0x16000 into a
# unit, within the first window): all of it exclusive, then a page past the window restored, then the window again:
# the walk stops at the first PTE past the window, still exclusive, and the restored page keeps the folio mapped
# (folio_mapcount 1): folio_make_device_exclusive fails for the head too, nothing ATOMIC, EBUSY.
s.mm('m4', 8 * M)
s.acc('m4', 0x300000, 'write', 0x4)
s.io(EXCL, 'm4', 0x200000, 0x40, ('m2', 0))
s.io(CHECK, 'm4', 0x200000, 0x40)
s.acc('m4', 0x300000)
s.io(EXCL, 'm4', 0x200000, 0x40, ('m2', 0))
s.io(CHECK, 'm4', 0x200000, 0x40)
s.io(SNAP, 'm4', 0x2fc000, 0x8, ('m3', 0)); s.acc('m3', 0)
s.e(type='exit', pid='p1')

# 3. Exclusive pages and migration (THP madvise).
s = Seq('dmirror-exclusive-migrate', 'HMM_DMIRROR_EXCLUSIVE and migration to device-private memory (THP madvise): EXCLUSIVE faults device-private pages back first (migrate_to_ram), MIGRATE_TO_DEV skips device-exclusive entries (not device-private swap entries) yet answers with the ATOMIC entries its own device kept (MMU_NOTIFY_MIGRATE of the owner is ignored), the other device\'s MIGRATE_TO_DEV erases them (ENOENT), CHECK_EXCLUSIVE 0 while the pages stay exclusive, MIGRATE_TO_SYS, close of a file with ATOMIC entries; EXCLUSIVE at an unmapped page (get_user_pages fails: EBUSY) and on a device-dax mapping (no anonymous folio: EBUSY)'); seqs.append(s)
s.e(type='write', path='/sys/kernel/mm/transparent_hugepage/enabled', value='madvise')
s.open('f1', 0); s.open('f2', 1)
s.mm('m1', 64 * K); s.mm('m2', 64 * K); s.mm('m3', 4 * K)
for i in range(8): s.acc('m1', i * K, 'write', 0x50 + i)
s.io(TODEV, 'm1', 0, 4, ('m2', 0))
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(EXCL, 'm1', 0, 8, ('m2', 0)); s.acc('m2', 0); s.acc('m2', 7 * K)
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(TODEV, 'm1', 0, 8, ('m2', 0)); s.acc('m2', 2 * K)
s.io(CHECK, 'm1', 0, 8)
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(TODEV, 'm1', 0, 8, ('m2', 0), fd='f2')
s.io(CHECK, 'm1', 0, 8)
s.io(SNAP, 'm1', 0, 8, ('m3', 0)); s.acc('m3', 0)
s.io(TOSYS, 'm1', 0, 8, ('m2', 0))
s.io(READ, 'm1', 0, 8, ('m2', 0), fd='f2'); s.acc('m2', 3 * K)
s.io(EXCL, 'm1', 8 * K, 4, ('m2', 0))
s.io(CHECK, 'm1', 8 * K, 4)
s.e(type='close', pid='p1', fd='f1')
s.io(SNAP, 'm1', 0, 16, ('m3', 0), fd='f2'); s.acc('m3', 0); s.acc('m3', 8)
s.acc('m1', 9 * K)
# No page at the start: get_user_pages fails at once (-EFAULT), EBUSY.
s.e(type='munmap', pid='p1', map='m1', offset=hex(12 * K), length=hex(4 * K))
s.io(EXCL, 'm1', 12 * K, 4, ('m2', 0), fd='f2')
s.io(EXCL, 'm1', 10 * K, 4, ('m2', 0), fd='f2')
s.io(CHECK, 'm1', 10 * K, 2, fd='f2')
s.io(SNAP, 'm1', 8 * K, 4, ('m3', 0), fd='f2'); s.acc('m3', 0)
# A device-dax mapping: its pages are no anonymous folio (folio_make_device_exclusive refuses them), EBUSY.
s.e(type='open', pid='p1', fd='f3', path='/dev/dax0.0', flags='rdwr')
s.e(type='mmap', pid='p1', map='m4', fd='f3', length=hex(4 * M), offset='0x0', prot='rw', flags=['shared'])
s.acc('m4', 0, 'write', 0x1234)
s.io(EXCL, 'm4', 0, 4, ('m2', 0), fd='f2')
s.io(CHECK, 'm4', 0, 4, fd='f2')
s.acc('m4', 0)
s.e(type='exit', pid='p1')

for s in seqs: s.write()
