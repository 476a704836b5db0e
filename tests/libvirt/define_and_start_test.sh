#!/bin/bash
# Issue 2, real libvirt: the XML `nvdimmctl rewrite` makes of examples/domain.xml
# is accepted by `virsh define` of Debian 12's libvirt (a real session libvirtd),
# `virsh start` of it with a file-backed namespace of the planned size
# succeeds, and QEMU reports the planned geometry.
#
#   define_and_start_test.sh BUILD_DIR SOURCE_DIR [DOMAIN.xml [INVENTORY.json]]
#
# DOMAIN.xml (default examples/domain.xml, x86_64) selects the architecture:
# tests/data/domain-ppc64.xml (pseries) and tests/data/domain-aarch64.xml
# (virt, where the rewrite also adds UEFI and a 64-bit CPU) run the same
# checks with that architecture's rounding rules; those two start --paused
# (the layout is fixed before any guest code runs; UEFI under TCG is slow).
# INVENTORY.json (default examples/inventory.json) supplies the namespace;
# tests/data/inventory-devdax-1g.json is a 3 GiB devdax namespace with a
# 1 GiB alignment (on ppc64: the 256 MiB label, S = 3 GiB, G = 2 GiB).
# libvirt.i686 passes an i686 domain (qemu-system-i386, pc machine) to check
# issue 10's i686 plan.
#
# Runs as root (it re-execs itself in a private mount + pid namespace, see
# session_libvirtd.sh). TCG only. Prints one "ok: ..." line per assertion;
# exits non-zero with a "FAIL: ..." line on the first failure. Nothing is
# skipped: a missing tool or binary is a failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=session_libvirtd.sh
source "$here/session_libvirtd.sh"

