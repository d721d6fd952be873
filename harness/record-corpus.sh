#!/bin/bash
# (Re)record the committed corpus of real-kernel traces, test/traces/{hmem,pmem}/.
#
#   bash harness/record-corpus.sh [--generated] [NAME ...] [-- memhp kernel options]
#
# Each scripted sequence harness/sequences/MACHINE/NAME.jsonl (operations and
# comments only) gets the machine's boot event (`memhp kernel machine`) and is
# recorded to test/traces/MACHINE/NAME.jsonl. With --generated, the generated
# traces test/traces/*/gen-*.jsonl are re-recorded in place too (a recorded log
# is a valid input: its results are ignored). NAMEs restrict the run to those
# sequences. Options after "--" go to memhp kernel (e.g. --kernel, --modules).
# One guest at a time; about 5 s per hmem sequence and 13 s per pmem one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MEMHP=(node "$ROOT/bin/memhp.js")
generated=0
names=()
extra=()
while (($#)); do
	case $1 in
	--generated) generated=1 ;;
	--) shift; extra=("$@"); break ;;
	*) names+=("$1") ;;
	esac
	shift
done
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
	mkdir -p "$ROOT/test/traces/$machine"
	boot=""
	for seq in "$HERE/sequences/$machine"/*.jsonl; do
		name=$(basename "$seq" .jsonl)
		want "$name" || continue
		if [[ -z $boot ]]; then
			boot="$tmp/$machine.boot.jsonl"
			"${MEMHP[@]}" kernel machine "$machine" ${extra[@]+"${extra[@]}"} >"$boot"
		fi
		cat "$boot" "$seq" >"$tmp/$name.jsonl"
		"${MEMHP[@]}" kernel record "$tmp/$name.jsonl" --out "$ROOT/test/traces/$machine/$name.jsonl" --machine "$machine" ${extra[@]+"${extra[@]}"} || rc=1
	done
	if ((generated)); then
		for f in "$ROOT/test/traces/$machine"/gen-*.jsonl; do
			[[ -e $f ]] || continue
			want "$(basename "$f" .jsonl)" || continue
			"${MEMHP[@]}" kernel record "$f" --out "$f" --machine "$machine" ${extra[@]+"${extra[@]}"} || rc=1
		done
	fi
done
exit $rc
