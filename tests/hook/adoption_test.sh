#!/bin/bash
# Issue 9, end to end: data first. Three guests whose NVDIMM layouts were
# written before nvdimm-hook was installed (by hand, by oVirt's formula, by
# Nova's) on devdax namespaces of 1006 MiB (regular files, JSON inventory),
# each started without the hook and given data; then the hook is installed
# in a real session libvirtd (libvirt 9.0, QEMU 7.2, TCG):
#   1. each starts unchanged; QEMU shows the markers at guest offset 0 and at
#      the last byte of the guest area; the label area stays at S - L
#   2. attach/rewrite/sync change none of their layouts
#   3. an internal snapshot + revert (running and shut off) is refused and
#      the backing is byte for byte unchanged; after snapshot-delete it starts;
#      an external memory snapshot's file is refused at restore
#   4. a live attach-device of another guest's namespace (no hook runs) is
#      found by status and check
#   5. sync --relayout says what moves before it moves it
#
#   adoption_test.sh BUILD_DIR SOURCE_DIR
#
# Runs as root (private mount + pid namespace, session_libvirtd.sh). One
# "ok: ..." line per assertion; the first failure ends it with "FAIL: ...".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../libvirt/session_libvirtd.sh
source "$here/../libvirt/session_libvirtd.sh"
# shellcheck source-path=SCRIPTDIR source=hook_test_lib.sh
source "$here/hook_test_lib.sh"