(($# >= 2 && $# <= 4)) || session_die "usage: $0 BUILD_DIR SOURCE_DIR [DOMAIN.xml [INVENTORY.json]]"
session_reexec_in_namespace "$here/$(basename "${BASH_SOURCE[0]}")" "$@"

build_dir=$(cd "$1" && pwd) || session_die "BUILD_DIR $1 does not exist"
source_dir=$(cd "$2" && pwd) || session_die "SOURCE_DIR $2 does not exist"
nvdimmctl=$build_dir/nvdimmctl
inventory=${4:-$source_dir/examples/inventory.json}
domain_xml=${3:-$source_dir/examples/domain.xml}

session_require_tools python3 virt-xml-validate truncate stat
[[ -x $nvdimmctl ]] || session_die "$nvdimmctl is missing or not executable: build the nvdimmctl target first"
[[ -r $inventory ]] || session_die "$inventory is missing"
[[ -r $domain_xml ]] || session_die "$domain_xml is missing"

work=$(session_mktemp_workdir)
cleanup() {
  local rc=$?
  set +e
  trap '' PIPE # the reader of our output may be gone (ctest killed us)
  if ((rc != 0)); then session_dump_logs; fi
  stop_session_libvirtd
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

checks=0
ok() {
  echo "ok: $*"
  checks=$((checks + 1))
}
fail() { session_die "$*"; }

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
  ok "$1 $2 == $3"
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# py SCRIPT ARGS...: python3 with the script on the command line; stdin free.
py() {
  local script=$1
  shift
  python3 -c "$script" "$@"
}

# ---------------------------------------------------------------------------
# The namespace the annotation selects, from the inventory.
read -r domain_name annotated_uuid arch < <(py '
import sys, xml.etree.ElementTree as ET
ns = "urn:nvdimm-hook:1"
root = ET.parse(sys.argv[1]).getroot()
entries = root.findall("./metadata/{%s}nvdimms/{%s}nvdimm" % (ns, ns))
if len(entries) != 1 or "uuid" not in entries[0].attrib:
    sys.exit("%s: expected exactly one <nvdimm uuid=...> annotation entry" % sys.argv[1])
arch = root.find("./os/type").get("arch", "x86_64")
print(root.findtext("./name").strip(), entries[0].attrib["uuid"], arch)
' "$domain_xml")
[[ -n ${annotated_uuid:-} ]] || fail "cannot read the name and annotation of $domain_xml"

# The guest's RAM before the rewrite (the example has no memory device yet).
base_memory=$(py '
import sys, xml.etree.ElementTree as ET
UNITS = {"": 1024, "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2,
         "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
root = ET.parse(sys.argv[1]).getroot()
if root.find("./devices/memory") is not None:
    sys.exit("%s already has a memory device" % sys.argv[1])
m = root.find("./memory")
print(int(m.text.strip()) * UNITS[m.get("unit", "").lower()])
' "$domain_xml")

read -r chardev device_size device_align < <(py '
import json, sys
uuid = sys.argv[2]
for ns in json.load(open(sys.argv[1])):
    if ns.get("uuid") == uuid:
        devs = ns["daxregion"]["devices"]
        if ns.get("mode") != "devdax" or len(devs) != 1:
            sys.exit("namespace %s is not a devdax namespace with one device" % uuid)
        print(devs[0]["chardev"], devs[0]["size"], devs[0]["align"])
        break
else:
    sys.exit("namespace %s not in %s" % (uuid, sys.argv[1]))
' "$inventory" "$annotated_uuid")
[[ -n ${device_size:-} ]] || fail "could not read namespace $annotated_uuid from $inventory"

# The "device": a sparse regular file of exactly the namespace's size, named
# like the dax character device, that QEMU (running as SESSION_UID) can map.
devdir=$work/dev
mkdir "$devdir"
truncate -s "$device_size" "$devdir/$chardev"
chown "$SESSION_UID:$SESSION_GID" "$devdir" "$devdir/$chardev"
chmod 0600 "$devdir/$chardev"
expect_eq "backing file $devdir/$chardev size" "$(stat -c %s "$devdir/$chardev")" "$device_size"

# ---------------------------------------------------------------------------
# Plan and rewrite with the real nvdimmctl.
if ! "$nvdimmctl" plan --inventory "$inventory" --device-dir "$devdir" --json \
  "$domain_xml" >"$work/plan.json" 2>"$work/plan.err"; then
  cat "$work/plan.err" >&2
  fail "nvdimmctl plan failed"
fi
# One "key value" line per field of the single planned device.
declare -A plan=()
while read -r key value; do
  plan[$key]=$value
done < <(py '
import json, sys
p = json.load(open(sys.argv[1]))
devs = p.get("devices")
if not isinstance(devs, list) or len(devs) != 1:
    sys.exit("plan: expected exactly one device, got %r" % (devs,))
d = devs[0]
print("domain", p["domain"])
for k in ("namespace", "uuid", "mode", "path"):
    if not isinstance(d.get(k), str) or not d[k] or any(c.isspace() for c in d[k]):
        sys.exit("plan: device field %s missing or not a plain string: %r" % (k, d.get(k)))
    print(k, d[k])
for k in ("device_size", "device_align", "target_size", "label_size",
          "align_size", "guest_size", "node"):
    if type(d.get(k)) is not int:
        sys.exit("plan: device field %s missing or not an integer: %r" % (k, d.get(k)))
    print(k, d[k])
if type(d.get("pmem")) is not bool:
    sys.exit("plan: device field pmem missing or not a boolean: %r" % (d.get("pmem"),))
print("pmem", "yes" if d["pmem"] else "no")
' "$work/plan.json")
[[ -n ${plan[guest_size]:-} ]] || fail "cannot read the plan: $(cat "$work/plan.json")"
echo "# plan: $(tr -d '\n' <"$work/plan.json")"
expect_eq "plan domain" "${plan[domain]}" "$domain_name"
expect_eq "plan uuid" "${plan[uuid]}" "$annotated_uuid"
expect_eq "plan mode" "${plan[mode]}" devdax
expect_eq "plan path" "${plan[path]}" "$devdir/$chardev"
expect_eq "plan device size" "${plan[device_size]}" "$device_size"
expect_eq "plan device align" "${plan[device_align]}" "$device_align"
expect_eq "plan pmem (devdax is DAX)" "${plan[pmem]}" yes
target_size=${plan[target_size]}
((target_size <= device_size)) ||
  fail "plan target size ${plan[target_size]} > device size $device_size"
ok "plan target size ${plan[target_size]} <= device size $device_size"
if [[ $arch == ppc64* ]]; then
  # libvirt qemuDomainNVDimmAlignSizePseries: S - L in 256 MiB steps.
  (((target_size - plan[label_size]) % (256 * 1024 * 1024) == 0)) ||
    fail "plan target size ${plan[target_size]} minus label ${plan[label_size]} is not a multiple of 256 MiB"
  ok "plan target size minus label is a multiple of 256 MiB (pseries)"
else
  ((target_size % (2 * 1024 * 1024) == 0)) ||
    fail "plan target size ${plan[target_size]} is not a multiple of 2 MiB: libvirt would round it up at start"
  ok "plan target size ${plan[target_size]} is a multiple of 2 MiB"
fi

if ! "$nvdimmctl" rewrite --inventory "$inventory" --device-dir "$devdir" \
  "$domain_xml" >"$work/rewritten.xml" 2>"$work/rewrite.err"; then
  cat "$work/rewrite.err" >&2
  fail "nvdimmctl rewrite failed"
fi
sed 's/^/# rewrite: /' "$work/rewrite.err"
[[ -s $work/rewritten.xml ]] || fail "nvdimmctl rewrite printed no XML"
[[ -s $work/rewrite.err ]] || fail "nvdimmctl rewrite reported no change for a domain without the device"
chmod 0644 "$work/rewritten.xml"
if [[ $arch == aarch64 ]]; then
  # What libvirt needs for ACPI on virt, each a change line of its own.
  grep -q "added <os firmware='efi'>" "$work/rewrite.err" ||
    fail "the aarch64 rewrite did not add UEFI firmware"
  ok "the aarch64 rewrite added <os firmware='efi'>"
  grep -q "added <cpu mode='maximum'>" "$work/rewrite.err" ||
    fail "the aarch64 rewrite did not add a 64-bit CPU"
  ok "the aarch64 rewrite added <cpu mode='maximum'>"
fi

virt-xml-validate "$work/rewritten.xml" domain >"$work/validate.out" 2>&1 ||
  fail "rewritten XML does not validate against libvirt's domain schema: $(cat "$work/validate.out")"
ok "rewritten XML validates against libvirt's domain schema (virt-xml-validate)"

# nvdimm_xml FILE: "path target_size label_size align_size node pmem access"
# of the only <memory model='nvdimm'> device of a domain XML, sizes in bytes.
nvdimm_xml() {
  py '
import sys, xml.etree.ElementTree as ET
UNITS = {"": 1024, "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000,
         "m": 1024**2, "mib": 1024**2, "mb": 1000**2, "g": 1024**3,
         "gib": 1024**3, "gb": 1000**3, "t": 1024**4, "tib": 1024**4,
         "tb": 1000**4}
def size(e):
    if e is None:
        return "none"
    return str(int(e.text.strip()) * UNITS[e.get("unit", "").lower()])
root = ET.parse(sys.argv[1]).getroot()
mems = root.findall("./devices/memory[@model=\"nvdimm\"]")
if len(mems) != 1:
    sys.exit("%s: expected one <memory model=nvdimm>, found %d" % (sys.argv[1], len(mems)))
m = mems[0]
node = m.find("./target/node")
print(m.findtext("./source/path", "none").strip() or "none",
      size(m.find("./target/size")),
      size(m.find("./target/label/size")),
      size(m.find("./source/alignsize")),
      node.text.strip() if node is not None else "none",
      "yes" if m.find("./source/pmem") is not None else "no",
      m.get("access", "none"))
' "$1"
}

# expect_xml WHERE FILE: the nvdimm device of FILE is exactly the plan's.
expect_xml() {
  local where=$1 file=$2 path target label align node pmem access
  read -r path target label align node pmem access < <(nvdimm_xml "$file") ||
    fail "$where: cannot read the nvdimm device of $file"
  expect_eq "$where source path" "$path" "${plan[path]}"
  expect_eq "$where target size" "$target" "${plan[target_size]}"
  expect_eq "$where label size" "$label" "${plan[label_size]}"
  expect_eq "$where alignsize" "$align" "${plan[align_size]}"
  expect_eq "$where target node" "$node" "${plan[node]}"
  expect_eq "$where <pmem/>" "$pmem" "${plan[pmem]}"
  expect_eq "$where access" "$access" shared
}
expect_xml "rewritten XML" "$work/rewritten.xml"

# ---------------------------------------------------------------------------
# The real daemon.
start_session_libvirtd "$work"
domain=${plan[domain]}

t0=$(now_ms)
virsh_session define "$work/rewritten.xml" >"$work/define.out" 2>&1 ||
  fail "virsh define of the rewritten XML failed: $(cat "$work/define.out")"
t1=$(now_ms)
ok "virsh define accepted the rewritten XML ($((t1 - t0)) ms)"

virsh_session dumpxml --inactive "$domain" >"$work/inactive.xml" ||
  fail "virsh dumpxml --inactive $domain failed"
expect_xml "persistent definition" "$work/inactive.xml"

start_flags=()
expected_state=running
if [[ $arch != x86_64 ]]; then
  start_flags=(--paused)
  expected_state=paused
fi
t0=$(now_ms)
virsh_session start "${start_flags[@]}" "$domain" >"$work/start.out" 2>&1 ||
  fail "virsh start ${start_flags[*]} $domain failed: $(cat "$work/start.out")"
t1=$(now_ms)
ok "virsh start ${start_flags[*]} $domain ($arch) succeeded ($((t1 - t0)) ms)"
# QEMU's own warnings (e.g. pmem=on on a file that is not DAX), for the record.
qemu_log=$work/cache/libvirt/qemu/log/$domain.log
[[ -r $qemu_log ]] || fail "no QEMU log at $qemu_log"
grep -E 'qemu-system[^:]*: |^Warning' "$qemu_log" | sed 's/^/# qemu: /' || true
state=$(virsh_session domstate "$domain") || fail "virsh domstate $domain failed"
expect_eq "domain state" "$state" "$expected_state"

# qmp JSON: the "return" member of a QMP command, as JSON.
qmp() {
  local out
  out=$(virsh_session qemu-monitor-command "$domain" "$1") ||
    fail "QMP $1 failed: $out"
  py '
import json, sys
r = json.loads(sys.argv[1])
if "return" not in r:
    sys.exit("QMP error: %s" % sys.argv[1])
print(json.dumps(r["return"]))
' "$out" || fail "QMP $1 answered: $out"
}

devices=$(qmp '{"execute":"query-memory-devices"}')
echo "# query-memory-devices: $devices"
read -r qsize qnode qmemdev qid < <(py '
import json, sys
ds = [d for d in json.loads(sys.argv[1]) if d.get("type") == "nvdimm"]
if len(ds) != 1:
    sys.exit("expected one nvdimm in query-memory-devices, got %d" % len(ds))
d = ds[0]["data"]
print(d["size"], d["node"], d["memdev"], d.get("id", "none"))
' "$devices") || fail "unexpected query-memory-devices answer: $devices"
expect_eq "guest size (QMP query-memory-devices)" "$qsize" "${plan[guest_size]}"
expect_eq "guest node (QMP query-memory-devices)" "$qnode" "${plan[node]}"

summary=$(qmp '{"execute":"query-memory-size-summary"}')
read -r qbase qplugged < <(py '
import json, sys
s = json.loads(sys.argv[1])
print(s["base-memory"], s.get("plugged-memory", 0))
' "$summary") || fail "unexpected query-memory-size-summary answer: $summary"
expect_eq "guest RAM unchanged by the rewrite (QMP base-memory)" "$qbase" "$base_memory"
expect_eq "plugged memory (QMP plugged-memory)" "$qplugged" "${plan[guest_size]}"

qom_get() {
  qmp "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"$1\",\"property\":\"$2\"}}"
}
expect_eq "label size (qom-get /machine/peripheral/$qid label-size)" \
  "$(qom_get "/machine/peripheral/$qid" label-size)" "${plan[label_size]}"
expect_eq "backend size (qom-get $qmemdev size)" \
  "$(qom_get "$qmemdev" size)" "${plan[target_size]}"
expect_eq "backend align (qom-get $qmemdev align)" \
  "$(qom_get "$qmemdev" align)" "${plan[align_size]}"
expect_eq "backend pmem (qom-get $qmemdev pmem)" \
  "$(qom_get "$qmemdev" pmem)" "$([[ ${plan[pmem]} == yes ]] && echo true || echo false)"
expect_eq "backend share (qom-get $qmemdev share)" "$(qom_get "$qmemdev" share)" true
expect_eq "backend mem-path (qom-get $qmemdev mem-path)" \
  "$(qom_get "$qmemdev" mem-path)" "\"${plan[path]}\""

# libvirt rounds nvdimm sizes up to 2 MiB at start: the planned size must
# come out unchanged in the live definition.
virsh_session dumpxml "$domain" >"$work/live.xml" || fail "virsh dumpxml $domain failed"
expect_xml "live definition" "$work/live.xml"
# firmware='efi' is resolved at start: the live definition names the loader.
if [[ $arch == aarch64 ]]; then
  loader=$(py '
import sys, xml.etree.ElementTree as ET
print((ET.parse(sys.argv[1]).getroot().findtext("./os/loader") or "none").strip())
' "$work/live.xml")
  # Not a Secure Boot build with enrolled keys (AAVMF_CODE.ms.fd, …secboot…).
  [[ $loader == */AAVMF_CODE.fd || $loader == */QEMU_EFI*.fd ]] ||
    fail "libvirt chose firmware '$loader', expected the plain UEFI build"
  ok "libvirt chose the plain UEFI firmware $loader"
fi

expect_eq "backing file size after start" "$(stat -c %s "$devdir/$chardev")" "$device_size"

t0=$(now_ms)
virsh_session destroy "$domain" >"$work/destroy.out" 2>&1 ||
  fail "virsh destroy $domain failed: $(cat "$work/destroy.out")"
t1=$(now_ms)
ok "virsh destroy $domain ($((t1 - t0)) ms)"
expect_eq "domain state" "$(virsh_session domstate "$domain")" "shut off"
undefine_flags=()
[[ $arch == aarch64 ]] && undefine_flags=(--nvram) # the UEFI variable store libvirt made
virsh_session undefine "${undefine_flags[@]}" "$domain" >"$work/undefine.out" 2>&1 ||
  fail "virsh undefine $domain failed: $(cat "$work/undefine.out")"
remaining=$(virsh_session list --all --name | tr -d '[:space:]')
expect_eq "domains left after undefine" "${remaining:-none}" none

echo "PASS: $checks checks"
