#!/bin/bash
# (Re)record the committed corpus of real-kernel traces of one harness kernel:
# test/traces/{hmem,pmem}/ (6.1) or test/traces-6.12/{hmem,pmem}/ (6.12).
#
#   bash harness/record-corpus.sh [--kernel-version 6.1|6.12] [--generated] [NAME ...] [-- memhp kernel options]
#
# Each scripted sequence harness/sequences/MACHINE/NAME.jsonl (operations and
# comments only) gets the machine's boot event (`memhp kernel machine`) and is
# recorded to TRACES/MACHINE/NAME.jsonl. With --generated, the generated
# traces TRACES/*/gen-*.jsonl are re-recorded in place too (a recorded log
# is a valid input: its results are ignored). --kernel-version (default 6.1)
# picks harness/setup.sh's Debian kernel and the corpus directory. NAMEs restrict the run to those
# sequences. Options after "--" go to memhp kernel (e.g. --kernel, --modules).
# On 6.12 a sequence with program events (log format 2) on a machine whose
# dax0.0 boots on kmem (hmem: v6.3 dax_bus_match by type) starts with
# harness/sequences/prelude-6.12-MACHINE.jsonl, which hands the device to
# device_dax as 6.1 boots it.
# One guest at a time; about 5 s per hmem sequence and 13 s per pmem one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MEMHP=(node "$ROOT/bin/memhp.js")
generated=0
kv=6.1
names=()
extra=()
while (($#)); do
	case $1 in
	--generated) generated=1 ;;
	--kernel-version) shift; kv=${1:?--kernel-version needs 6.1 or 6.12} ;;
	--) shift; extra=("$@"); break ;;
	*) names+=("$1") ;;
	esac
	shift
done
case $kv in
6.1) TRACES="$ROOT/test/traces" ;;
6.12) TRACES="$ROOT/test/traces-6.12" ;;
*) echo "record-corpus: --kernel-version: expected 6.1 or 6.12, got $kv" >&2; exit 2 ;;
esac
# Your own --kernel / --modules (after --) replace the Debian kernel; the corpus directory still follows --kernel-version.
case " ${extra[*]-} " in
*" --kernel "* | *" --modules "*) ;;
*) extra=(--kernel-version "$kv" ${extra[@]+"${extra[@]}"}) ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memhp-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
want() { # $1 = name
	((${#names[@]} == 0)) && return 0
	local n
	for n in "${names[@]}"; do [[ $n == "$1" ]] && return 0; done
	return 1
}
rc=0
for machine in hmem pmem; do
	mkdir -p "$TRACES/$machine"
	boot=""
	for seq in "$HERE/sequences/$machine"/*.jsonl; do
		name=$(basename "$seq" .jsonl)
		want "$name" || continue
		if [[ -z $boot ]]; then
			boot="$tmp/$machine.boot.jsonl"
			"${MEMHP[@]}" kernel machine "$machine" ${extra[@]+"${extra[@]}"} >"$boot"
		fi
		prelude=/dev/null
		if [[ $kv == 6.12 && -e "$HERE/sequences/prelude-6.12-$machine.jsonl" ]] && grep -q '"pid"' "$seq"; then
			prelude="$HERE/sequences/prelude-6.12-$machine.jsonl"
		fi
		cat "$boot" "$prelude" "$seq" >"$tmp/$name.jsonl"
		"${MEMHP[@]}" kernel record "$tmp/$name.jsonl" --out "$TRACES/$machine/$name.jsonl" --machine "$machine" ${extra[@]+"${extra[@]}"} || rc=1
	done
	if ((generated)); then
		for f in "$TRACES/$machine"/gen-*.jsonl; do
			[[ -e $f ]] || continue
			want "$(basename "$f" .jsonl)" || continue
			"${MEMHP[@]}" kernel record "$f" --out "$f" --machine "$machine" ${extra[@]+"${extra[@]}"} || rc=1
		done
	fi
done
exit $rc
