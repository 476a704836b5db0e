# shellcheck shell=bash
# Host-side helpers to boot the emulated NVDIMM host (build-testbed.sh's
# kernel + initramfs) under QEMU/TCG and collect what its scenario reports.
#
#   source tests/hardware/testbed.sh
#   testbed_load BUILD_DIR              # builds/refreshes the test bed, reads testbed.env
#   testbed_boot LOG SCENARIO IMG SIZE  # one boot; IMG: sparse NVDIMM backing file
#   testbed_results LOG                 # "passed failed" from NVH-DONE, or fails
#
# Every QEMU runs under `timeout` (TESTBED_BOOT_TIMEOUT seconds) with
# accel=tcg; a boot that does not reach NVH-DONE is a failure that prints the
# serial log's tail.

TESTBED_BOOT_TIMEOUT=${TESTBED_BOOT_TIMEOUT:-300}
TESTBED_MEM=${TESTBED_MEM:-1024M}
# vCPUs (multi-threaded TCG: one host thread each).
TESTBED_SMP=${TESTBED_SMP:-1}
TESTBED_MAXMEM=${TESTBED_MAXMEM:-16G}
TESTBED_LABEL_SIZE=${TESTBED_LABEL_SIZE:-128K}
# Extra kernel command line words (tests/selinux: security=selinux ...).
# TESTBED_QEMU_ARGS (array) adds QEMU arguments (tests/realhost: a 9p root, a
# disk); INITRD may be replaced after testbed_load.
TESTBED_APPEND=${TESTBED_APPEND:-}

testbed_die() {
  echo "FAIL: $*" >&2
  exit 1
}

testbed_load() {
  local build_dir=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  bash "$here/build-testbed.sh" "$build_dir" || testbed_die "build-testbed.sh $build_dir failed"
  # shellcheck disable=SC1091
  source "$build_dir/testbed/testbed.env"
  [[ -r $KERNEL && -r $INITRD ]] || testbed_die "testbed.env names a missing kernel or initrd"
  command -v qemu-system-x86_64 >/dev/null || testbed_die "qemu-system-x86_64 not found (qemu-system-x86)"
  command -v timeout >/dev/null || testbed_die "timeout not found (coreutils)"
}

# testbed_boot LOG SCENARIO IMG SIZE: boots once with IMG (created sparse with
# SIZE when missing) as the NVDIMM backing; the serial console goes to LOG,
# QEMU's own stderr to LOG.qemu. Sets TESTBED_BOOT_MS to the wall time.
# no_timer_check: on an overloaded host TCG delivers the timer interrupt late and
# the kernel panics with "IO-APIC + timer doesn't work" before any test runs
# (seen once with load average 60).
testbed_boot() {
  local log=$1 scenario=$2 img=$3 size=$4 rc start
  [[ -e $img ]] || truncate -s "$size" "$img" || testbed_die "truncate -s $size $img failed"
  start=${EPOCHREALTIME/./}
  set +e
  timeout --kill-after=10 "$TESTBED_BOOT_TIMEOUT" qemu-system-x86_64 \
    -machine pc,nvdimm=on,accel=tcg -cpu max -smp "$TESTBED_SMP" \
    -m "$TESTBED_MEM,slots=4,maxmem=$TESTBED_MAXMEM" \
    -object "memory-backend-file,id=nvmem0,share=on,mem-path=$img,size=$size" \
    -device "nvdimm,id=nvdimm0,memdev=nvmem0,label-size=$TESTBED_LABEL_SIZE" \
    "${TESTBED_QEMU_ARGS[@]}" \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 loglevel=4 panic=-1 no_timer_check nvh.scenario=$scenario${TESTBED_APPEND:+ $TESTBED_APPEND}" \
    -display none -no-reboot -nodefaults -serial stdio \
    </dev/null >"$log" 2>"$log.qemu"
  rc=$?
  set -e
  TESTBED_BOOT_MS=$(((${EPOCHREALTIME/./} - start) / 1000))
  if ((rc == 124 || rc == 137)); then
    tail -n 60 "$log" >&2
    testbed_die "boot '$scenario' did not finish within ${TESTBED_BOOT_TIMEOUT}s (timeout killed QEMU)"
  fi
  if ((rc != 0)); then
    tail -n 60 "$log" >&2
    cat "$log.qemu" >&2
    testbed_die "QEMU exited with status $rc in boot '$scenario'"
  fi
  grep -q '^NVH-DONE ' "$log" || {
    tail -n 60 "$log" >&2
    testbed_die "boot '$scenario' ended without NVH-DONE (see the serial log above)"
  }
  echo "# boot '$scenario': ${TESTBED_BOOT_MS} ms wall, kernel $KERNEL_VERSION" >&2
}
