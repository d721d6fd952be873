#!/bin/bash
# Run recorded sequences on a machine and keep their transcripts.
#   bash harness/run-sequences.sh hmem [harness/sequences/NAME.jsonl ...]
# Without files: every harness/sequences/*.jsonl (pmem-*.jsonl only for pmem,
# the others only for hmem).  Transcripts: harness/transcripts/<machine>/NAME.*
#   .ops.jsonl (input) .results.jsonl (recorded memhp log) .boot.json
#   .dmesg.txt (boot kernel log) [.dumps.json]
# Console logs stay in .cache/runs/.  One QEMU at a time.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
machine=${1:?usage: run-sequences.sh hmem|pmem [files...]}
shift
if (($#)); then files=("$@"); else
	if [[ $machine == pmem ]]; then files=("$HERE"/sequences/pmem-*.jsonl)
	else files=($(ls "$HERE"/sequences/*.jsonl | grep -v '/pmem-')); fi
fi
T="$HERE/transcripts/$machine"
mkdir -p "$T" "$ROOT/.cache/runs/$machine"
rc=0
for f in "${files[@]}"; do
	name=$(basename "$f" .jsonl)
	out="$ROOT/.cache/runs/$machine/$name"
	rm -f "$out".*
	node "$HERE/run-guest.mjs" "$machine" "$f" --out "$out" --quiet || rc=1
	cp "$f" "$T/$name.ops.jsonl"
	for ext in results.jsonl boot.json dmesg.txt dumps.json; do
		[[ -f "$out.$ext" ]] && cp "$out.$ext" "$T/$name.$ext"
	done
	[[ -f "$out.dumps.json" ]] || rm -f "$T/$name.dumps.json"
done
exit $rc
