#!/usr/bin/env bash
# Build a small kernel from Debian's linux-source-6.1, cached.
#
#   bash harness/build-kernel.sh NAME          # prints the artefact directory on its last line
#
# NAME names harness/kernels/NAME/, which holds
#   config        a Kconfig fragment (CONFIG_X=y / =value / "# CONFIG_X is not set")
#   patches/*.patch  optional, applied in name order with `patch -p1` (git format-patch output works)
# The kernel is `tinyconfig` + the fragment (scripts/kconfig/merge_config.sh -m,
# then olddefconfig); every option the fragment names must come out exactly as
# written, else the build stops and names the ones that did not.  Then
# `make bzImage` (nice 19, JOBS=2 by default).
#
# Everything lives under .cache/build/custom/:
#   src/linux-source-6.1/            the pristine source, extracted once from /usr/src/linux-source-6.1.tar.xz
#   NAME.obj/                        the object tree (O=), reused by the next build of NAME (incremental)
#   NAME.src/                        a patched copy of the source (only when NAME has patches)
#   NAME-HASH/                       the result: bzImage, config, System.map, vmlinux, kernel.release,
#                                    BUILD-INFO, build.log
# HASH covers the Debian source version, the fragment, the patches and
# BUILD_SCHEME below, so a rerun with nothing changed only prints the directory
# (~1 s); a changed fragment rebuilds incrementally in NAME.obj.
#
# Environment: JOBS (default 2), FORCE=1 (rebuild even if cached),
# CONFIG_ONLY=1 (stop after the configuration check; nothing is cached).
# Needs root for apt-get the first time (linux-source-6.1 flex bison libelf-dev bc ...).
set -euo pipefail

BUILD_SCHEME=1 # bump when the way a kernel is built changes
name=${1:?usage: build-kernel.sh NAME}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
kdir=$here/kernels/$name
frag=$kdir/config
[[ -f $frag ]] || { echo "build-kernel: no $frag" >&2; exit 2; }
cache=$root/.cache/build/custom
jobs=${JOBS:-2}
log() { echo "build-kernel: $*" >&2; }

# --- packages
need=()
for p in linux-source-6.1 flex bison libelf-dev bc make gcc libc6-dev xz-utils patch cpio perl libssl-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
	log "apt-get install ${need[*]}"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
tarball=/usr/src/linux-source-6.1.tar.xz

# --- the key of this build
mapfile -t patches < <(find "$kdir/patches" -maxdepth 1 -name '*.patch' 2>/dev/null | LC_ALL=C sort)
key=$({
	echo "scheme $BUILD_SCHEME"
	echo "linux-source-6.1 $srcver"
	echo "--- config"
	cat "$frag"
	for p in "${patches[@]}"; do
		echo "--- patch ${p##*/}"
		cat "$p"
	done
} | sha256sum | cut -c1-12)
out=$cache/$name-$key
if [[ -z ${FORCE:-} && -z ${CONFIG_ONLY:-} && -f $out/bzImage ]]; then
	log "cached: $out ($(cat "$out/kernel.release"))"
	echo "$out"
	exit 0
fi
t0=$(date +%s)

# --- source: extract once (keyed by the Debian version)
pristine=$cache/src/linux-source-6.1
if [[ ! -f $pristine/.memhp-srcver || $(cat "$pristine/.memhp-srcver") != "$srcver" ]]; then
	log "extracting $tarball ($srcver)"
	rm -rf "$pristine"
	mkdir -p "$cache/src"
	nice -n 19 tar xJf "$tarball" -C "$cache/src"
	echo "$srcver" >"$pristine/.memhp-srcver"
fi
src=$pristine
if ((${#patches[@]})); then
	src=$cache/$name.src
	stamp=$srcver-$key
	if [[ ! -f $src/.memhp-stamp || $(cat "$src/.memhp-stamp") != "$stamp" ]]; then
		log "copying the source to $src and applying ${#patches[@]} patch(es)"
		rm -rf "$src"
		cp -a "$pristine" "$src"
		for p in "${patches[@]}"; do
			log "  patch ${p##*/}"
			patch -d "$src" -p1 --batch --forward --fuzz=0 <"$p" >&2 || { log "patch ${p##*/} does not apply"; exit 1; }
		done
		echo "$stamp" >"$src/.memhp-stamp"
	fi
fi

# --- configure: tinyconfig + fragment, then check it
obj=$cache/$name.obj
if [[ -f $obj/.memhp-src && $(cat "$obj/.memhp-src") != "$src" ]]; then rm -rf "$obj"; fi
mkdir -p "$obj"
echo "$src" >"$obj/.memhp-src"
mk() { nice -n 19 make -C "$src" O="$obj" ARCH=x86_64 "$@"; }
{
	mk tinyconfig
	(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag")
	mk olddefconfig
} >"$obj/config.log" 2>&1 || { tail -20 "$obj/config.log" >&2; log "configuring failed (log: $obj/config.log)"; exit 1; }
bad=()
while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
		got=$(grep -E "^$opt=" "$obj/.config" | head -1 | cut -d= -f2-) || true
		[[ $got == "$want" ]] || bad+=("$opt: wanted $want, got ${got:-not set}")
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
		opt=${BASH_REMATCH[1]}
		got=$(grep -E "^$opt=" "$obj/.config" | head -1 | cut -d= -f2-) || true
		[[ -z $got ]] || bad+=("$opt: wanted not set, got $got")
	fi
done <"$frag"
if ((${#bad[@]})); then
	log "the configuration did not come out as $frag asks (a missing dependency, or a symbol that does not exist):"
	for b in "${bad[@]}"; do echo "  $b" >&2; done
	exit 1
fi
log "configuration ok ($(grep -c '=' "$obj/.config") options set)"
[[ -z ${CONFIG_ONLY:-} ]] || { echo "$obj/.config"; exit 0; }

# --- build
log "make -j$jobs bzImage in $obj (log: $obj/build.log)"
if ! mk -j"$jobs" bzImage >"$obj/build.log" 2>&1; then
	tail -30 "$obj/build.log" >&2
	log "make failed (full log: $obj/build.log)"
	exit 1
fi
t1=$(date +%s)
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/.config" "$tmp/config"
cp "$obj/System.map" "$obj/vmlinux" "$obj/build.log" "$tmp/"
mk -s kernelrelease >"$tmp/kernel.release"
{
	echo "name $name"
	echo "linux-source-6.1 $srcver"
	echo "patches ${#patches[@]}${patches[*]:+ (${patches[*]##*/})}"
	echo "key $key"
	echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((t1 - t0)) s with -j$jobs on $(nproc) cores"
} >"$tmp/BUILD-INFO"
rm -rf "$out"
mv "$tmp" "$out"
log "built $out in $((t1 - t0)) s"
echo "$out"
