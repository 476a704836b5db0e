#!/usr/bin/env bash
# `nvdimmctl probe` end to end against the real QEMU and tests/probe/fake-qemu:
# exit 0 when QEMU's measured layout matches, 1 on a mismatch or a probe that
# cannot run (message on stderr naming the binary and both numbers), 2 on bad
# usage; --json sizes in bytes; --state-dir reuses the cached measurement
# until the binary changes.
# Usage: probe_cli_test.sh NVDIMMCTL SOURCE_DIR
set -euo pipefail
ctl=$1
src=$2
qemu=/usr/bin/qemu-system-x86_64
[ -x "$ctl" ] || { echo "FAIL: $ctl not built" >&2; exit 1; }
[ -x "$qemu" ] || { echo "FAIL: $qemu missing (package qemu-system-x86)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The probe runs QEMU as uid 65534 when we are root: it must reach the fake.
chmod 755 "$work"
passed=0
failed=0

# run CASE EXPECTED_STATUS [FRAGMENT_IN_OUTPUT...] -- ARGS: stdout+stderr are
# checked together; each fragment must appear.
run() {
  local name=$1 want=$2
  shift 2
  local fragments=()
  while [ "$1" != "--" ]; do fragments+=("$1"); shift; done
  shift
  local status=0
  "$ctl" probe "$@" >"$work/out" 2>"$work/err" || status=$?
  local why=""
  [ "$status" -eq "$want" ] || why="exit status $status, expected $want"
  for fragment in "${fragments[@]}"; do
    grep -qF -- "$fragment" "$work/out" "$work/err" || why="${why:+$why; }output lacks '$fragment'"
  done
  if [ -z "$why" ]; then
    passed=$((passed + 1))
    echo "ok: $name"
    sed 's/^/    /' "$work/out" "$work/err" | head -12
  else
    failed=$((failed + 1))
    echo "FAIL: $name: $why"
    sed 's/^/    /' "$work/out" "$work/err" | head -20
  fi
}

# --- a bare geometry against the real QEMU
run "386 MiB devdax example matches" 0 "matches" "402653184" "7.2" -- \
  --target-size 386MiB --label-size 128KiB --align-size 2MiB --pmem --machine pc
run "json: sizes in bytes" 0 '"matches_plan": true' '"guest_size": 402653184' \
  '"target_size": 404750336' '"qemu_version": "7.' '"emulator": "/usr/bin/qemu-system-x86_64"' -- \
  --target-size 404750336 --json
run "1 GiB alignment, 3 GiB guest" 0 '"guest_size": 3221225472' -- \
  --target-size 3074MiB --align-size 1GiB --json
run "a plan that expects more than QEMU gives" 1 "MISMATCH" "$qemu" "404750336" "402653184" -- \
  --target-size 386MiB --expect-guest-size 386MiB
run "a geometry QEMU refuses" 1 "$qemu" "too small to contain nvdimm label" -- \
  --target-size 1GiB --align-size 1GiB
run "a missing binary" 1 "$work/no-such-qemu" "No such file" -- \
  --emulator "$work/no-such-qemu" --target-size 386MiB
run "a machine type carrying options" 1 "is not a QEMU machine name" -- \
  --machine 'pc,accel=kvm' --target-size 386MiB

# --- a domain, planned from the example inventory (the devdax namespace dd0)
cat >"$work/vm.xml" <<'XML'
<domain type='qemu'>
  <name>vm-probe</name>
  <uuid>0b1e6a52-7f3c-4d8e-9a10-3c5e7f9b1d24</uuid>
  <metadata>
    <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">
      <nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206"/>
    </nvdimm:nvdimms>
  </metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>
XML
inv=(--inventory "$src/examples/inventory.json" --device-dir "$work/dev")
run "domain: every planned device probed" 0 "$work/dev/dax0.0" "pc-i440fx-7.2" "matches" -- \
  "$work/vm.xml" "${inv[@]}"
run "domain: json" 0 '"device": "'"$work"'/dev/dax0.0"' '"matches_plan": true' -- \
  "$work/vm.xml" "${inv[@]}" --json

# --- the fake emulator: mismatch, and the cache
mkdir -m 755 "$work/fake"
cp "$src/tests/probe/fake-qemu" "$work/fake/fake-qemu"
chmod 755 "$work/fake/fake-qemu"
for f in invocations uid env pid mode; do : >"$work/fake/fake-qemu.$f"; chmod 666 "$work/fake/fake-qemu.$f"; done
fake=(--emulator "$work/fake/fake-qemu" --state-dir "$work/state")
run "fake: wrong guest size refused" 1 "$work/fake/fake-qemu" "402653184" "400556032" -- \
  "$work/vm.xml" "${inv[@]}" "${fake[@]}"
run "fake: second run from the cache" 1 "[cached]" "400556032" -- \
  "$work/vm.xml" "${inv[@]}" "${fake[@]}"
count=$(cat "$work/fake/fake-qemu.invocations")
if [ "$count" = 1 ]; then passed=$((passed + 1)); echo "ok: fake ran once for two probes"
else failed=$((failed + 1)); echo "FAIL: fake ran $count times, expected 1"; fi
touch "$work/fake/fake-qemu"
run "fake: a changed binary is probed again" 1 "probed in" -- "$work/vm.xml" "${inv[@]}" "${fake[@]}"
count=$(cat "$work/fake/fake-qemu.invocations")
if [ "$count" = 2 ]; then passed=$((passed + 1)); echo "ok: fake ran again after touch"
else failed=$((failed + 1)); echo "FAIL: fake ran $count times after touch, expected 2"; fi
perms=$(stat -c %a "$work/state/probe-cache.json")
if [ "$perms" = 600 ]; then passed=$((passed + 1)); echo "ok: probe-cache.json is 0600"
else failed=$((failed + 1)); echo "FAIL: probe-cache.json mode $perms"; fi

# --- usage
run "no domain, no geometry" 2 "required" --
run "domain and geometry" 2 "not both" -- "$work/vm.xml" --target-size 386MiB
run "bad size" 2 "target-size" -- --target-size 12parsecs
run "bad timeout" 2 "timeout" -- --target-size 386MiB --timeout 0

echo "probe cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
