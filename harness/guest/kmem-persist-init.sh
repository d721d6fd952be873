#!/bin/busybox sh
# /init of the kmem-persist guest (harness/run-kmem-persist.sh): runs one
# fixed scenario of the persistence RFC on the hmem machine (dax0.0 = node 1's
# GiB, Soft Reserved, backed on the host by a shared file that outlives the
# guest) and prints every step and its result on the console:
#   @@KP STEP <n> <what>
#   @@KP   <output line>           (the command's own output, rc = exit status)
#   @@KP   dmesg: <kernel line>    (dmesg -c after each step)
# /run.conf sets SCENARIO (default | blk-format | blk-reboot | movable | none |
# two-devices | bad-entry | bad-counts | bad-type).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
SCENARIO=default
[ -f /run.conf ] && . /run.conf
IO=/bin/kmem-persist-io
DAX=/sys/bus/dax
N1=/sys/devices/system/node/node1
DEV=/dev/kmem1
D=dax0.0
# the device's pages for the census: dax0.0 = 0x180000000 + 1 GiB (two-devices: 512 MiB)
CPFN=0x180000
CNT=262144
n=0

say() { echo "@@KP $*"; }
step() { n=$((n + 1)); say "STEP $n $*"; }
out() { while IFS= read -r l; do say "  $l"; done; }
klog() { dmesg -c 2>/dev/null | while IFS= read -r l; do say "  dmesg: $l"; done; }
run() { # a command: its output lines, then rc
	"$@" >/tmp/out 2>&1
	rc=$?
	out </tmp/out
	say "  rc=$rc"
	klog
}
sysw() { run $IO sysw "$1" "$2"; }
cat1() { # a file's content, one line per line, or its read error
	if [ -e "$1" ]; then
		v=$(cat "$1" 2>&1) || v="(read failed: $v)"
		echo "$v" | while IFS= read -r l; do say "  $1: $l"; done
	else
		say "  $1: (absent)"
	fi
}
mem() { # MemTotal/MemFree, system and node 1
	say "  /proc/meminfo: $(grep -E '^MemTotal:' /proc/meminfo | tr -s ' ') $(grep -E '^MemFree:' /proc/meminfo | tr -s ' ')"
	if [ -f $N1/meminfo ]; then
		say "  node1/meminfo: $(grep -E 'MemTotal:' $N1/meminfo | tr -s ' ') $(grep -E 'MemFree:' $N1/meminfo | tr -s ' ') $(grep -E 'MemUsed:' $N1/meminfo | tr -s ' ')"
	else
		say "  node1/meminfo: (absent)"
	fi
	[ -f $N1/meminfo ] && census
}
census() { run $IO census $CPFN $CNT; }
blocks() { # node 1's memory blocks: state and zone
	l=
	for b in $N1/memory*; do
		[ -e "$b" ] || continue
		l="$l ${b##*/}=$(cat $b/state)/$(cat $b/valid_zones | tr ' ' ',')"
	done
	say "  node1 blocks:${l:- none}"
}
daxinfo() {
	d=$DAX/devices/$D
	say "  $D: driver=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null) target_node=$(cat $d/target_node) size=$(cat $d/size) resource=$(cat $d/resource 2>/dev/null)"
}
disk() {
	if [ -e /sys/block/kmem1 ]; then
		for f in size queue/logical_block_size queue/physical_block_size queue/discard_granularity queue/discard_max_bytes queue/write_zeroes_max_bytes queue/rotational ro; do
			say "  /sys/block/kmem1/$f: $(cat /sys/block/kmem1/$f)"
		done
		run $IO size $DEV
	else
		say "  /sys/block: $(ls /sys/block | tr '\n' ' ')(no kmem1)"
	fi
}
memfree1() { say "  node1 $(grep -E 'MemFree:' $N1/meminfo | tr -s ' ' | sed 's/^Node 1 //')"; census; }
params() {
	cat1 /sys/module/kmem/parameters/persist_format_type
	cat1 /sys/module/kmem/parameters/persist_format_force
}
bind_kmem() { # unbind device_dax, add the id to kmem (which attaches)
	step "unbind $D from device_dax"
	sysw $DAX/drivers/device_dax/unbind $D
	step "bind kmem: new_id $D (the write attaches; driver_attach ignores probe errors)"
	sysw $DAX/drivers/kmem/new_id $D
	daxinfo
	mem
	blocks
	disk
}
unbind_kmem() {
	step "unbind $D from kmem"
	sysw $DAX/drivers/kmem/unbind $D
	daxinfo
	mem
	blocks
	disk
}
rebind_kmem() {
	step "bind kmem again: bind $D (the id is still in kmem's list, so bind returns the probe's error)"
	sysw $DAX/drivers/kmem/bind $D
	daxinfo
	mem
}
wr() { run $IO write $DEV "$1" "$2"; memfree1; }
rd() { run $IO read $DEV "$1"; }

