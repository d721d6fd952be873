import json, os
HERE = os.path.dirname(os.path.abspath(__file__))
src=os.path.join(HERE, '../../../test/traces-custom/hmm/dmirror-files.jsonl')
BOOT=json.loads([l for l in open(src) if l.startswith('{"type":"boot"')][0]); BOOT.pop('result',None)
K=4096; M=1<<20
class Seq:
    def __init__(s, name, desc): s.name=name; s.desc=desc; s.ev=[]
    def e(s, **k): s.ev.append(k)
    def io(s, cmd, m, off, n, ptr=None, pid='p1', fd='f1'):
        a={"addr":{"map":m,"offset":hex(off)},"npages":hex(n)}
        if ptr: a["ptr"]={"map":ptr[0],"offset":hex(ptr[1])}
        s.e(type='ioctl',pid=pid,fd=fd,cmd=cmd,args=a)
    def acc(s, m, off, op='read', v=None, pid='p1'):
        d=dict(type='access',pid=pid,map=m,offset=hex(off),op=op)
        if v is not None: d['value']=hex(v)
        s.e(**d)
    def mm(s, m, length, pid='p1', prot='rw'):
        s.e(type='mmap',pid=pid,map=m,fd=None,length=hex(length),offset='0x0',prot=prot,flags=['private'])
    def open(s, fd='f1', dev=0, pid='p1'):
        s.e(type='open',pid=pid,fd=fd,path=f'/dev/hmm_dmirror{dev}',flags='rdwr')
    def write(s):
        out=[f'// {s.desc}', f'// memhp kernel record harness/sequences/hmm/{s.name}.jsonl --kernel custom:hmm --machine hmem', json.dumps(BOOT,separators=(",",":"))]
        for i,x in enumerate(s.ev,1):
            d={'seq':i}; d.update(x); out.append(json.dumps(d,separators=(',',':')))
        open(os.path.join(HERE, f'{s.name}.jsonl'),'w').write('\n'.join(out)+'\n')
