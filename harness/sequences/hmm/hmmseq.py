"""The sequence writer both HMM generators use (generate-dmirror.py, generate-exclusive.py): a Seq collects
program events and writes them, after the custom kernel's boot line, as harness/sequences/hmm/NAME.jsonl."""
import builtins, json, os
HERE = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(HERE, 'dmirror-migrate.jsonl')
BOOT = json.loads([l for l in open(src) if l.startswith('{"type":"boot"')][0]); BOOT.pop('result', None)
K = 4096; M = 1 << 20

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
        builtins.open(os.path.join(HERE, f'{s.name}.jsonl'), 'w').write('\n'.join(out) + '\n')
