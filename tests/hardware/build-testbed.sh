#!/bin/bash
# Builds the emulated NVDIMM test bed (issue 4, FACTS.md "Emulated NVDIMM host"):
#
#   build-testbed.sh BUILD_DIR
#
# - Debian's kernel: the package linux-image-amd64 depends on (looked up with
#   apt-cache, never hard-coded), fetched with `apt-get download` and unpacked
#   with `dpkg-deb -x` (no initramfs trigger). Its bzImage payload is
#   decompressed to the ELF vmlinux, which QEMU boots through the PVH entry
#   point (CONFIG_PVH=y; faster than the real-mode setup of vmlinuz).
#   NVH_TESTBED_KERNEL_DEB=FILE.deb uses a given Debian kernel package instead.
# - An uncompressed initramfs (newc cpio): busybox-static, ndctl, daxctl, the
#   project's nvdimmctl (and nvdimm-hook when it is built, also installed as
#   cmake --install lays it out: the entry, the full hook, the qemu.d link), QEMU
#   (qemu-system-x86_64 + its TCG accelerator module + the firmware that
#   `-machine pc -nodefaults` loads), every shared library they need (ldd),
#   the NVDIMM modules and their dependencies (modules.dep; depmod -b), and
#   tests/hardware/guest/ (/init, lib.sh, scenarios/).
#
# Results are cached under BUILD_DIR/testbed: the kernel per package version,
# the initramfs per content key (sha256 over every file that goes in, the
# kernel version and this script), so a changed binary, library or scenario
# rebuilds it and nothing else does. BUILD_DIR/testbed/testbed.env names what
# to boot (KERNEL, INITRD, KERNEL_VERSION, KERNEL_PACKAGE, TESTBED_KEY).
# NVH_TESTBED_VARIANT=guest builds initramfs-guest.cpio and testbed-guest.env
# instead: the same image without QEMU and the project's binaries (the nested
# guests of tests/realhost).
#
# Everything fails loudly; nothing is skipped.
set -euo pipefail

die() {
  echo "build-testbed: FAIL: $*" >&2
  exit 1
}
note() { echo "build-testbed: $*" >&2; }

(($# == 1)) || die "usage: $0 BUILD_DIR"
build_dir=$(cd "$1" && pwd) || die "BUILD_DIR $1 does not exist"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
guest_dir=$here/guest
testbed=$build_dir/testbed
variant=${NVH_TESTBED_VARIANT:-full}
case $variant in
  full) suffix= ;;
  guest) suffix=-guest ;;
  *) die "NVH_TESTBED_VARIANT=$variant: expected full or guest" ;;
esac

for tool in apt-cache apt-get dpkg-deb depmod ldd ldconfig cpio sha256sum python3 flock \
  qemu-system-x86_64 ndctl daxctl busybox; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found in PATH (scripts/install-deps installs apt, kmod, cpio, python3, qemu-system-x86, ndctl, daxctl, busybox-static)"
done
[[ -x $build_dir/nvdimmctl ]] ||
  die "$build_dir/nvdimmctl is missing: build it first (make -C $build_dir nvdimmctl)"
[[ -f $guest_dir/init && -f $guest_dir/lib.sh && -d $guest_dir/scenarios ]] ||
  die "$guest_dir is incomplete (init, lib.sh, scenarios/)"
busybox_bin=$(command -v busybox)
ldd_out=$(ldd "$busybox_bin" 2>&1 || true)
grep -q 'not a dynamic executable' <<<"$ldd_out" ||
  die "$busybox_bin is not statically linked: install busybox-static"

mkdir -p "$testbed"
# One builder at a time (ctest -j runs the host and guest tests together).
exec 9>"$testbed/.lock"
flock -w 600 9 || die "another build-testbed.sh holds $testbed/.lock for 10 minutes"

# ---------------------------------------------------------------------------
# 1. The kernel.
kernel_deb=${NVH_TESTBED_KERNEL_DEB:-}
if [[ -n $kernel_deb ]]; then
  [[ -r $kernel_deb ]] || die "NVH_TESTBED_KERNEL_DEB=$kernel_deb is not readable"
  kernel_deb=$(readlink -f "$kernel_deb")
  kpkg=$(dpkg-deb -f "$kernel_deb" Package)
  kver_pkg=$(dpkg-deb -f "$kernel_deb" Version)
