#!/bin/bash
# CTest hardware.host (issue 4 part 2): the emulated NVDIMM host.
#
#   host_test.sh BUILD_DIR SOURCE_DIR
#
# Builds (or reuses) the test bed, boots Debian's kernel under QEMU/TCG with a
# 5 GiB sparse NVDIMM (label area 128 KiB) twice with the same backing file:
#   boot 1  scenarios/host-create.sh  labels, five namespaces (all modes,
#           devdax 1 GiB and 2 MiB aligned), lists, plans, nested QEMU runs
#   boot 2  scenarios/host-verify.sh  the same namespaces, plans and data
# then check_host.py compares, field by field, and prints what it checked and
# the measured facts. Nothing is skipped: a missing tool is a failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbed.sh
source "$here/testbed.sh"

(($# == 2)) || testbed_die "usage: $0 BUILD_DIR SOURCE_DIR"
build_dir=$(cd "$1" && pwd) || testbed_die "BUILD_DIR $1 does not exist"
command -v python3 >/dev/null || testbed_die "python3 not found"
command -v truncate >/dev/null || testbed_die "truncate not found"

started=$SECONDS
testbed_load "$build_dir"
# shellcheck disable=SC2153 # set by testbed.env
echo "# test bed: $KERNEL_PACKAGE $KERNEL_PACKAGE_VERSION, initramfs key ${TESTBED_KEY:0:12} ($((SECONDS - started)) s)"

work=$build_dir/hardware/host
rm -rf -- "$work"
mkdir -p "$work"
img=$work/nvdimm0.img
nvdimm_size=5G

testbed_boot "$work/create.log" host-create "$img" "$nvdimm_size"
create_ms=$TESTBED_BOOT_MS
testbed_boot "$work/verify.log" host-verify "$img" "$nvdimm_size"
verify_ms=$TESTBED_BOOT_MS
echo "# backing file $img: $(stat -c %s "$img") bytes, $(du -k "$img" | cut -f1) KiB allocated"

set +e
python3 -B "$here/check_host.py" "$work/create.log" "$work/verify.log"
rc=$?
set -e
echo "# boot 1 (create) ${create_ms} ms, boot 2 (verify) ${verify_ms} ms, total $((SECONDS - started)) s"
if ((rc != 0)); then
  echo "# serial logs kept in $work" >&2
  exit "$rc"
fi
rm -f -- "$img"
