#!/bin/bash
# Builds what tests/realhost boots (issue 12):
#
#   build-realhost.sh BUILD_DIR
#
# - the test bed's Debian kernel and its nested-guest initramfs
#   (tests/hardware/build-testbed.sh, NVH_TESTBED_VARIANT=guest: busybox,
#   ndctl, the NVDIMM modules, tests/hardware/guest/);
# - the emulated host's own initramfs, tiny: busybox-static, the modules that
#   mount this machine's root over virtio-9p, an ext4 disk and an overlay
#   (realhost-modules/ of the kernel dir), and tests/realhost/init, which
#   switches to the real Debian userland.
# Cached in BUILD_DIR/testbed by content key, as build-testbed.sh does;
# BUILD_DIR/testbed/realhost.env names KERNEL, HOST_INITRD, GUEST_INITRD.
# Everything fails loudly; nothing is skipped.
set -euo pipefail

die() {
  echo "build-realhost: FAIL: $*" >&2
  exit 1
}

(($# == 1)) || die "usage: $0 BUILD_DIR"
build_dir=$(cd "$1" && pwd) || die "BUILD_DIR $1 does not exist"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testbed=$build_dir/testbed

NVH_TESTBED_VARIANT=guest bash "$here/../hardware/build-testbed.sh" "$build_dir" ||
  die "build-testbed.sh (guest variant) failed"
# shellcheck disable=SC1091
source "$testbed/testbed-guest.env"
[[ -r $KERNEL && -r $INITRD && -d $KERNEL_DIR/realhost-modules ]] ||
  die "testbed-guest.env names a missing kernel, initramfs or $KERNEL_DIR/realhost-modules"
order=$KERNEL_DIR/realhost-modules.order
[[ -r $order ]] || die "$order is missing"
busybox_bin=$(command -v busybox) || die "busybox not found (busybox-static)"
ldd_out=$(ldd "$busybox_bin" 2>&1 || true)
grep -q 'not a dynamic executable' <<<"$ldd_out" ||
  die "$busybox_bin is not statically linked: install busybox-static"
command -v cpio >/dev/null || die "cpio not found"

exec 9>"$testbed/.realhost.lock"
flock -w 600 9 || die "another build-realhost.sh holds $testbed/.realhost.lock"

key=$({
  sha256sum "${BASH_SOURCE[0]}" "$here/init" "$busybox_bin" | cut -d' ' -f1
  cat "$order"
  (cd "$KERNEL_DIR/realhost-modules" && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum)
} | sha256sum | cut -d' ' -f1)
host_initrd=$testbed/realhost-initramfs.cpio
if [[ -f $host_initrd && $(cat "$testbed/realhost-initramfs.key" 2>/dev/null) == "$key" ]]; then
  echo "build-realhost: host initramfs up to date (key ${key:0:12})" >&2
else
  tree=$(mktemp -d "$testbed/realhost-tree.XXXXXX")
  trap 'rm -rf -- "$tree"' EXIT
  mkdir -p "$tree"/{bin,dev,proc,sys,run,lower,persist,newroot,etc/nvh}
  cp "$busybox_bin" "$tree/bin/busybox"
  for applet in sh mount umount mkdir insmod switch_root cat grep sed sleep echo \
    poweroff sync ls dmesg; do
    ln -s busybox "$tree/bin/$applet"
  done
  cp -a "$KERNEL_DIR/realhost-modules/lib" "$tree/lib"
  sed "s|^|/lib/modules/$KERNEL_VERSION/|" "$order" >"$tree/etc/nvh/modules"
  install -m 0755 "$here/init" "$tree/init"
  (cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet) >"$host_initrd.tmp" || die "cpio failed"
  mv -f "$host_initrd.tmp" "$host_initrd"
  echo "$key" >"$testbed/realhost-initramfs.key"
  echo "build-realhost: host initramfs built ($(($(stat -c %s "$host_initrd") / 1024)) KiB, key ${key:0:12})" >&2
fi

cat >"$testbed/realhost.env.tmp" <<EOF
KERNEL=$KERNEL
KERNEL_VERSION=$KERNEL_VERSION
KERNEL_PACKAGE=$KERNEL_PACKAGE
KERNEL_PACKAGE_VERSION=$KERNEL_PACKAGE_VERSION
HOST_INITRD=$host_initrd
GUEST_INITRD=$INITRD
EOF
mv -f "$testbed/realhost.env.tmp" "$testbed/realhost.env"
