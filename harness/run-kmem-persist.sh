#!/usr/bin/env bash
# Run the persistence RFC ("Allow persistent data on DAX device being used as
# KMEM", Srinivas Aji 2022, never merged; reconstructed and ported to 6.1 in
# harness/kernels/kmem-persist/) on a real kernel under QEMU, one fixed
# scenario per boot, and keep every console transcript.
#
#   bash harness/run-kmem-persist.sh [--out DIR] [SCENARIO ...]
#
# SCENARIO (default: all, in this order; blk-reboot needs blk-format's file):
#   default     persist_format_type left at -1: bind kmem (everything held),
#               then unbind kmem as the last step (the NULL dereference)
#   blk-format  persist_format_type=1: format BLK, /dev/kmem1, writes, reads,
#               BLKDISCARD, BLKZEROOUT; power off
#   blk-reboot  the same backing file, parameter back at -1: bind kmem again
#               (superblock found), read the blocks back, then unbind kmem and
#               bind again (node 1 now has memory)
#   movable     memhp_default_state=online_movable, persist_format_type=1:
#               writes to fresh blocks
#   none        persist_format_type=0 (NONE): bind, unbind, bind again
#   two-devices node 1's GiB as two Soft Reserved ranges with a reserved gap
#               (memmap=512M%0x180000000+0xefffffff memmap=128M$0x1a0000000
#               memmap=384M%0x1a8000000+0xefffffff): dax0.0 and dax1.0 on node 1;
#               dax0.0 to kmem (NONE), then dax1.0 to kmem (node 1 now has memory)
#   bad-entry   a copy of blk-format/blk-reboot's file whose index entry of
#               blk 3 the host sets to page 5 (an index page, < 1 + n): bind
#   bad-counts  a copy with num_index_entries - 1 in the superblock: bind,
#               then unbind (the probe failed, so persist_ops is NULL)
#   bad-type    a copy with superblock type 2 (no such type): bind, unbind
#   (the bad-* scenarios run only when named: they need blk.img)
#
# The machine is the harness's hmem machine (src/realkernel/machine.ts): 6 GiB
# in two nodes, node 1's GiB at 0x180000000 made Soft Reserved by
# memmap=1G%0x180000000+0xefffffff (dax_hmem -> dax0.0, target node 1), except
# that node 1's memory is a memory-backend-file with share=on: its bytes are
# a file on the host that outlives the guest (a power-off and a new QEMU run
# = the reboot).  Backing files live in $MEMHP_KP_DIR (default
# .cache/kmem-persist-run/); each scenario except blk-reboot starts from a
# fresh, all-zero file.  After each run the host prints the file's page 0
# (the RFC superblock) and the non-zero index entries (BLK) into the
# transcript.
# Results: DIR (default harness/transcripts/kmem-persist)/SCENARIO.console.log
# QEMU: -accel tcg -machine pc -m 6G -smp 2 -cpu max, under nice 19, one guest at a time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
outdir=$here/transcripts/kmem-persist
scen=()
while (($#)); do
	case $1 in
	--out) outdir=$2; shift 2 ;;
	default | blk-format | blk-reboot | movable | none | two-devices | bad-entry | bad-counts | bad-type) scen+=("$1"); shift ;;
	*) echo "usage: run-kmem-persist.sh [--out DIR] [default|blk-format|blk-reboot|movable|none|two-devices|bad-entry|bad-counts|bad-type ...]" >&2; exit 2 ;;
	esac
done
((${#scen[@]})) || scen=(default blk-format blk-reboot movable none two-devices)
log() { echo "run-kmem-persist: $*" >&2; }

kdir=$(bash "$here/build-kernel.sh" kmem-persist | tail -1)
cache=$root/.cache/build/custom/kmem-persist-guest
mkdir -p "$cache"
rundir=${MEMHP_KP_DIR:-$root/.cache/kmem-persist-run}
mkdir -p "$rundir"

# --- the I/O helper (static) and the base initramfs
bin=$cache/kmem-persist-io
if [[ ! -x $bin || $here/guest/kmem-persist-io.c -nt $bin ]]; then
	gcc -Wall -O2 -static -o "$bin.tmp" "$here/guest/kmem-persist-io.c"
	mv "$bin.tmp" "$bin"
fi
ikey=$(cat "$bin" /bin/busybox "$here/guest/kmem-persist-init.sh" | sha256sum | cut -c1-12)
initrd=$cache/initramfs-$ikey.cpio.gz
if [[ ! -f $initrd ]]; then
	R=$(mktemp -d "${TMPDIR:-/tmp}/memhp-kp-initramfs.XXXXXX")
	mkdir -p "$R"/{bin,dev,proc,sys,tmp}
	cp /bin/busybox "$R/bin/busybox"
	cp "$bin" "$R/bin/kmem-persist-io"
	cp "$here/guest/kmem-persist-init.sh" "$R/init"
	chmod +x "$R/init"
	(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$R"
fi

# --- the host's view of a backing file: page 0 and the BLK index
dumpfile() {
	python3 - "$1" <<'EOF'
import struct, sys
f = open(sys.argv[1], 'rb')
p0 = f.read(4096)
magic, typ = struct.unpack_from('<QI', p0, 0)
print(f"host: {sys.argv[1]}: page 0 bytes 0-27: {p0[:28].hex(' ')}")
if magic != 0x4b4d454d50455253:
    print(f"host: no KMEMPERS magic (magic {magic:#x})")
    sys.exit(0)
print(f"host: superblock magic {magic:#x} ('{p0[:8][::-1].decode()}') type {typ}")
if typ != 1:
    sys.exit(0)
n, e = struct.unpack_from('<QQ', p0, 12)
print(f"host: BLK num_index_pages {n} num_index_entries {e}")
f.seek(4096)
idx = f.read(4096 * n)
mapped = [(i, v) for i, (v,) in enumerate(struct.iter_unpack('<Q', idx)) if v]
print(f"host: {len(mapped)} mapped index entries: " + ', '.join(f'blk {i} -> page {v} (%64={v % 64})' for i, v in mapped[:40]))
for i, v in mapped[:40]:
    f.seek(v * 4096)
    d = f.read(4096)
    print(f"host: page {v} (blk {i}) starts {d[:32]!r}")
EOF
}

mkdir -p "$outdir"
qemu=${MEMHP_QEMU:-qemu-system-x86_64}
for s in "${scen[@]}"; do
	case $s in
	default) img=$rundir/default.img ;;
	blk-format | blk-reboot) img=$rundir/blk.img ;;
	movable) img=$rundir/movable.img ;;
	none) img=$rundir/none.img ;;
	two-devices) img=$rundir/two-devices.img ;;
	bad-*) img=$rundir/$s.img ;;
	esac
	if [[ $s == bad-* ]]; then
		[[ -f $rundir/blk.img ]] || { log "$s needs blk-format's $rundir/blk.img"; exit 1; }
		cp --sparse=always "$rundir/blk.img" "$img"
		python3 - "$img" "$s" <<'EOF'