import builtins
open=builtins.open
seqs=[]
# 1 THP madvise
s=Seq('dmirror-thp-madvise','dmirror READ/WRITE/SNAPSHOT with THP madvise: 4 KiB pages unless MADV_HUGEPAGE, the zero page, a THP only where asked'); seqs.append(s)
s.e(type='write',path='/sys/kernel/mm/transparent_hugepage/enabled',value='madvise')
s.open(); s.mm('m1',8*M); s.mm('m2',64*K); s.mm('m3',4*K)
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,8,('m3',0)); s.acc('m3',0)
s.io('HMM_DMIRROR_READ','m1',0,8,('m2',0)); s.acc('m2',0)
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,8,('m3',0)); s.acc('m3',0)
s.acc('m2',0,'write',0x77); s.acc('m2',K,'write',0x88)
s.io('HMM_DMIRROR_WRITE','m1',0,2,('m2',0)); s.acc('m1',0); s.acc('m1',K)
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,8,('m3',0)); s.acc('m3',0)
s.e(type='madvise',pid='p1',map='m1',offset=hex(4*M),length=hex(4*M),advice='hugepage')
# One page: the 2 MiB unit around m1+6M lies inside the MADV_HUGEPAGE half wherever the kernel placed m1.
s.io('HMM_DMIRROR_WRITE','m1',6*M,1,('m2',0)); s.acc('m1',6*M)
s.io('HMM_DMIRROR_SNAPSHOT','m1',6*M,1,('m3',0)); s.acc('m3',0)
s.e(type='read',path='/proc/p1/smaps')
# 2 two devices
s=Seq('dmirror-two-devices','two dmirror devices mirroring one process: each keeps its own device page table, munmap and mprotect invalidate both, RELEASE of one leaves the other'); seqs.append(s)
s.open('f1',0); s.open('f2',1); s.mm('m1',16*K); s.mm('m2',16*K); s.mm('m3',4*K)
s.acc('m1',0,'write',0x10); s.acc('m1',K,'write',0x11)
s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f1'); s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f2')
s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f1'); s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f2')
s.e(type='mprotect',pid='p1',map='m1',offset='0x0',length=hex(8*K),prot='r')
s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f1'); s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f2')
s.io('HMM_DMIRROR_WRITE','m1',8*K,2,('m2',0),fd='f2'); s.acc('m1',8*K)
s.io('HMM_DMIRROR_WRITE','m1',0,2,('m2',0),fd='f1')
s.io('HMM_DMIRROR_RELEASE','m1',0,1,fd='f2'); s.e(type='read',path='/proc/iomem')
s.io('HMM_DMIRROR_READ','m1',8*K,2,('m2',0),fd='f2')
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,4,('m3',0),fd='f2'); s.acc('m3',0)
s.e(type='close',pid='p1',fd='f1'); s.io('HMM_DMIRROR_READ','m1',0,4,('m2',0),fd='f2')
# 3 fork child fd
s=Seq('dmirror-fork-child','a forked child uses the inherited dmirror fd: the device mirrors the parent, the buffer is the child\'s (copy_to_user breaks COW in the child), the parent\'s exit leaves the file without an mm'); seqs.append(s)
s.open(); s.mm('m1',16*K); s.mm('m2',16*K)
s.acc('m1',0,'write',0xaa); s.acc('m2',0,'write',0xbb)
s.e(type='fork',pid='p1',child='p2')
s.acc('m1',0,'write',0xcc,pid='p2')
s.io('HMM_DMIRROR_READ','m1',0,2,('m2',0),pid='p2')
s.acc('m2',0,pid='p2'); s.acc('m2',0,pid='p1')
s.io('HMM_DMIRROR_WRITE','m1',K,1,('m2',0),pid='p2')
s.acc('m1',K,pid='p1'); s.acc('m1',K,pid='p2')
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,4,('m2',8*K),pid='p2'); s.acc('m2',8*K,pid='p2')
s.e(type='exit',pid='p1')
s.io('HMM_DMIRROR_READ','m1',0,1,('m2',0),pid='p2')
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,4,('m2',8*K),pid='p2')
s.io('HMM_DMIRROR_WRITE','m1',0,1,('m2',0),pid='p2')
# 4 errors
s=Seq('dmirror-errors','dmirror READ/WRITE/SNAPSHOT errors: a buffer that is not mapped or not writable (EFAULT, data already faulted in), a PROT_NONE range (EFAULT; SNAPSHOT 0xff), a range running into a hole'); seqs.append(s)
s.open(); s.mm('m1',16*K); s.mm('m2',16*K); s.mm('m3',4*K); s.mm('ro',16*K,prot='r'); s.mm('nn',16*K,prot='none')
s.io('HMM_DMIRROR_READ','m1',0,2,('m9',0))
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,2,('m3',0)); s.acc('m3',0)
s.io('HMM_DMIRROR_WRITE','m1',0,2,('m9',0))
s.io('HMM_DMIRROR_READ','m1',0,2,('ro',0))
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,2,('ro',0))
s.io('HMM_DMIRROR_WRITE','m1',0,2,('ro',0)); s.acc('m1',0)
s.io('HMM_DMIRROR_READ','nn',0,2,('m2',0))
s.io('HMM_DMIRROR_SNAPSHOT','nn',0,2,('m3',0)); s.acc('m3',0)
s.io('HMM_DMIRROR_WRITE','ro',0,1,('m2',0))
s.io('HMM_DMIRROR_READ','ro',0,1,('m2',0))
s.io('HMM_DMIRROR_READ','m1',12*K,8,('m2',0))
s.io('HMM_DMIRROR_SNAPSHOT','m3',0,4,('m2',0)); s.acc('m2',0)
# 5 dontneed and mremap
s=Seq('dmirror-dontneed-mremap','MADV_DONTNEED and a mremap onto a mapping of its own (MREMAP_FIXED, so the move does not depend on the layout) invalidate the device page table: the next READ faults again and sees zeroes or the moved pages'); seqs.append(s)
s.open(); s.mm('m1',16*K); s.mm('m2',16*K); s.mm('m3',4*K)
s.acc('m1',0,'write',0x5); s.acc('m1',K,'write',0x6)
s.io('HMM_DMIRROR_READ','m1',0,2,('m2',0)); s.acc('m2',0)
s.e(type='madvise',pid='p1',map='m1',offset='0x0',length=hex(K),advice='dontneed')
s.io('HMM_DMIRROR_READ','m1',0,2,('m2',0)); s.acc('m2',0); s.acc('m2',K)
s.mm('m4',16*K)
s.e(type='mremap',pid='p1',map='m1',offset='0x0',length=hex(16*K),newLength=hex(16*K),flags=['maymove','fixed'],addr={'map':'m4','offset':'0x0'})
s.io('HMM_DMIRROR_READ','m1',0,2,('m2',0)); s.acc('m2',K)
s.io('HMM_DMIRROR_SNAPSHOT','m1',0,8,('m3',0)); s.acc('m3',0)
s.io('HMM_DMIRROR_WRITE','m1',8*K,2,('m2',0)); s.acc('m1',8*K)
for s in seqs: s.write(); print(s.name, len(s.ev))
