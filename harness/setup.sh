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
# 3. builds the static guest helpers .cache/build/sysfs-op and ddx;
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
for p in qemu-system-x86 busybox-static cpio kmod gcc libc6-dev binutils xz-utils ndctl; do
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

# The program-event helper (log format 2): one process tree per log.
if [[ "${FORCE:-}" == 1 || ! -x "$BUILD/ddx" || "$HERE/guest/ddx.c" -nt "$BUILD/ddx" || "$HERE/guest/sysfs-op.c" -nt "$BUILD/ddx" ]]; then
	log "building ddx"
	gcc -static -O2 -Wall -Wextra -o "$BUILD/ddx" "$HERE/guest/ddx.c"
fi

# ---------------------------------------------------------------- initramfs
out="$BUILD/initramfs.cpio.gz"
stale=0
[[ -f "$out" ]] || stale=1
for f in "$HERE/guest/init" "$BUILD/sysfs-op" "$BUILD/ddx" "$HERE/setup.sh" "$HERE/build-initramfs.sh"; do
	[[ "$f" -nt "$out" ]] && stale=1
done
if [[ "${FORCE:-}" == 1 || $stale == 1 ]]; then
	log "building initramfs"
	bash "$HERE/build-initramfs.sh" "$out" "$CACHE/kernel/lib/modules/$KVER"
fi
log "ready: kernel $KVER, $BUILD/vmlinuz, $out"