else
  # The candidate of the meta package names the ABI package: e.g.
  # "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
  depends=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
    sed -n 's/^Depends: //p' | head -n 1)
  [[ -n $depends ]] ||
    die "apt-cache knows no linux-image-amd64 (run apt-get update; scripts/install-deps does)"
  kpkg=$(grep -oE 'linux-image-[0-9][^ ,]*-amd64' <<<"$depends" | head -n 1)
  kver_pkg=$(sed -n "s/.*$kpkg (= \([^)]*\)).*/\1/p" <<<"$depends")
  [[ -n $kpkg ]] || die "cannot find the kernel ABI package in 'Depends: $depends'"
  if [[ -z $kver_pkg ]]; then
    kver_pkg=$(apt-cache show --no-all-versions "$kpkg" | sed -n 's/^Version: //p' | head -n 1)
  fi
  [[ -n $kver_pkg ]] || die "no version for $kpkg"
fi
# What is taken from the package; part of the cache key of the kernel dir.
kernel_modules="libnvdimm nfit nd_btt nd_pmem dax_pmem device_dax kmem"
# tests/realhost also mounts the machine's root over virtio-9p, an ext4 disk (its
# checksums load crc32c through the crypto API, not modules.dep)
# and an overlay: those modules (+ the NVDIMM ones) go to realhost-modules/,
# never into this initramfs.
realhost_modules="9p 9pnet_virtio virtio_pci virtio_blk crc32c_generic ext4 overlay"
kernel_recipe="v1 modules=$kernel_modules realhost=$realhost_modules"
kdir=$testbed/kernel/${kpkg}_${kver_pkg//[:~]/_}_$(sha256sum <<<"$kernel_recipe" | cut -c1-8)
if [[ ! -f $kdir/.complete ]]; then
  note "kernel: preparing $kpkg $kver_pkg in $kdir"
  rm -rf -- "$kdir"
  mkdir -p "$kdir/dl"
  if [[ -z $kernel_deb ]]; then
    # apt's _apt sandbox user cannot write into most build dirs; as root it
    # falls back to an unsandboxed download with a warning, which is fine.
    (cd "$kdir/dl" && apt-get download -q "$kpkg=$kver_pkg") >"$kdir/apt-download.log" 2>&1 || {
      cat "$kdir/apt-download.log" >&2
      die "apt-get download $kpkg=$kver_pkg failed"
    }
    kernel_deb=$(find "$kdir/dl" -maxdepth 1 -name '*.deb' | head -n 1)
    [[ -n $kernel_deb ]] || die "apt-get download $kpkg=$kver_pkg produced no .deb"
  fi
  dpkg-deb -x "$kernel_deb" "$kdir/root" || die "dpkg-deb -x $kernel_deb failed"
  shopt -s nullglob
  vmlinuz=("$kdir"/root/boot/vmlinuz-*)
  shopt -u nullglob
  ((${#vmlinuz[@]} == 1)) || die "$kernel_deb has ${#vmlinuz[@]} /boot/vmlinuz-* files, expected 1"
  kver=${vmlinuz[0]##*/vmlinuz-}
  [[ -d $kdir/root/lib/modules/$kver ]] || die "$kernel_deb has no /lib/modules/$kver"
  grep -q '^CONFIG_PVH=y' "$kdir/root/boot/config-$kver" ||
    die "kernel $kver is built without CONFIG_PVH: its ELF cannot be booted by QEMU"
  cp "${vmlinuz[0]}" "$kdir/vmlinuz"
  cp "$kdir/root/boot/config-$kver" "$kdir/config"
  # The ELF inside the bzImage: scan for compressed streams (xz, zstd, gzip)
  # and take the first that decompresses to an ELF (scripts/extract-vmlinux).
  python3 - "$kdir/vmlinuz" "$kdir/vmlinux" <<'PY' || die "cannot extract vmlinux from $kdir/vmlinuz"
import gzip, lzma, sys, zlib
data = open(sys.argv[1], "rb").read()
def xz(blob):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)
def gz(blob):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
magics = [(b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz)]
for magic, fn in magics:
    pos = data.find(magic)
    while pos >= 0:
        try:
            out = fn(data[pos:])
        except Exception:
            out = b""
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            print("vmlinux: %d bytes from offset %d" % (len(out), pos), file=sys.stderr)
            sys.exit(0)
        pos = data.find(magic, pos + 1)
sys.exit("no xz or gzip stream in %s decompresses to an ELF" % sys.argv[1])
PY
  # Module dependency closure of what the NVDIMM stack needs, in load order.
  depmod -b "$kdir/root" "$kver" || die "depmod -b $kdir/root $kver failed"
  # closure ORDER_FILE MODULE...
  closure() {
    local out=$1
    shift
    python3 - "$kdir/root/lib/modules/$kver" "$@" >"$out" <<'PY' || die "module closure failed"
import os, sys
base = sys.argv[1]
deps = {}
for line in open(os.path.join(base, "modules.dep")):
    path, _, rest = line.partition(":")
    deps[path] = rest.split()
by_name = {}
for path in deps:
    name = os.path.basename(path).split(".ko")[0].replace("-", "_")
    by_name[name] = path
wanted = sys.argv[2:]
order = []
def add(path):
    if path in order:
        return
    # modules.dep lists the full closure, the deepest dependency last.
    for dep in reversed(deps[path]):
        add(dep)
    order.append(path)
for name in wanted:
    if name not in by_name:
        sys.exit("module %s is not in %s/modules.dep" % (name, base))
    add(by_name[name])
print("\n".join(order))
PY
  }
  # install_modules DIR ORDER_FILE: the modules ORDER_FILE lists, depmod'ed.
  install_modules() {
    local mod f
    mkdir -p "$1/lib/modules/$kver"
    while read -r mod; do
      install -D -m 0644 "$kdir/root/lib/modules/$kver/$mod" "$1/lib/modules/$kver/$mod"
    done <"$2"
    for f in modules.order modules.builtin modules.builtin.modinfo; do
      [[ -f $kdir/root/lib/modules/$kver/$f ]] && cp "$kdir/root/lib/modules/$kver/$f" "$1/lib/modules/$kver/"
    done
    depmod -b "$1" "$kver" || die "depmod -b $1 $kver failed"
  }
  # shellcheck disable=SC2086 # one argument per module
  closure "$kdir/modules.order" $kernel_modules
  install_modules "$kdir/modules" "$kdir/modules.order"
  # shellcheck disable=SC2086 # one argument per module
  closure "$kdir/realhost-modules.order" $realhost_modules $kernel_modules
  install_modules "$kdir/realhost-modules" "$kdir/realhost-modules.order"
  echo "$kver" >"$kdir/kernel.version"
  rm -rf -- "$kdir/root" "$kdir/dl" "$kdir/apt-download.log"
  touch "$kdir/.complete"
fi
kver=$(cat "$kdir/kernel.version")
note "kernel: $kpkg $kver_pkg ($kver), $(stat -c %s "$kdir/vmlinux") byte vmlinux"

# ---------------------------------------------------------------------------
# 2. The initramfs manifest: "f DEST SRC" (file), "l DEST TARGET" (symlink),
# "d DEST" (directory). Paths in the image are absolute.
manifest=$(mktemp "$testbed/manifest.XXXXXX")
stage=$(mktemp -d "$testbed/stage.XXXXXX")
tree=
cleanup() {
  rm -rf -- "$manifest" "$stage" ${tree:+"$tree"}
}
trap cleanup EXIT

declare -A seen=()
add_dir() { [[ -n ${seen[d:$1]:-} ]] || { seen[d:$1]=1; echo "d $1" >>"$manifest"; }; }
add_link() { [[ -n ${seen[$1]:-} ]] || { seen[$1]=1; echo "l $1 $2" >>"$manifest"; }; }
add_file() { # add_file DEST SRC
  [[ -r $2 ]] || die "cannot read $2 (for $1)"
  [[ -n ${seen[$1]:-} ]] || { seen[$1]=1; echo "f $1 $(readlink -f "$2")" >>"$manifest"; }
}
# The image mirrors the host's merged /usr: /bin -> usr/bin etc. A file goes
# in under its canonical directory and the name it is asked for.
canonical() { echo "$(readlink -f "$(dirname "$1")")/$(basename "$1")"; }
add_elf() { # add_elf PATH [DEST]: the file and every library ldd names
  local path=$1 dest=${2:-$(canonical "$1")} lib
  add_file "$dest" "$path"
  local out
  out=$(ldd "$path" 2>&1) || {
    grep -q 'not a dynamic executable' <<<"$out" && return 0
    die "ldd $path: $out"
  }
  grep -q 'not found' <<<"$out" && die "ldd $path: a library is missing: $out"
  while read -r lib; do
    add_file "$(canonical "$lib")" "$lib"
  done < <(awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' <<<"$out")
}

for d in bin sbin lib lib64; do
  if [[ -L /$d ]]; then add_link "/$d" "$(readlink "/$d")"; else add_dir "/$d"; fi
done
for d in /usr/bin /usr/sbin /usr/lib /usr/lib64 /dev /proc /sys /run /tmp /var /var/tmp \
  /etc /etc/nvh /nvh /mnt; do
  add_dir "$d"
done

busybox_dest=$(canonical "$busybox_bin")
add_file "$busybox_dest" "$busybox_bin"
add_elf "$(command -v ndctl)"
add_elf "$(command -v daxctl)"
qemu_bin=$(command -v qemu-system-x86_64)
# The guest variant (NVH_TESTBED_VARIANT=guest, tests/realhost's nested
# guests) is the same image without QEMU and the project's binaries.
if [[ $variant == full ]]; then
# The project's binaries, without debug info (15 MiB less per binary).
for bin in nvdimmctl nvdimm-hook; do
  [[ -x $build_dir/$bin ]] || continue
  if command -v strip >/dev/null 2>&1; then
    strip -o "$stage/$bin" "$build_dir/$bin"
  else
    cp "$build_dir/$bin" "$stage/$bin"
  fi
  add_elf "$stage/$bin" "/usr/bin/$bin"
  # ldd on the staged copy resolves the same libraries.
done
# dlopen()ed by the project's binaries (src/ndctl/libndctl_api.h), so ldd
# does not name them (ndctl's own ldd above does today).
for lib in libndctl.so.6 libdaxctl.so.1; do
  # awk reads to the end: leaving early would kill ldconfig with SIGPIPE
  # mid-listing, which pipefail turns into a silent exit of this script.
  lib_path=$(ldconfig -p | awk -v lib="$lib" '$1 == lib && /x86-64/ && !found { print $NF; found = 1 }')
  [[ -n $lib_path ]] || die "$lib not found by ldconfig -p (install libndctl6, libdaxctl1)"
  add_elf "$lib_path"
done
# The hook as installed (cmake/Install.cmake): the entry, the full hook at the
# path the entry has compiled in, and libvirt's qemu.d link to the entry.
if [[ -x $build_dir/nvdimm-hook && -x $build_dir/nvdimm-hook-entry ]]; then
  full_hook=$(cat "$build_dir/hooks/full-hook-path") || die "$build_dir/hooks/full-hook-path missing"
  add_elf "$stage/nvdimm-hook" "$full_hook"
  add_elf "$build_dir/nvdimm-hook-entry" "$(dirname "$full_hook")/nvdimm-hook-entry"
  add_link /etc/libvirt/hooks/qemu.d/50-nvdimm-hook "$(dirname "$full_hook")/nvdimm-hook-entry"
fi
add_elf "$qemu_bin"
# QEMU (Debian 7.2) loads TCG as a module and, for `-machine pc -nodefaults
# -S`, reads bios-256k.bin and kvmvapic.bin from <prefix>/share/{qemu,seabios}
# (strace of such a run on the host).
qemu_prefix=$(readlink -f "$(dirname "$qemu_bin")/..")
tcg_module=$qemu_prefix/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
[[ -r $tcg_module ]] || die "$tcg_module missing (qemu-system-x86 is incomplete)"
add_elf "$tcg_module"
add_file "$qemu_prefix/share/qemu/kvmvapic.bin" "$qemu_prefix/share/qemu/kvmvapic.bin"
bios=
for candidate in "$qemu_prefix/share/seabios/bios-256k.bin" "$qemu_prefix/share/qemu/bios-256k.bin"; do
  [[ -r $candidate ]] && {
    bios=$candidate
    break
  }
done
[[ -n $bios ]] || die "bios-256k.bin not found under $qemu_prefix/share (install seabios)"
add_file "$qemu_prefix/share/seabios/bios-256k.bin" "$bios"
fi

# The loader's search path as on the host (ldconfig -r reads it below).
add_file /etc/ld.so.conf /etc/ld.so.conf
for f in /etc/ld.so.conf.d/*.conf; do
  [[ -f $f ]] && add_file "$f" "$f"
done

# ndctl/daxctl configuration (defaults only, no keys).
for f in /etc/ndctl.conf.d/*.conf /etc/daxctl.conf.d/*.conf; do
  [[ -f $f ]] && add_file "$f" "$f"
done

# Busybox applets for everything not provided otherwise.
while read -r applet; do
  add_link "$(canonical "/$applet")" "$busybox_dest"
done < <("$busybox_bin" --list-full)

# Kernel modules.
while IFS= read -r -d '' f; do
  rel=${f#"$kdir/modules"}
  add_file "$rel" "$f"
done < <(find "$kdir/modules" -type f -print0 | LC_ALL=C sort -z)
sed "s|^|/lib/modules/$kver/|" "$kdir/modules.order" >"$stage/modules"
add_file /etc/nvh/modules "$stage/modules"

# The guest side of the tests.
add_file /init "$guest_dir/init"
add_file /nvh/lib.sh "$guest_dir/lib.sh"
while IFS= read -r -d '' f; do
  add_file "/nvh/scenarios/${f##*/}" "$f"
done < <(find "$guest_dir/scenarios" -maxdepth 1 -type f -print0 | LC_ALL=C sort -z)
{
  echo "kernel_package=$kpkg"
  echo "kernel_package_version=$kver_pkg"
  echo "kernel_version=$kver"
  echo "ndctl=$(ndctl --version)"
  echo "qemu=$("$qemu_bin" --version | head -n 1)"
} >"$stage/testbed.info"
add_file /etc/nvh/testbed.info "$stage/testbed.info"

# The content key: the manifest with the sha256 of every file, plus this
# script and the kernel.
# Source paths are left out (staged files live in a temporary directory):
# each file counts by its place in the image, its content and its mode.
awk '$1 == "f" { print $3 }' "$manifest" | LC_ALL=C sort -u >"$stage/sources"
xargs -d '\n' sha256sum <"$stage/sources" >"$stage/sums"
xargs -d '\n' stat -c '%a %n' <"$stage/sources" >"$stage/modes"
key=$({
  sha256sum "$self" | cut -d' ' -f1
  echo "$kpkg $kver_pkg $kver $kernel_recipe $variant"
  awk 'FILENAME == ARGV[1] { sum[$2] = $1; next }
       FILENAME == ARGV[2] { mode[$2] = $1; next }
       $1 == "f" { print "f", $2, sum[$3], mode[$3]; next }
       { print }' "$stage/sums" "$stage/modes" "$manifest" | LC_ALL=C sort
} | sha256sum | cut -d' ' -f1)

initrd=$testbed/initramfs$suffix.cpio
if [[ -f $initrd && -f $testbed/initramfs$suffix.key && $(cat "$testbed/initramfs$suffix.key") == "$key" ]]; then
  note "initramfs: up to date ($initrd, key ${key:0:12})"
else
  note "initramfs: building (key ${key:0:12})"
  tree=$(mktemp -d "$testbed/tree.XXXXXX")
  LC_ALL=C sort "$manifest" | while read -r type dest src; do
    case $type in
      d) mkdir -p "$tree$dest" ;;
      l)
        mkdir -p "$(dirname "$tree$dest")"
        ln -sfn "$src" "$tree$dest"
        ;;
      f)
        mkdir -p "$(dirname "$tree$dest")"
        cp -L --preserve=mode "$src" "$tree$dest"
        ;;
    esac
  done
  chmod 0755 "$tree/init"
  chmod 1777 "$tree/tmp" "$tree/var/tmp"
  ldconfig -r "$tree" 2>/dev/null || die "ldconfig -r $tree failed"
  [[ -f $tree/etc/ld.so.cache ]] || die "ldconfig made no $tree/etc/ld.so.cache"
  (cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet) >"$initrd.tmp" || die "cpio failed"
  mv -f "$initrd.tmp" "$initrd"
  echo "$key" >"$testbed/initramfs$suffix.key"
  rm -rf -- "$tree"
  tree=
fi

cat >"$testbed/testbed$suffix.env.tmp" <<EOF
KERNEL=$kdir/vmlinux
KERNEL_BZIMAGE=$kdir/vmlinuz
INITRD=$initrd
KERNEL_VERSION=$kver
KERNEL_PACKAGE=$kpkg
KERNEL_PACKAGE_VERSION=$kver_pkg
TESTBED_KEY=$key
KERNEL_DIR=$kdir
EOF
mv -f "$testbed/testbed$suffix.env.tmp" "$testbed/testbed$suffix.env"
note "initramfs: $(($(stat -c %s "$initrd") / 1024 / 1024)) MiB, $(wc -l <"$manifest") entries"
note "ready: $testbed/testbed$suffix.env"
