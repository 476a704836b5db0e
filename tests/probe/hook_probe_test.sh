#!/usr/bin/env bash
# The hook at `prepare` refuses a start when the domain's own QEMU would lay
# the NVDIMM out differently than planned, uses the probe cache on the next
# start, and probes again once the emulator binary changes. The emulator is
# tests/probe/fake-qemu (speaks QMP, reports a guest size one alignment step
# short); the hook is the real binary, run as libvirt runs it.
# Usage: hook_probe_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
hook="$build/nvdimm-hook-entry-uninstalled" # what libvirt runs; execs $build/nvdimm-hook
ctl="$build/nvdimmctl"
for binary in "$hook" "$ctl"; do
  [ -x "$binary" ] || { echo "FAIL: $binary not built" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/bin" "$work/dev" "$work/libvirt-run"
cp "$src/tests/probe/fake-qemu" "$work/bin/fake-qemu"
echo wrong >"$work/bin/fake-qemu.mode"
# The probe runs QEMU as an unprivileged user when the hook is root; the fake
# keeps its counters next to itself.
[ "$(id -u)" -eq 0 ] && chown 65534:65534 "$work/bin" "$work/bin/fake-qemu.mode"
# shellcheck source=../hook/hook_test_lib.sh
source "$src/tests/hook/hook_test_lib.sh"
hook_sandbox "$work" "$src/examples/inventory.json" "probe = auto"
"$ctl" rewrite "$src/examples/domain.xml" --inventory "$src/examples/inventory.json" \
  --device-dir "$work/dev" 2>/dev/null |
  sed "s|<emulator>[^<]*</emulator>|<emulator>$work/bin/fake-qemu</emulator>|" >"$work/domain.xml"
grep -q "fake-qemu" "$work/domain.xml" || { echo "FAIL: emulator not replaced" >&2; exit 1; }

run_hook() {  # run_hook CONFIG OP -> $status, $work/err
  status=0
  NVDIMM_HOOK_CONFIG=$1 "$hook" pmem-guest "$2" begin - <"$work/domain.xml" 2>"$work/err" || status=$?
}
invocations() { cat "$work/bin/fake-qemu.invocations" 2>/dev/null || echo 0; }

run_hook "$work/hook.conf" prepare
check "prepare refused (exit $status)" test "$status" -eq 1
check "message names the QEMU binary" grep -qF "$work/bin/fake-qemu" "$work/err"
check "message names the planned guest size 402653184" grep -qF "402653184" "$work/err"
check "message names the measured guest size 400556032" grep -qF "400556032" "$work/err"
check "the emulator ran once ($(invocations))" test "$(invocations)" -eq 1
echo "   hook said: $(head -c 300 "$work/err" | tr '\n' ' ')"

run_hook "$work/hook.conf" prepare
check "second start refused from the cache" test "$status" -eq 1
check "the emulator did not run again ($(invocations))" test "$(invocations)" -eq 1

touch -d '+1 minute' "$work/bin/fake-qemu"  # an upgraded binary: new mtime
run_hook "$work/hook.conf" prepare
check "changed binary is probed again ($(invocations))" test "$(invocations)" -eq 2

echo right >"$work/bin/fake-qemu.mode"
cp "$work/bin/fake-qemu" "$work/bin/fake-qemu.new" && mv "$work/bin/fake-qemu.new" "$work/bin/fake-qemu"
run_hook "$work/hook.conf" prepare
check "a QEMU that matches the plan is allowed (exit $status)" test "$status" -eq 0
check "it was probed ($(invocations))" test "$(invocations)" -eq 3
run_hook "$work/hook.conf" release

sed 's/^probe = auto/probe = off/' "$work/hook.conf" >"$work/off.conf"
echo wrong >"$work/bin/fake-qemu.mode"
cp "$work/bin/fake-qemu" "$work/bin/fake-qemu.new" && mv "$work/bin/fake-qemu.new" "$work/bin/fake-qemu"
run_hook "$work/off.conf" prepare
check "probe = off starts without probing (exit $status)" test "$status" -eq 0
check "the emulator did not run ($(invocations))" test "$(invocations)" -eq 3

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