import struct, sys
path, s = sys.argv[1], sys.argv[2]
with open(path, 'r+b') as f:
    if s == 'bad-entry':
        f.seek(4096 + 3 * 8); f.write(struct.pack('<Q', 5))
    elif s == 'bad-counts':
        f.seek(20); e, = struct.unpack('<Q', f.read(8)); f.seek(20); f.write(struct.pack('<Q', e - 1))
    elif s == 'bad-type':
        f.seek(8); f.write(struct.pack('<I', 2))
EOF
	elif [[ $s == blk-reboot ]]; then
		[[ -f $img ]] || { log "blk-reboot needs blk-format's $img"; exit 1; }
	else
		rm -f "$img"
		truncate -s 1G "$img"
	fi
	# loglevel=1: kernel messages reach the transcript through dmesg -c after each step, not in the middle of lines
	append="console=ttyS0,115200 nokaslr loglevel=1 panic=-1"
	if [[ $s == two-devices ]]; then append+=' memmap=512M%0x180000000+0xefffffff memmap=128M$0x1a0000000 memmap=384M%0x1a8000000+0xefffffff'
	else append+=" memmap=1G%0x180000000+0xefffffff"; fi
	if [[ $s == movable ]]; then append+=" memhp_default_state=online_movable"; else append+=" memhp_default_state=offline"; fi
	R=$(mktemp -d "${TMPDIR:-/tmp}/memhp-kp-conf.XXXXXX")
	echo "SCENARIO=$s" >"$R/run.conf"
	(cd "$R" && echo run.conf | cpio -o -H newc --quiet | gzip -9) >"$R/conf.cpio.gz"
	cat "$initrd" "$R/conf.cpio.gz" >"$R/initrd.cpio.gz"
	con=$outdir/$s.console.log
	cmd=(-accel tcg -machine pc -m 6G -smp 2 -cpu max
		-object memory-backend-ram,id=m0,size=5G
		-object "memory-backend-file,id=m1,size=1G,share=on,mem-path=$img"
		-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1
		-nodefaults -display none -monitor none -no-reboot -serial "file:$con.raw"
		-kernel "$kdir/bzImage" -initrd "$R/initrd.cpio.gz" -append "$append")
	log "$s: booting $(cat "$kdir/kernel.release") (backing file $img)"
	t0=$(date +%s)
	{
		echo "# memhp run-kmem-persist.sh scenario $s, $(date -u +%Y-%m-%dT%H:%M:%SZ), kernel $(cat "$kdir/kernel.release") ($(sed -n 's/^key //p' "$kdir/BUILD-INFO"))"
		echo "# qemu-system-x86_64 ${cmd[*]//$root\//}"
		echo "# the backing file before the run, as the host sees it:"
		dumpfile "$img" | sed 's/^/# /'
	} >"$con"
	rm -f "$con.raw"
	st=0
	timeout 900 nice -n 19 "$qemu" "${cmd[@]}" </dev/null >"$R/qemu.out" 2>&1 || st=$?
	tr -d '\r' <"$con.raw" >>"$con"
	rm -f "$con.raw"
	echo "# QEMU exit status $st$( ((st == 124)) && echo ' (timeout 900 s)') $(tr '\n' ' ' <"$R/qemu.out")" >>"$con"
	t1=$(date +%s)
	{
		echo "# QEMU exited after $((t1 - t0)) s; the backing file as the host sees it now:"
		dumpfile "$img" | sed 's/^/# /'
	} >>"$con"
	rm -rf "$R"
	log "$s: $((t1 - t0)) s -> $con ($(grep -c '^@@KP STEP' "$con") steps)"
done
