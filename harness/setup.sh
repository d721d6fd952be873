#!/bin/bash
# memhp QEMU harness: one-time (idempotent) setup.
#
#   sudo bash harness/setup.sh          (as root; needs Debian's apt sources)
#
# 1. apt-get installs qemu-system-x86, busybox-static, cpio, kmod, gcc (and
#    ndctl, only to copy it into the pmem guest);
# 2. for each kernel series (6.1 and 6.12), downloads the Debian cloud kernel
#    .deb (the versioned dependency of linux-image-cloud-amd64, resp.
#    linux-image-6.12-cloud-amd64) into .cache/debs and unpacks it into
#    .cache/kernels/SERIES (never installed on the host), runs depmod on the
#    unpacked tree;
# 3. builds the static guest helpers .cache/build/sysfs-op and ddx (log format 2);
# 4. builds .cache/build/SERIES/initramfs.cpio.gz per kernel (busybox, that
#    kernel's modules, helper, /init, ndctl + its shared libraries).
#
# Environment: MEMHP_KERNELS="6.12" sets up only those series (default both);
# MEMHP_KERNEL_PKG_6_1=linux-image-6.1.0-XX-cloud-amd64 (or _6_12) pins a
# series' package (default: whatever its meta-package depends on now).
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
for p in qemu-system-x86 busybox-static cpio kmod gcc libc6-dev binutils xz-utils ndctl; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
	log "installing: ${need_pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------- kernels
# One Debian cloud kernel per series the harness boots (src/realkernel/guest.ts
# HARNESS_KERNELS): 6.1 through bookworm's linux-image-cloud-amd64, 6.12 through
# linux-image-6.12-cloud-amd64 (the LTS that bookworm carries beside 6.1). Each
# meta-package names its versioned image package in its Depends.
declare -A META=([6.1]=linux-image-cloud-amd64 [6.12]=linux-image-6.12-cloud-amd64)
SERIES=${MEMHP_KERNELS:-6.1 6.12}

resolve_pkg() { # $1 = series: the versioned package its meta-package depends on now
	local meta=${META[$1]} pkg
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [[ -z "$pkg" ]]; then
		apt-get update -qq >&2 # not into the caller's $(...)
		pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	echo "$pkg"
}

kernel_series() { # $1 = series: .cache/kernels/SERIES (the unpacked .deb) and .cache/build/SERIES/{vmlinuz,KVER}
	local series=$1 kdir="$CACHE/kernels/$1" bdir="$BUILD/$1" var pkg deb kver
	[[ -n "${META[$series]:-}" ]] || { log "unknown kernel series $series (known: ${!META[*]})"; exit 1; }
	var="MEMHP_KERNEL_PKG_${series//./_}"
	pkg=${!var:-}
	if [[ -z "$pkg" ]]; then
		if [[ -f "$kdir/PACKAGE" ]]; then pkg=$(cat "$kdir/PACKAGE"); else pkg=$(resolve_pkg "$series"); fi
	fi
	[[ -n "$pkg" ]] || { log "cannot resolve the kernel package of series $series (${META[$series]})"; exit 1; }
	mkdir -p "$bdir"
	if [[ "$(cat "$kdir/PACKAGE" 2>/dev/null)" != "$pkg" ]]; then
		if ! ls "$CACHE/debs/${pkg}"_*.deb >/dev/null 2>&1; then
			log "downloading $pkg"
			(cd "$CACHE/debs" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
		fi
		deb=$(ls "$CACHE/debs/${pkg}"_*.deb | head -1)
		log "unpacking $deb"
		rm -rf "$kdir"
		mkdir -p "$kdir"
		dpkg-deb -x "$deb" "$kdir"
		echo "$pkg" >"$kdir/PACKAGE"
		dpkg-deb -f "$deb" Version >"$kdir/VERSION"
		rm -f "$bdir/initramfs.cpio.gz"
	fi
	kver=$(ls "$kdir/lib/modules" | head -1)
	[[ -f "$kdir/lib/modules/$kver/modules.dep" ]] || depmod -b "$kdir" "$kver"
	ln -sf "$(ls "$kdir/boot/"vmlinuz-* | head -1)" "$bdir/vmlinuz"
	echo "$kver" >"$bdir/KVER"
	cp "$kdir/PACKAGE" "$bdir/PACKAGE"
	cp "$kdir/VERSION" "$bdir/VERSION" 2>/dev/null || true
}

# ---------------------------------------------------------------- helper
if [[ "${FORCE:-}" == 1 || ! -x "$BUILD/sysfs-op" || "$HERE/guest/sysfs-op.c" -nt "$BUILD/sysfs-op" ]]; then
	log "building sysfs-op"
	gcc -static -O2 -Wall -Wextra -o "$BUILD/sysfs-op" "$HERE/guest/sysfs-op.c"
fi

# The program-event helper (log format 2): one process tree per log.
if [[ "${FORCE:-}" == 1 || ! -x "$BUILD/ddx" || "$HERE/guest/ddx.c" -nt "$BUILD/ddx" || "$HERE/guest/sysfs-op.c" -nt "$BUILD/ddx" ]]; then
	log "building ddx"
	gcc -static -O2 -Wall -Wextra -o "$BUILD/ddx" "$HERE/guest/ddx.c"
fi

# ---------------------------------------------------------------- per kernel: unpack, initramfs
for series in $SERIES; do
	kernel_series "$series"
	bdir="$BUILD/$series"
	out="$bdir/initramfs.cpio.gz"
	kver=$(cat "$bdir/KVER")
	stale=0
	[[ -f "$out" ]] || stale=1
	for f in "$HERE/guest/init" "$BUILD/sysfs-op" "$BUILD/ddx" "$HERE/setup.sh" "$HERE/build-initramfs.sh"; do
		[[ "$f" -nt "$out" ]] && stale=1
	done
	if [[ "${FORCE:-}" == 1 || $stale == 1 ]]; then
		log "building the $series initramfs"
		bash "$HERE/build-initramfs.sh" "$out" "$CACHE/kernels/$series/lib/modules/$kver"
	fi
	log "ready: $series = $(cat "$bdir/PACKAGE") (Debian $(cat "$bdir/VERSION" 2>/dev/null || echo '?')), kernel $kver, $bdir/vmlinuz, $out"
done