oops_unbind() {
	step "unbind kmem in D1 (persist_ops == NULL): expected NULL dereference; run in a child process"
	$IO sysw $DAX/drivers/kmem/unbind dax0.0 >/tmp/out 2>&1 &
	pid=$!
	sleep 5
	if kill -0 $pid 2>/dev/null; then say "  child $pid still running after 5 s"; else wait $pid; say "  child exit status $?"; fi
	out </tmp/out
	klog
	step "end: init exits (poweroff would wait forever in device_shutdown for dax0.0's device lock, which the killed unbind still holds; the panic 'Attempted to kill init!' with panic=-1 restarts at once without device_shutdown, and -no-reboot ends QEMU)"
	say "END"
	sync
	exit 0
}

say "BEGIN scenario=$SCENARIO kernel=$(uname -r)"
say "cmdline: $(cat /proc/cmdline)"
klog >/dev/null
step "module parameters (defaults unless the scenario changes them)"
params
step "before bind"
[ $SCENARIO = two-devices ] && { CNT=131072; say "  dax devices: $(ls $DAX/devices | tr '\n' ' ')"; D=dax1.0; daxinfo; D=dax0.0; }
daxinfo
mem
cat1 /sys/devices/system/node/has_memory
cat1 /sys/devices/system/node/has_cpu
cat1 /sys/devices/system/node/node1/cpulist
cat1 /sys/devices/system/memory/auto_online_blocks

case $SCENARIO in
default)
	bind_kmem
	oops_unbind
	;;
bad-entry | bad-counts | bad-type)
	step "bind kmem on a BLK file the host altered ($SCENARIO), in a child process (a BUG kills it)"
	sysw $DAX/drivers/device_dax/unbind dax0.0
	$IO sysw $DAX/drivers/kmem/new_id dax0.0 >/tmp/out 2>&1 &
	pid=$!
	sleep 8
	if kill -0 $pid 2>/dev/null; then say "  child $pid still running after 8 s"; else wait $pid; say "  child exit status $?"; fi
	out </tmp/out
	klog
	# no daxinfo here: dax0.0's size attribute takes the device lock, which a
	# BUG inside the probe leaves held (the read would never return)
	say "  dax0.0: driver=$(basename "$(readlink $DAX/devices/dax0.0/driver 2>/dev/null)" 2>/dev/null)"
	mem
	blocks
	disk
	if [ -e /sys/block/kmem1 ]; then
		for b in 0 1000 261631 3; do rd $b; done
	fi
	[ "$(basename "$(readlink $DAX/devices/dax0.0/driver 2>/dev/null)" 2>/dev/null)" = kmem ] && [ ! -e /sys/block/kmem1 ] && oops_unbind
	step "end: init exits (a BUG or oops may hold dax0.0's device lock: no poweroff)"
	say "END"
	sync
	exit 0
	;;
blk-format | movable)
	step "set persist_format_type=1 (BLK)"
	sysw /sys/module/kmem/parameters/persist_format_type 1
	params
	bind_kmem
	step "writes (O_DIRECT pwrite of one 4 KiB block each), node 1 MemFree after each"
	memfree1
	wr 0 first
	wr 1 second
	wr 7 seventh
	wr 1000 thousand
	wr 261631 last
	step "write one block past the end (blk 261632)"
	wr 261632 past
	step "reads (O_DIRECT)"
	for b in 0 1 7 1000 261631 5; do rd $b; done
	step "BLKDISCARD blk 1, read it, node 1 MemFree"
	run $IO discard $DEV 1
	rd 1
	memfree1
	step "BLKZEROOUT blk 7 (REQ_OP_WRITE_ZEROES, the driver frees the page), read it, node 1 MemFree"
	run $IO zeroout $DEV 7
	rd 7
	memfree1
	step "discard an unmapped block (blk 5), node 1 MemFree"
	run $IO discard $DEV 5
	memfree1
	step "final state"
	mem
	blocks
	;;
blk-reboot)
	bind_kmem
	step "reads after the reboot (O_DIRECT)"
	for b in 0 1 7 1000 261631 5; do rd $b; done
	memfree1
	step "write a fresh block (blk 2)"
	wr 2 after-reboot
	rd 2
	unbind_kmem
	rebind_kmem
	;;
none)
	step "set persist_format_type=0 (NONE)"
	sysw /sys/module/kmem/parameters/persist_format_type 0
	params
	bind_kmem
	unbind_kmem
	rebind_kmem
	;;
two-devices)
	step "set persist_format_type=0 (NONE)"
	sysw /sys/module/kmem/parameters/persist_format_type 0
	bind_kmem
	D=dax1.0
	step "second device of node 1 (dax1.0), after dax0.0 is kmem"
	daxinfo
	bind_kmem
	step "bind dax1.0 (its id is now in kmem's list, so bind returns the probe's error)"
	sysw $DAX/drivers/kmem/bind dax1.0
	daxinfo
	D=dax0.0
	daxinfo
	mem
	;;
esac
step "end"
klog
say "END"
sync
poweroff -f
