#!/usr/bin/env bash
# Run the kernel's own HMM selftest (tools/testing/selftests/vm/hmm-tests.c)
# in the custom "hmm" kernel (harness/build-kernel.sh hmm: DEVICE_PRIVATE and
# TEST_HMM built in), once per transparent-hugepage setting.
#
#   bash harness/run-hmm-tests.sh [--out DIR] [THP ...]     # THP: always madvise (default both)
#
# hmm-tests is built statically on the host from the same Debian source tree,
# with the selftest Makefile's flags (cached next to the kernel); the guest is a busybox initramfs whose /init
# (harness/guest/hmm-init) mounts proc/sys/devtmpfs/tmpfs/debugfs, reserves 4
# huge pages and runs the binary from /tmp.  The THP setting is the kernel's
# own `transparent_hugepage=` argument.  The TAP output travels on the second
# serial port alone; the console (kernel messages, /proc/iomem, dmesg) is kept
# beside it.  Results go to DIR (default harness/transcripts/hmm):
#   thp-THP.tap           hmm-tests' output (TAP), with runs of one repeated line cut to
#                         the line and a "# memhp: ... repeated N more times" comment
#                         (the raw output: .cache/build/custom/hmm-tests-VERSION/runs/)
#   thp-THP.console.log   the guest's console
# QEMU: -accel tcg -machine pc -m 2G -smp 2 (the conditions of
# KERNEL-FACTS-HMM §2.4; MEMHP_HMM_SMP changes -smp), under nice 19; MEMHP_QEMU_CPU picks
# a -cpu (QEMU's default if unset).
# Exit status: 0 when every run ended with hmm-tests' own exit status 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
outdir=$here/transcripts/hmm
modes=()
while (($#)); do
	case $1 in
	--out) outdir=$2; shift 2 ;;
	always | madvise | never) modes+=("$1"); shift ;;
	*) echo "usage: run-hmm-tests.sh [--out DIR] [always|madvise|never ...]" >&2; exit 2 ;;
	esac
done
((${#modes[@]})) || modes=(always madvise)
log() { echo "run-hmm-tests: $*" >&2; }

need=()
for p in qemu-system-x86 busybox-static cpio gcc libc6-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

kdir=$(bash "$here/build-kernel.sh" hmm | tail -1)
src=$root/.cache/build/custom/src/linux-source-6.1
srcver=$(cat "$src/.memhp-srcver")
cache=$root/.cache/build/custom/hmm-tests-$srcver
mkdir -p "$cache"

# --- the selftest binary, static, from the same source
# The flags of tools/testing/selftests/vm/Makefile (-Wall, no -O: the 6.1
# harness keeps the fixture in a local that setjmp/longjmp must not clobber;
# at -O2 a failing test's teardown closes a garbage fd and loops until the
# 30 s timeout), plus -static and the source root for <lib/test_hmm_uapi.h>.
bin=$cache/hmm-tests
sd=$src/tools/testing/selftests
# Compiled in its directory, so that the failure lines name hmm-tests.c alone.
cflags="-Wall -static -I .. -I ../../../.."
if [[ ! -x $bin || $(cat "$bin.cflags" 2>/dev/null) != "$cflags" ]]; then
	log "gcc $cflags hmm-tests.c ($srcver, in $sd/vm)"
	# shellcheck disable=SC2086
	(cd "$sd/vm" && gcc $cflags -o "$bin.tmp" hmm-tests.c -lrt -lpthread)
	mv "$bin.tmp" "$bin"
	echo "$cflags" >"$bin.cflags"
fi

# --- the initramfs (rebuilt when the binary, busybox or the init change)
ikey=$(cat "$bin" /bin/busybox "$here/guest/hmm-init" | sha256sum | cut -c1-12)
initrd=$cache/initramfs-$ikey.cpio.gz
if [[ ! -f $initrd ]]; then
	R=$(mktemp -d "${TMPDIR:-/tmp}/memhp-hmm-initramfs.XXXXXX")
	trap 'rm -rf "$R"' EXIT
	mkdir -p "$R"/{bin,dev,proc,sys,tmp}
	cp /bin/busybox "$R/bin/busybox"
	cp "$bin" "$R/hmm-tests"
	cp "$here/guest/hmm-init" "$R/init"
	chmod +x "$R/init"
	(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi

mkdir -p "$outdir"
qemu=${MEMHP_QEMU:-qemu-system-x86_64}
status=0
for thp in "${modes[@]}"; do
	tap=$outdir/thp-$thp.tap
	con=$outdir/thp-$thp.console.log
	rm -f "$tap.tmp"
	log "booting $(cat "$kdir/kernel.release") with transparent_hugepage=$thp"
	t0=$(date +%s)
	timeout 900 nice -n 19 "$qemu" -accel tcg -machine pc -m 2G -smp "${MEMHP_HMM_SMP:-2}" ${MEMHP_QEMU_CPU:+-cpu "$MEMHP_QEMU_CPU"} \
		-nodefaults -display none -monitor none -no-reboot \
		-serial stdio -serial "file:$tap.tmp" \
		-kernel "$kdir/bzImage" -initrd "$initrd" \
		-append "console=ttyS0,115200 panic=1 loglevel=4 transparent_hugepage=$thp" \
		</dev/null >"$con" 2>&1 || log "QEMU exited with $? (timeout 900 s)"
	t1=$(date +%s)
	# The raw output stays in the cache; the committed one has runs of one
	# repeated line (a failing ASSERT in the 6.1 harness's teardown loops until
	# the test's timeout: megabytes) cut to the line and a count.
	mkdir -p "$cache/runs"
	tr -d '\r' <"$tap.tmp" >"$cache/runs/thp-$thp.tap"
	rm -f "$tap.tmp"
	awk 'function flush() { if (n > 1) printf "# memhp: the line above repeated %d more times\n", n - 1 }
		$0 == prev { n++; next } { flush(); print; prev = $0; n = 1 } END { flush() }' "$cache/runs/thp-$thp.tap" >"$tap"
	rc=$(sed -n 's/^# memhp: hmm-tests exit status \([0-9]*\)$/\1/p' "$tap")
	summary=$(grep -E '^# (PASSED|FAILED|Totals)' "$tap" | tr '\n' ' ')
	log "thp=$thp: ${summary:-no summary} exit ${rc:-?} ($((t1 - t0)) s) -> $tap"
	[[ $rc == 0 ]] || status=1
done
exit $status