(($# == 2)) || session_die "usage: $0 BUILD_DIR SOURCE_DIR"
session_reexec_in_namespace "$here/$(basename "${BASH_SOURCE[0]}")" "$@"

build_dir=$(cd "$1" && pwd) || session_die "BUILD_DIR $1 does not exist"
hook=$build_dir/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $build_dir/nvdimm-hook
nvdimmctl=$build_dir/nvdimmctl
session_require_tools python3 truncate sha256sum qemu-img
for f in "$hook" "$build_dir/nvdimm-hook" "$nvdimmctl"; do
  [[ -x $f ]] || session_die "$f is missing or not executable: build nvdimm-hook and nvdimmctl first"
done

work=$(session_mktemp_workdir)
calls=$work/hook-log/calls.log
cleanup() {
  local rc=$?
  trap '' PIPE
  if ((rc != 0)); then
    session_dump_logs
    [[ -s $calls ]] && tail -n 40 "$calls" >&2
  fi
  stop_session_libvirtd
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail() { session_die "$*"; }
test_start=$(now_ms)
uri=qemu:///session
MiB=$((1024 * 1024))
KiB=1024

out=$work/out
devdir=$work/dev
mkdir -p "$out" "$devdir"
for d in hook-run hook-state hook-log saves; do
  mkdir "$work/$d"
  chown "$SESSION_UID:$SESSION_GID" "$work/$d"
  chmod 0700 "$work/$d"
done
chmod 0755 "$work/hook-log"
: >"$calls"
chown "$SESSION_UID:$SESSION_GID" "$calls" "$devdir"

# The guests: name, namespace uuid, dax device, target S, label L, alignsize
# A (bytes); G = alignDown(S - L, A). Namespace: devdax, 1006 MiB, align 2 MiB.
#  hand:  1004 MiB, 128 KiB (issue 9: fits, every rule holds but hot plug)
#  ovirt: alignDown(1006M, 128M) = 896M; q = alignDown(896M - 128K, 2M) = 894M;
#         896M - q % 128M = 770 MiB (VmInfoBuildUtils.getNvdimmAlignedSize)
#  nova:  S = the namespace size, label 2 MiB (LibvirtConfigGuestVPMEM)
ns_size=$((1006 * MiB))
guests=(hand ovirt nova)
declare -A uuid ns dax S L G
i=0
for g in "${guests[@]}"; do
  i=$((i + 1))
  uuid[$g]=9a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0$i
  ns[$g]=6e9c0000-0000-4000-8000-00000000000$i
  dax[$g]=dax$i.0
done
S[hand]=$((1004 * MiB)) L[hand]=$((128 * KiB))
S[ovirt]=$((770 * MiB)) L[ovirt]=$((128 * KiB))
S[nova]=$ns_size L[nova]=$((2 * MiB))
for g in "${guests[@]}"; do
  G[$g]=$(((S[$g] - L[$g]) / (2 * MiB) * (2 * MiB)))
  truncate -s "$ns_size" "$devdir/${dax[$g]}"
  chown "$SESSION_UID:$SESSION_GID" "$devdir/${dax[$g]}"
  chmod 0600 "$devdir/${dax[$g]}"
done
expect_eq "hand guest area" "${G[hand]}" $((1002 * MiB))
expect_eq "oVirt guest area" "${G[ovirt]}" $((768 * MiB))
expect_eq "Nova guest area" "${G[nova]}" $((1004 * MiB))

inventory=$work/inventory.json
py '
import json, sys
size, out = int(sys.argv[1]), []
for i, (uuid, dax) in enumerate(zip(sys.argv[2::2], sys.argv[3::2])):
    n = i + 1
    out.append({"dev": "namespace%d.0" % n, "mode": "devdax", "map": "dev", "size": size,
                "uuid": uuid, "raw_uuid": "7" + uuid[1:],
                "daxregion": {"id": n, "size": size, "align": 2097152,
                              "devices": [{"chardev": dax, "size": size, "target_node": 0,
                                           "align": 2097152, "mode": "devdax"}]},
                "align": 2097152, "name": "ns%d" % n, "numa_node": 0, "target_node": 0})
json.dump(out, sys.stdout, indent=1)
' "$ns_size" "${ns[hand]}" "${dax[hand]}" "${ns[ovirt]}" "${dax[ovirt]}" \
  "${ns[nova]}" "${dax[nova]}" >"$inventory"
chmod 0644 "$inventory"

conf=$work/nvdimm-hook.conf
cat >"$conf" <<EOF
inventory = $inventory
device-dir = $devdir
run-dir = $work/hook-run
state-dir = $work/hook-state
libvirt-run-dir = $work/runtime/libvirt/qemu/run
libvirt-snapshot-dir = $work/config/libvirt/qemu/snapshot
probe = auto
EOF
chmod 0644 "$conf"

# nvdimm_xml NAME: the <memory model='nvdimm'> device NAME's peer wrote.
nvdimm_xml() {
  local g=$1
  echo "<memory model='nvdimm' access='shared'><source><path>$devdir/${dax[$g]}</path><alignsize unit='KiB'>2048</alignsize><pmem/></source><target><size unit='KiB'>$((S[$g] / KiB))</size><node>0</node><label><size unit='KiB'>$((L[$g] / KiB))</size></label></target></memory>"
}
for g in "${guests[@]}"; do
  qemu-img create -q -f qcow2 "$work/$g.qcow2" 16M
  chown "$SESSION_UID:$SESSION_GID" "$work/$g.qcow2"
  cat >"$work/$g.xml" <<EOF
<domain type='qemu'>
  <name>$g</name>
  <uuid>${uuid[$g]}</uuid>
  <maxMemory slots='4' unit='MiB'>4096</maxMemory>
  <memory unit='KiB'>$((128 * 1024 + S[$g] / KiB))</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/></numa></cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$work/$g.qcow2'/><target dev='vda' bus='virtio'/></disk>
    $(nvdimm_xml "$g")
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  chmod 0644 "$work/$g.xml"
done

# layout_of FILE: "S L A" of the only nvdimm of a domain XML, in bytes.
layout_of() {
  py '
import sys, xml.etree.ElementTree as ET
U = {"": 1024, "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1 << 20, "mib": 1 << 20}
def size(e):
    return int(e.text.strip()) * U[e.get("unit", "").lower()]
mems = ET.parse(sys.argv[1]).getroot().findall("./devices/memory[@model=\"nvdimm\"]")
if len(mems) != 1:
    sys.exit("%s: expected one nvdimm, found %d" % (sys.argv[1], len(mems)))
m = mems[0]
print(size(m.find("target/size")), size(m.find("target/label/size")),
      size(m.find("source/alignsize")))
' "$1"
}
defined_layout() {
  virsh_session dumpxml --inactive "$1" >"$work/$1.now.xml" || fail "virsh dumpxml $1 failed"
  layout_of "$work/$1.now.xml"
}

# Markers a guest wrote: at guest offset 0 (backing offset 0), ending at the
# last byte of the guest area (G - 1), and its label area (at S - L).
marker() { printf '%-16.16s' "$1-$2"; }
write_markers() {
  local g=$1
  py '
import sys
path, G, S, L = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "r+b") as f:
    f.seek(0); f.write(sys.argv[5].encode())
    f.seek(G - 16); f.write(sys.argv[6].encode())
    f.seek(S - L); f.write((sys.argv[7] * (L // 16)).encode())
' "$devdir/${dax[$g]}" "${G[$g]}" "${S[$g]}" "${L[$g]}" \
    "$(marker "$g" first)" "$(marker "$g" last)" "$(marker "$g" label)"
}
# backing_at G OFFSET LENGTH: bytes of the backing file, as text.
backing_at() {
  py '
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2])); sys.stdout.write(f.read(int(sys.argv[3])).decode("latin-1"))
' "$devdir/${dax[$1]}" "$2" "$3"
}
expect_markers_in_backing() {
  local g=$1 what=$2
  expect_eq "$g backing offset 0 ($what)" "$(backing_at "$g" 0 16)" "$(marker "$g" first)"
  expect_eq "$g backing offset G-16 ($what)" "$(backing_at "$g" $((G[$g] - 16)) 16)" "$(marker "$g" last)"
  expect_eq "$g label area at S-L ($what)" "$(backing_at "$g" $((S[$g] - L[$g])) 16)" "$(marker "$g" label)"
}
# guest_bytes DOM OFFSET: 16 bytes of the guest's NVDIMM at a guest offset,
# read by QEMU (HMP xp at the DIMM's guest-physical address).
guest_bytes() {
  local answer addr
  answer=$(virsh_session qemu-monitor-command "$1" '{"execute":"query-memory-devices"}') ||
    fail "QMP query-memory-devices on $1 failed"
  addr=$(py '
import json, sys
ds = [d for d in json.loads(sys.argv[1])["return"] if d["type"] == "nvdimm"]
print(ds[0]["data"]["addr"], ds[0]["data"]["size"])
' "$answer")
  read -r base size <<<"$addr"
  echo "$size" >"$out/guest-size-$1"
  virsh_session qemu-monitor-command "$1" --hmp "xp /16xb $((base + $2))" |
    py '
import sys
print("".join(chr(int(t, 16)) for line in sys.stdin if ":" in line
              for t in line.split(":", 1)[1].split()), end="")'
}
expect_guest_sees_markers() {
  local g=$1
  expect_eq "$g: QEMU shows guest offset 0" "$(guest_bytes "$g" 0)" "$(marker "$g" first)"
  expect_eq "$g: QEMU guest size" "$(cat "$out/guest-size-$g")" "${G[$g]}"
  expect_eq "$g: QEMU shows the last 16 bytes of the guest area" \
    "$(guest_bytes "$g" $((G[$g] - 16)))" "$(marker "$g" last)"
}
calls_mark() { wc -l <"$calls"; }
expect_call() {
  tail -n "+$(($2 + 1))" "$calls" | grep -qxF -- "$3" ||
    fail "$1: no hook call '$3'; calls: $(tail -n "+$(($2 + 1))" "$calls" | tr '\n' ';')"
  ok "$1: hook call '$3'"
}
sha_of() { sha256sum "$devdir/${dax[$1]}" | cut -d' ' -f1; }

# ---------------------------------------------------------------------------
echo "# === 1. before nvdimm-hook: the peers' guests run and write data ==="
start_session_libvirtd "$work"
for g in "${guests[@]}"; do
  virsh_session define "$work/$g.xml" >/dev/null || fail "virsh define $g failed"
  try "start0-$g" virsh_session start "$g"
  expect_ok "virsh start $g (no hook installed)" "start0-$g"
  write_markers "$g"
  expect_guest_sees_markers "$g"
  try "destroy0-$g" virsh_session destroy "$g"
  expect_ok "virsh destroy $g" "destroy0-$g"
  expect_markers_in_backing "$g" "written before the hook"
done
[[ ! -s $calls ]] || fail "a hook ran before it was installed: $(cat "$calls")"

echo "# === 2. install the hook; every layout is kept ==="
cat >"$SESSION_HOOKS_DIR/qemu.d/50-nvdimm-hook" <<EOF
#!/bin/bash
export NVDIMM_HOOK_CONFIG=$(printf %q "$conf")
$(printf %q "$hook") "\$@"
rc=\$?
echo "\$* rc=\$rc" >>$(printf %q "$calls")
exit "\$rc"
EOF
chmod 0755 "$SESSION_HOOKS_DIR/qemu.d/50-nvdimm-hook"
restart_session_libvirtd # reads the hook directory

try attach-hand ctl attach hand "${ns[hand]}" -c "$uri"
expect_ok "nvdimmctl attach hand (its device already exists)" attach-hand
show attach-hand
expect_contains "nvdimmctl attach hand" "$out/attach-hand.all" "kept: existing layout from the definition"
for g in "${guests[@]}"; do
  expect_eq "$g definition after attach" "$(defined_layout "$g")" "${S[$g]} ${L[$g]} $((2 * MiB))"
  try "check-$g" ctl check "$g" -c "$uri"
  expect_ok "nvdimmctl check $g" "check-$g"
  show "check-$g"
  expect_contains "nvdimmctl check $g" "$out/check-$g.all" "kept: existing layout"
  expect_contains "nvdimmctl check $g: the optimal plan" "$out/check-$g.all" "the computed layout would be target 898 MiB"
  NVDIMM_HOOK_CONFIG=$conf "$nvdimmctl" plan --json "$work/$g.now.xml" >"$out/plan-$g.json" ||
    fail "nvdimmctl plan $g failed"
  expect_eq "$g plan --json: kept, optimal" "$(plan_field "$out/plan-$g.json" kept) $(py '
import json, sys
print(json.load(open(sys.argv[1]))["devices"][0]["optimal"]["target_size"])' "$out/plan-$g.json")" \
    "True $((898 * MiB))"
  NVDIMM_HOOK_CONFIG=$conf "$nvdimmctl" rewrite "$work/$g.now.xml" >"$work/$g.rewritten.xml" \
    2>"$out/rewrite-$g.err" || fail "nvdimmctl rewrite $g failed: $(cat "$out/rewrite-$g.err")"
  expect_eq "$g layout after rewrite" "$(layout_of "$work/$g.rewritten.xml")" "${S[$g]} ${L[$g]} $((2 * MiB))"
  try "sync-$g" ctl sync "$g" -c "$uri"
  expect_ok "nvdimmctl sync $g" "sync-$g"
  expect_contains "nvdimmctl sync $g" "$out/sync-$g.all" "no NVDIMM layout moved"
  expect_eq "$g definition after sync" "$(defined_layout "$g")" "${S[$g]} ${L[$g]} $((2 * MiB))"
done
for g in hand nova; do
  expect_contains "nvdimmctl check $g: what it gives up" "$out/check-$g.all" \
    "guest area not a multiple of 128 MiB: memory hot-plugged after it may not come online"
done

for g in "${guests[@]}"; do
  mark=$(calls_mark)
  try "start-$g" virsh_session start "$g"
  expect_ok "virsh start $g with the hook" "start-$g"
  expect_call "$g start" "$mark" "$g prepare begin - rc=0"
  expect_call "$g start" "$mark" "$g start begin - rc=0"
  expect_guest_sees_markers "$g"
  try "destroy-$g" virsh_session destroy "$g"
  expect_ok "virsh destroy $g" "destroy-$g"
  expect_markers_in_backing "$g" "after a start with the hook"
  record=$work/hook-state/layouts/${uuid[$g]}.json
  expect_eq "$g layout record: target" "$(py 'import json,sys; print(json.load(open(sys.argv[1]))["devices"][0]["target_size"])' "$record")" "${S[$g]}"
done

echo "# === 3. internal snapshot with memory + revert: refused, backing unchanged ==="
try start-snap virsh_session start ovirt
expect_ok "virsh start ovirt" start-snap
try snap virsh_session snapshot-create-as ovirt s1
expect_ok "virsh snapshot-create-as ovirt s1 (no hook runs)" snap
# What the guest writes after the snapshot, which a revert would wipe.
py 'import sys; f = open(sys.argv[1], "r+b"); f.seek(4096); f.write(b"AFTER-SNAPSHOT")' "$devdir/${dax[ovirt]}"
sha=$(sha_of ovirt)
try revert-running virsh_session snapshot-revert ovirt s1
expect_refused "virsh snapshot-revert ovirt s1 (running)" revert-running
show revert-running
expect_contains "revert: refused by prepare" "$out/revert-running.all" "snapshots with memory state: 's1'"
expect_contains "revert: the fix" "$out/revert-running.all" "To fix: virsh snapshot-delete ovirt s1"
expect_eq "ovirt backing sha256 after the refused revert (running)" "$(sha_of ovirt)" "$sha"
expect_eq "ovirt state" "$(state_of ovirt)" "shut off"
try revert-off virsh_session snapshot-revert ovirt s1
expect_refused "virsh snapshot-revert ovirt s1 (shut off)" revert-off
expect_contains "revert (shut off): the reason" "$out/revert-off.all" "snapshots with memory state: 's1'"
expect_eq "ovirt backing sha256 after the refused revert (shut off)" "$(sha_of ovirt)" "$sha"
try start-with-snap virsh_session start ovirt
expect_refused "virsh start ovirt with a memory snapshot" start-with-snap
try check-snap ctl check ovirt -c "$uri"
expect_refused "nvdimmctl check ovirt" check-snap
expect_contains "nvdimmctl check ovirt: names it" "$out/check-snap.all" "'s1' (running, memory internal)"
try status-snap ctl status
expect_refused "nvdimmctl status (a warning)" status-snap
expect_contains "nvdimmctl status: the snapshot" "$out/status-snap.all" "WARNING: 'ovirt' (${uuid[ovirt]}) snapshot 's1'"
try attach-snap ctl attach ovirt "${ns[hand]}" -c "$uri"
expect_refused "nvdimmctl attach ovirt with a memory snapshot" attach-snap
expect_contains "nvdimmctl attach ovirt" "$out/attach-snap.all" "virsh snapshot-delete ovirt s1"
expect_eq "ovirt backing sha256 after all that" "$(sha_of ovirt)" "$sha"
try snap-delete virsh_session snapshot-delete ovirt s1
expect_ok "virsh snapshot-delete ovirt s1" snap-delete
try start-after-delete virsh_session start ovirt
expect_ok "virsh start ovirt after snapshot-delete" start-after-delete
expect_eq "ovirt: the write after the snapshot survived" "$(backing_at ovirt 4096 14)" "AFTER-SNAPSHOT"
# An external memory snapshot: its memory file can only come back through
# `virsh restore`, which the restore operation refuses; the snapshot also
# blocks prepare until its metadata is gone.
try snap-ext virsh_session snapshot-create-as ovirt s2 --memspec "file=$work/saves/ovirt.s2.mem,snapshot=external" \
  --diskspec "vda,snapshot=external,file=$work/saves/ovirt.s2.qcow2"
expect_ok "virsh snapshot-create-as ovirt s2 --memspec (external memory)" snap-ext
try destroy-snap virsh_session destroy ovirt
expect_ok "virsh destroy ovirt" destroy-snap
sha=$(sha_of ovirt)
try restore-ext virsh_session restore "$work/saves/ovirt.s2.mem"
expect_refused "virsh restore of the external memory file" restore-ext
expect_contains "virsh restore: refused by the hook" "$out/restore-ext.all" "restore refused"
try start-ext virsh_session start ovirt
expect_refused "virsh start ovirt with an external memory snapshot" start-ext
expect_contains "virsh start ovirt: names s2" "$out/start-ext.all" "'s2' (running, memory external)"
expect_eq "ovirt backing sha256 after the refused restore" "$(sha_of ovirt)" "$sha"
try snap-ext-delete virsh_session snapshot-delete ovirt s2 --metadata
expect_ok "virsh snapshot-delete ovirt s2 --metadata" snap-ext-delete

echo "# === 4. a live attach-device no hook sees ==="
try start-nova virsh_session start nova
expect_ok "virsh start nova" start-nova
nvdimm_xml hand >"$work/hand-nvdimm.xml"
chmod 0644 "$work/hand-nvdimm.xml"
try hotplug virsh_session attach-device nova "$work/hand-nvdimm.xml" --live
expect_ok "virsh attach-device nova <hand's namespace> --live (libvirt 9.0 allows it)" hotplug
try status-live ctl status
expect_refused "nvdimmctl status (a warning)" status-live
show status-live
expect_contains "nvdimmctl status: the live mapping" "$out/status-live.all" "$devdir/${dax[hand]}  mapped by 'nova' (${uuid[nova]})"
expect_contains "nvdimmctl status: loudly" "$out/status-live.all" "WARNING: NO CLAIM"
try check-live ctl check hand -c "$uri"
expect_refused "nvdimmctl check hand" check-live
expect_contains "nvdimmctl check hand: who maps it" "$out/check-live.all" "mapped by running domain 'nova'"
try start-hand-live virsh_session start hand
expect_refused "virsh start hand while nova maps its namespace" start-hand-live
expect_contains "virsh start hand: why" "$out/start-hand-live.all" "attach-device --live"
try destroy-nova virsh_session destroy nova
expect_ok "virsh destroy nova" destroy-nova

echo "# === 5. sync --relayout says what moves, then moves it ==="
try relayout ctl sync hand --relayout -c "$uri"
expect_ok "nvdimmctl sync hand --relayout" relayout
show relayout
py '
import sys
text = open(sys.argv[1]).read()
want = ["old (the layout record of its last start): target 1004 MiB, label 128 KiB at offset 1027968 KiB",
        "new: target 898 MiB, label 128 KiB at offset 919424 KiB",
        "the guest loses its last 106 MiB", "its label area moves", "accepted the new layout"]
pos = [text.find(w) for w in want]
if -1 in pos or pos != sorted(pos):
    sys.exit("relayout output lacks or misorders %r: %s" % (want, text))
' "$out/relayout.all" || fail "nvdimmctl sync --relayout output"
ok "sync --relayout printed old, new and what the guest loses before accepting"
expect_eq "hand definition after relayout" "$(defined_layout hand)" "$((898 * MiB)) $((128 * KiB)) $((2 * MiB))"
try start-relayout virsh_session start hand
expect_ok "virsh start hand after relayout" start-relayout
guest_bytes hand 0 >/dev/null
expect_eq "hand: QEMU guest size after relayout" "$(cat "$out/guest-size-hand")" $((896 * MiB))

echo "PASS: $checks checks in $(($(now_ms) - test_start)) ms"
