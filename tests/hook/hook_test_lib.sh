# shellcheck shell=bash
# Helpers shared by the hook tests (tests/hook/*_test.sh): assertions that
# print one line each and fail loudly, small XML/JSON readers in python3.
#
# The sourcing script defines fail() (how a failure ends the script).

checks=0
ok() {
  echo "ok: $*"
  checks=$((checks + 1))
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
  ok "$1: $2"
}

# expect_ne WHAT ACTUAL UNWANTED
expect_ne() {
  [[ $2 != "$3" ]] || fail "$1: got '$2', expected anything else"
  ok "$1: $2 (not $3)"
}

# expect_contains WHAT FILE TEXT: FILE contains TEXT (fixed string).
expect_contains() {
  grep -qF -- "$3" "$2" || fail "$1: '$3' not found in: $(cat "$2")"
  ok "$1: says '$3'"
}

# expect_lacks WHAT FILE TEXT: FILE does not contain TEXT.
expect_lacks() {
  ! grep -qF -- "$3" "$2" || fail "$1: '$3' found in: $(cat "$2")"
  ok "$1: does not say '$3'"
}

# check DESCRIPTION COMMAND...: one "ok:"/"FAIL:" line, counted in
# $passed/$failed; the script goes on (it ends with [[ $failed -eq 0 ]]).
passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1)); echo "ok: $what"
  else
    failed=$((failed + 1)); echo "FAIL: $what"
  fi
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# py SCRIPT ARGS...: python3 with the script on the command line.
py() {
  local script=$1
  shift
  python3 -c "$script" "$@"
}

# plain_domain_xml SOURCE NAME UUID [DESCRIPTION]: SOURCE (a domain XML) with
# its <metadata>, XML comments and <title> removed and the given name and
# uuid; with DESCRIPTION as <description> when given. On stdout.
plain_domain_xml() {
  py '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for tag in ("metadata", "title", "description"):
    for e in root.findall(tag):
        root.remove(e)
root.find("name").text = sys.argv[2]
root.find("uuid").text = sys.argv[3]
if len(sys.argv) > 4:
    d = ET.Element("description")
    d.text = sys.argv[4]
    root.insert(2, d)
ET.indent(root)
sys.stdout.write(ET.tostring(root, encoding="unicode") + "\n")
' "$@"
}

# nvdimm_target_bytes FILE: target size in bytes of the only nvdimm of FILE.
nvdimm_target_bytes() {
  py '
import sys, xml.etree.ElementTree as ET
UNITS = {"": 1024, "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2,
         "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
root = ET.parse(sys.argv[1]).getroot()
mems = root.findall("./devices/memory[@model=\"nvdimm\"]")
if len(mems) != 1:
    sys.exit("%s: expected one <memory model=nvdimm>, found %d" % (sys.argv[1], len(mems)))
e = mems[0].find("./target/size")
print(int(e.text.strip()) * UNITS[e.get("unit", "").lower()])
' "$1"
}

# plan_field PLAN_JSON FIELD: FIELD of the only device of an
# `nvdimmctl plan --json` answer.
plan_field() {
  py '
import json, sys
p = json.load(open(sys.argv[1]))
devs = p.get("devices")
if not isinstance(devs, list) or len(devs) != 1:
    sys.exit("plan: expected exactly one device, got %r" % (devs,))
print(devs[0][sys.argv[2]])
' "$1" "$2"
}

# hook_sandbox WORK INVENTORY [KEY = VALUE]...: what the hook needs to run
# without libvirtd: WORK/dev/dax0.0 (sparse, the size of the example devdax
# namespace), WORK/libvirt-run, and WORK/hook.conf pointing at INVENTORY with
# run and state dirs under WORK, plus the extra config lines given.
hook_sandbox() {
  local work=$1 inventory=$2
  shift 2
  mkdir -p "$work/dev" "$work/libvirt-run"
  truncate -s 526385152 "$work/dev/dax0.0"
  {
    echo "inventory = $inventory"
    echo "device-dir = $work/dev"
    echo "run-dir = $work/run"
    echo "state-dir = $work/state"
    echo "libvirt-run-dir = $work/libvirt-run"
    printf '%s\n' "$@"
  } >"$work/hook.conf"
}
