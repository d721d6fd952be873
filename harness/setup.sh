#!/bin/bash
# memhp QEMU harness: one-time (idempotent) setup.
#
#   sudo bash harness/setup.sh          (as root; needs Debian's apt sources)
#
# 1. apt-get installs qemu-system-x86, busybox-static, cpio, kmod, gcc (and
#    ndctl, only to copy it into the pmem guest);
# 2. downloads the Debian cloud kernel .deb (linux-image-cloud-amd64's
#    versioned dependency) into .cache/debs and unpacks it into .cache/kernel
#    (never installed on the host), runs depmod on the unpacked tree;
# 3. builds the static guest helper .cache/build/sysfs-op;
# 4. builds .cache/build/initramfs.cpio.gz (busybox, modules, helper, /init,
#    ndctl + its shared libraries).
#
# Environment: MEMHP_KERNEL_PKG=linux-image-6.1.0-XX-cloud-amd64 pins the
# kernel package (default: whatever linux-image-cloud-amd64 depends on now).
# FORCE=1 rebuilds the helper and the initramfs even if they are up to date.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE="$ROOT/.cache"
BUILD="$CACHE/build"
mkdir -p "$CACHE/debs" "$BUILD"

log() { echo "[setup] $*" >&2; }

# ---------------------------------------------------------------- packages
need_pkgs=()
for p in qemu-system-x86 busybox-static cpio kmod gcc libc6-dev ndctl; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
	log "installing: ${need_pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------- kernel
if [[ -z "${MEMHP_KERNEL_PKG:-}" ]]; then
	if [[ -f "$CACHE/kernel/PACKAGE" ]]; then
		MEMHP_KERNEL_PKG=$(cat "$CACHE/kernel/PACKAGE")
	else
		MEMHP_KERNEL_PKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		if [[ -z "$MEMHP_KERNEL_PKG" ]]; then
			apt-get update -qq
			MEMHP_KERNEL_PKG=$(apt-cache depends linux-image-cloud-amd64 |
				awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		fi
	fi
fi
[[ -n "$MEMHP_KERNEL_PKG" ]] || { log "cannot resolve the kernel package"; exit 1; }

if [[ "$(cat "$CACHE/kernel/PACKAGE" 2>/dev/null)" != "$MEMHP_KERNEL_PKG" ]]; then
	if ! ls "$CACHE/debs/${MEMHP_KERNEL_PKG}"_*.deb >/dev/null 2>&1; then
		log "downloading $MEMHP_KERNEL_PKG"
		(cd "$CACHE/debs" && apt-get download "$MEMHP_KERNEL_PKG" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	fi
	deb=$(ls "$CACHE/debs/${MEMHP_KERNEL_PKG}"_*.deb | head -1)
	log "unpacking $deb"
	rm -rf "$CACHE/kernel"
	mkdir -p "$CACHE/kernel"
	dpkg-deb -x "$deb" "$CACHE/kernel"
	echo "$MEMHP_KERNEL_PKG" >"$CACHE/kernel/PACKAGE"
	rm -f "$BUILD/initramfs.cpio.gz"
fi
KVER=$(ls "$CACHE/kernel/lib/modules" | head -1)
[[ -f "$CACHE/kernel/lib/modules/$KVER/modules.dep" ]] || depmod -b "$CACHE/kernel" "$KVER"
ln -sf "$(ls "$CACHE/kernel/boot/"vmlinuz-* | head -1)" "$BUILD/vmlinuz"
echo "$KVER" >"$BUILD/KVER"

# ---------------------------------------------------------------- helper
if [[ "${FORCE:-}" == 1 || ! -x "$BUILD/sysfs-op" || "$HERE/guest/sysfs-op.c" -nt "$BUILD/sysfs-op" ]]; then
	log "building sysfs-op"
	gcc -static -O2 -Wall -Wextra -o "$BUILD/sysfs-op" "$HERE/guest/sysfs-op.c"
fi

# ---------------------------------------------------------------- initramfs
# Modules in load order; a module missing from the tree is reported (built in
# or not configured) and skipped.  Dependencies come from modules.dep.
WANT="libnvdimm nd_btt nd_pmem nd_e820 dax_pmem device_dax kmem dax_hmem"
out="$BUILD/initramfs.cpio.gz"
stale=0
[[ -f "$out" ]] || stale=1
for f in "$HERE/guest/init" "$BUILD/sysfs-op" "$HERE/setup.sh"; do
	[[ "$f" -nt "$out" ]] && stale=1
done
if [[ "${FORCE:-}" == 1 || $stale == 1 ]]; then
	log "building initramfs"
	R="$BUILD/rootfs"
	rm -rf "$R"
	mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,lib64,usr/bin,usr/lib}
	cp /bin/busybox "$R/bin/busybox"
	cp "$BUILD/sysfs-op" "$R/bin/sysfs-op"
	cp "$HERE/guest/init" "$R/init"
	chmod +x "$R/init"
	MD="$CACHE/kernel/lib/modules/$KVER"
	: >"$R/etc/modules.order"
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
	# decompress modules if the tree ships them compressed (busybox insmod)
	for f in "$R"/lib/modules/*.ko.xz; do [[ -e "$f" ]] && xz -d "$f"; done
	for f in "$R"/lib/modules/*.ko.zst; do [[ -e "$f" ]] && zstd -q -d --rm "$f"; done
	sed -i 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$R/etc/modules.order"
	log "modules: $(tr '\n' ' ' <"$R/etc/modules.order")"
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
	fi
	(cd "$R" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$out.tmp"
	mv "$out.tmp" "$out"
	log "initramfs: $(du -h "$out" | cut -f1)"
fi
log "ready: kernel $KVER, $BUILD/vmlinuz, $out"
