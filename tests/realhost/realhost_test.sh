#!/bin/bash
# CTest realhost.workflow (issue 12): the installed product on a real host
# shape. Boots the emulated NVDIMM host (tests/hardware's Debian kernel under
# QEMU/TCG, a 5 GiB NVDIMM with a label area) with this machine's root file
# system shared read-only over virtio-9p, under an overlay whose upper layer
# is an ext4 disk, and switches to that Debian userland (tests/realhost/init).
# Two boots on the same NVDIMM backing file and disk:
#   boot1  cmake --install into /, system virtlogd + libvirtd, SIGHUP, ndctl
#          namespaces in all four modes, nvdimmctl list/attach, a nested
#          guest (vm1: devdax + fsdax + sector + raw, writes its data in the
#          devdax one), vm2 on the same namespace refused, a repartition
#          (raw0 shrunk) refused until nvdimmctl sync --relayout
#   boot2  the hook at the classic /etc/libvirt/hooks/qemu, vm1's data back,
#          libvirtd restarted under a running vm1, save/restore and the
#          memory-snapshot revert refused
# (tests/realhost/realhost-steps.sh). Every decision line is asserted in the
# system log (busybox syslogd). Runs as root. Nothing is skipped.
#
#   realhost_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../hardware/testbed.sh
source "$here/../hardware/testbed.sh"
(($# == 2)) || testbed_die "usage: $0 BUILD_DIR SOURCE_DIR"
build_dir=$(cd "$1" && pwd) || testbed_die "BUILD_DIR $1 does not exist"
src_dir=$(cd "$2" && pwd) || testbed_die "SOURCE_DIR $2 does not exist"
((EUID == 0)) || testbed_die "run as root (the emulated host shares / read-only over 9p)"
for tool in mkfs.ext4 truncate qemu-system-x86_64 timeout cmake; do
  command -v "$tool" >/dev/null || testbed_die "$tool not found"
done
for bin in nvdimmctl nvdimm-hook; do
  [[ -x $build_dir/$bin ]] || testbed_die "$build_dir/$bin is missing: build the project first"
done
[[ -f $build_dir/cmake_install.cmake ]] || testbed_die "$build_dir/cmake_install.cmake is missing"

started=$SECONDS
bash "$here/build-realhost.sh" "$build_dir" || testbed_die "build-realhost.sh failed"
# shellcheck disable=SC1091
source "$build_dir/testbed/realhost.env"
# shellcheck disable=SC2153 # set by realhost.env
echo "# realhost: $KERNEL_PACKAGE $KERNEL_PACKAGE_VERSION ($((SECONDS - started)) s to prepare)"
INITRD=$HOST_INITRD

work=$build_dir/realhost
rm -rf -- "$work"
mkdir -p "$work"
img=$work/nvdimm0.img
disk=$work/disk.img
truncate -s 2G "$disk"
mkfs.ext4 -q -F -L nvh-realhost "$disk" || testbed_die "mkfs.ext4 $disk failed"

# RAM for libvirtd, a nested guest and page cache. Two vCPUs: the nested
# guest's TCG thread gets one to itself, libvirtd, virtlogd and the nested
# QEMU's main loop the other.
TESTBED_MEM=${REALHOST_MEM:-1536M}
TESTBED_SMP=${REALHOST_SMP:-2}
TESTBED_BOOT_TIMEOUT=${REALHOST_BOOT_TIMEOUT:-1500}
TESTBED_QEMU_ARGS=(
  -fsdev "local,id=rootfs,path=/,readonly=on,security_model=none,multidevs=remap"
  -device "virtio-9p-pci,fsdev=rootfs,mount_tag=rootfs"
  -drive "file=$disk,format=raw,if=virtio,cache=unsafe"
)
# The TSC under TCG ticks at this machine's rate, and a guest of a guest
# calibrates it against an emulated PIT that is far too slow: its kernel then
# believes time passes ~100x slower and every delay lasts that much longer
# (seen: a nested guest stuck minutes after "tsc: Unable to calibrate against
# PIT"). Both kernels get the real rate instead.
tsc_khz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | head -n 1)
[[ -n $tsc_khz ]] || tsc_khz=$(awk -F': ' '/^cpu MHz/ { sub(/\./, "", $2); print $2; exit }' /proc/cpuinfo)
[[ $tsc_khz =~ ^[0-9]{5,}$ ]] || testbed_die "cannot tell this machine's TSC rate (dmesg, /proc/cpuinfo): '$tsc_khz'"
TESTBED_APPEND="tsc_early_khz=$tsc_khz nvh.tsc_khz=$tsc_khz nvh.script=$here/host.sh nvh.src=$src_dir nvh.build=$build_dir"

judge_boot() { # judge_boot LOG NAME: every result ok and the final step reached
  local log=$1 name=$2
  grep '^NVH-RESULT ' "$log" | tr -d '\r' | sed 's/^NVH-RESULT //'
  if grep -q '^NVH-RESULT fail' "$log"; then
    echo "# serial log kept: $log" >&2
    testbed_die "$name: $(grep -c '^NVH-RESULT fail' "$log") failed checks (above)"
  fi
  grep -q "^NVH-RESULT ok $name complete" "$log" ||
    testbed_die "$name did not reach its last step (serial log: $log)"
  echo "# $name: $(grep -c '^NVH-RESULT ok' "$log") checks passed, ${TESTBED_BOOT_MS} ms"
}

testbed_boot "$work/boot1.log" boot1 "$img" 5G
judge_boot "$work/boot1.log" boot1
testbed_boot "$work/boot2.log" boot2 "$img" 5G
judge_boot "$work/boot2.log" boot2
echo "# realhost: $((SECONDS - started)) s"
rm -f -- "$img" "$disk"
