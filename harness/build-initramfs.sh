#!/bin/bash
# Build the guest initramfs: busybox, the sysfs-op helper, harness/guest/init,
# ndctl with its shared libraries (for the pmem machine), and the dax / pmem
# modules of one kernel in dependency order.
#
#   bash harness/build-initramfs.sh OUT [MODULES_DIR]
#
# MODULES_DIR is a kernel's lib/modules/<release> directory (the one holding
# modules.dep; `make modules_install INSTALL_MOD_PATH=X` makes
# X/lib/modules/<release>). Without it the initramfs holds no modules: the
# kernel must have DAX, DEV_DAX, DEV_DAX_KMEM, DEV_DAX_HMEM (and for pmem
# LIBNVDIMM, BLK_DEV_PMEM, X86_PMEM_LEGACY, DEV_DAX_PMEM) built in.
# Needs harness/setup.sh to have installed the packages and built sysfs-op.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD="$ROOT/.cache/build"
out=${1:?usage: build-initramfs.sh OUT [MODULES_DIR]}
MD=${2:-}
log() { echo "[initramfs] $*" >&2; }

[[ -x /bin/busybox ]] || { log "/bin/busybox missing: run harness/setup.sh (busybox-static)"; exit 1; }
[[ -x "$BUILD/sysfs-op" ]] || { log "$BUILD/sysfs-op missing: run harness/setup.sh"; exit 1; }
if [[ -n "$MD" && ! -f "$MD/modules.dep" ]]; then
	if [[ -f "$MD/modules.order" ]] && command -v depmod >/dev/null; then
		rel=$(basename "$MD")
		base=$(cd "$MD/../../.." && pwd)
		log "running depmod -b $base $rel"
		depmod -b "$base" "$rel"
	else
		log "$MD has no modules.dep (give the lib/modules/<release> directory)"
		exit 1
	fi
fi

# Modules in load order; a module missing from the tree is reported (built in
# or not configured) and skipped.  Dependencies come from modules.dep.
WANT="libnvdimm nd_btt nd_pmem nd_e820 dax_pmem device_dax kmem dax_hmem"
R=$(mktemp -d "${TMPDIR:-/tmp}/memhp-initramfs.XXXXXX")
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,lib64,usr/bin,usr/lib}
cp /bin/busybox "$R/bin/busybox"
cp "$BUILD/sysfs-op" "$R/bin/sysfs-op"
if [[ -x "$BUILD/ddx" ]]; then cp "$BUILD/ddx" "$R/bin/ddx"; else log "$BUILD/ddx missing: logs with program events will not run (harness/setup.sh builds it)"; fi
cp "$HERE/guest/init" "$R/init"
chmod +x "$R/init"
: >"$R/etc/modules.order"
if [[ -n "$MD" ]]; then
	declare -A seen=()
	add_mod() { # $1 = path relative to $MD
		local rel=$1 dep
		[[ -n "${seen[$rel]:-}" ]] && return
		seen[$rel]=1
		for dep in $(awk -F': *' -v m="$rel" '$1 == m { print $2 }' "$MD/modules.dep"); do
			add_mod "$dep"
		done
		cp "$MD/$rel" "$R/lib/modules/"
		basename "$rel" >>"$R/etc/modules.order"
	}
	for m in $WANT; do
		rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); if (n == m) { print $1; exit } }' "$MD/modules.dep")
		if [[ -z "$rel" ]]; then
			if grep -qE "/$m\.ko" "$MD/modules.builtin" 2>/dev/null; then
				log "module $m: built in"
			else
				log "module $m: not found (not configured?)"
			fi
			continue
		fi
		add_mod "$rel"
	done
	# Modules /init loads only on demand, with parameters (not in modules.order):
	# brd, the ramdisks swapon/swapoff events use (RAMDISKS= in /run.conf).
	mkdir -p "$R/lib/modules/extra"
	for m in brd; do
		rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); if (n == m) { print $1; exit } }' "$MD/modules.dep")
		if [[ -n "$rel" ]]; then cp "$MD/$rel" "$R/lib/modules/extra/"; else log "module $m: not a module here (built in or not configured)"; fi
	done
	for f in "$R"/lib/modules/extra/*.ko.xz; do [[ -e "$f" ]] && xz -d "$f"; done
	for f in "$R"/lib/modules/extra/*.ko.zst; do [[ -e "$f" ]] && zstd -q -d --rm "$f"; done
	for f in "$R"/lib/modules/extra/*.ko.gz; do [[ -e "$f" ]] && gzip -d "$f"; done
	# busybox insmod wants plain .ko files
	for f in "$R"/lib/modules/*.ko.xz; do [[ -e "$f" ]] && xz -d "$f"; done
	for f in "$R"/lib/modules/*.ko.zst; do [[ -e "$f" ]] && zstd -q -d --rm "$f"; done
	for f in "$R"/lib/modules/*.ko.gz; do [[ -e "$f" ]] && gzip -d "$f"; done
	sed -i 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$R/etc/modules.order"
	log "modules: $(tr '\n' ' ' <"$R/etc/modules.order")"
fi
# ndctl (dynamically linked) with its libraries, for the pmem machine
if [[ -x /usr/bin/ndctl ]]; then
	cp /usr/bin/ndctl "$R/usr/bin/ndctl"
	for lib in $(ldd /usr/bin/ndctl | awk '/=>/ { print $3 } /^\s*\/lib/ { print $1 }'); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
	# the dynamic loader path is absolute in the binary
	interp=$(readelf -l /usr/bin/ndctl | sed -n 's/.*interpreter: \(.*\)]/\1/p')
	mkdir -p "$R$(dirname "$interp")"
	cp -L "$interp" "$R$interp"
else
	log "ndctl missing: the pmem machine will not get its devdax namespace"
fi
mkdir -p "$(dirname "$out")"
(cd "$R" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$out.tmp"
mv "$out.tmp" "$out"
log "$out: $(du -h "$out" | cut -f1)"
