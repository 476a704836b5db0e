#!/usr/bin/env bash
# `nvdimmctl plan --compare [--json]`: what oVirt and Nova would write for
# each planned device of a real inventory (examples/inventory.json, the
# emulated host's `ndctl list -N -v`), with the numbers worked out by hand
# from their formulas (src/core/peer_formulas.cc). Without --compare the plan
# has no "peers".
# Usage: compare_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
ctl="$build/nvdimmctl"
[ -x "$ctl" ] || { echo "FAIL: $ctl not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inventory="$src/examples/inventory.json"

# domain ARCH MACHINE NAMESPACE...: these namespaces of the inventory, one NUMA cell.
domain() {
  cat >"$work/$1.xml" <<XML
<domain type='qemu'>
  <name>cmp-$1</name>
  <uuid>5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e02</uuid>
  <metadata>
    <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">
      $(for ns in "${@:3}"; do echo "<nvdimm:nvdimm namespace='$ns'/>"; done)
    </nvdimm:nvdimms>
  </metadata>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type arch='$1' machine='$2'>hvm</type></os>
  <cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/></numa></cpu>
  <devices><emulator>/usr/bin/qemu-system-$1</emulator></devices>
</domain>
XML
  echo "$work/$1.xml"
}

x86=$(domain x86_64 pc namespace0.0 namespace0.1 namespace0.3 namespace0.2)
# ppc64 cannot take the 256 MiB raw and sector namespaces at all (256 MiB + label).
ppc=$(domain ppc64 pseries namespace0.0)
"$ctl" plan "$x86" --inventory "$inventory" --compare --json >"$work/x86.json"
"$ctl" plan "$ppc" --inventory "$inventory" --compare --json >"$work/ppc.json"
"$ctl" plan "$x86" --inventory "$inventory" --json >"$work/plain.json"
"$ctl" plan "$x86" --inventory "$inventory" --compare >"$work/x86.txt"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
MiB, KiB = 1 << 20, 1 << 10
failures = []

def device(plan, namespace):
    return next(d for d in plan["devices"] if d["namespace"] == namespace)

def expect(plan, namespace, peer, **want):
    got = device(plan, namespace)["peers"][peer]
    for key, value in want.items():
        if got.get(key, "<absent>") != value:
            failures.append("%s %s %s %s: %r, expected %r" % (plan["arch"], namespace, peer, key,
                                                               got.get(key, "<absent>"), value))

x86 = json.load(open(work + "/x86.json"))
# devdax 502 MiB: oVirt alignDown(502M,128M)=384M, trimmed by
# alignDown(384M-128K,2M) % 128M = 126M -> 258M, guest 256M; Nova S = D,
# label 2M, guest 500M, slots = 4 vPMEMs.
expect(x86, "namespace0.0", "ovirt", supported=True, target_size=258 * MiB,
       libvirt_target_size=258 * MiB, label_size=128 * KiB, align_size=2 * MiB,
       guest_size=256 * MiB, pmem=True, access="shared", broken_rules=[])
expect(x86, "namespace0.0", "nova", supported=True, target_size=526385152,
       label_size=2 * MiB, align_size=2 * MiB, guest_size=500 * MiB, pmem=True,
       max_memory_slots=4, hotplug=False, broken_rules=[])
# fsdax: oVirt the same numbers, but <pmem/> on a page-cache block device;
# Nova does not take fsdax.
expect(x86, "namespace0.1", "ovirt", supported=True, target_size=258 * MiB,
       guest_size=256 * MiB, broken_rules=["pmem-only-for-dax"])
expect(x86, "namespace0.1", "nova", supported=False)
# raw 256 MiB: no align reported -> alignsize 128M, target 256M, guest 128M.
expect(x86, "namespace0.3", "ovirt", supported=True, target_size=256 * MiB,
       align_size=128 * MiB, guest_size=128 * MiB, broken_rules=["pmem-only-for-dax"])
# sector 267091968: alignDown(...,128M) = 128M leaves no 128M guest area.
expect(x86, "namespace0.2", "ovirt", supported=True, target_size=128 * MiB, guest_size=0,
       broken_rules=["guest-area-non-empty", "pmem-only-for-dax"])
expect(x86, "namespace0.2", "nova", supported=False)
for d in x86["devices"]:
    if not d["peers"]["nova"]["supported"] and "target_size" in d["peers"]["nova"]:
        failures.append("unsupported peer carries sizes: %s" % d["namespace"])

ppc = json.load(open(work + "/ppc.json"))
# ppc64 devdax 502 MiB: oVirt alignDown(502M,256M) + 128K = 256M+128K, not a
# 2 MiB multiple: device DAX refuses it. Nova: libvirt makes 502M into
# alignDown(500M,256M) + 2M = 258M, guest 256M.
expect(ppc, "namespace0.0", "ovirt", supported=True, target_size=256 * MiB + 128 * KiB,
       guest_size=256 * MiB, align_size=2 * MiB, broken_rules=["dax-map-length"])
expect(ppc, "namespace0.0", "nova", supported=True, target_size=526385152,
       libvirt_target_size=258 * MiB, guest_size=256 * MiB, broken_rules=[])

plain = json.load(open(work + "/plain.json"))
if any("peers" in d for d in plain["devices"]):
    failures.append("plan --json without --compare has peers")

text = open(work + "/x86.txt").read()
for fragment in ["oVirt would write: target 258 MiB  label 128 KiB  alignsize 2 MiB  pmem  node 0",
                 "libvirt target 258 MiB, guest 256 MiB (ours 384 MiB); valid",
                 "Nova would write: target 502 MiB  label 2 MiB  alignsize 2 MiB  pmem  node 0  maxMemory slots 4",
                 "Nova: not supported: Nova's vPMEM uses devdax namespaces only, not fsdax",
                 "guest-area-non-empty: target size 128 MiB leaves no 128 MiB-aligned guest area"]:
    if fragment not in text:
        failures.append("text output lacks %r" % fragment)

for f in failures:
    print("FAIL: " + f)
if failures:
    print(text)
    sys.exit(1)
print("ok: plan --compare on x86_64 and ppc64, JSON and text")
PY
