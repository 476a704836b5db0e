#!/bin/bash
# Issue 3, end to end: nvdimm-hook installed in a private
# /etc/libvirt/hooks/qemu.d of a real session libvirtd (Debian 12: libvirt
# 9.0, QEMU 7.2, TCG), nvdimmctl attach/sync/check/status against the same
# daemon, an inventory from a JSON file whose namespaces are regular files.
#
#   lifecycle_test.sh BUILD_DIR SOURCE_DIR
#
# The hook runs with probe = auto: prepare measures the layout with the
# domain's own QEMU (cached in the hook's state dir).
#
# One daemon, scenarios in sequence (each builds on the state the one before
# left):
#   1. attach + start: QEMU reports the planned guest size; status shows the claim
#   2. a second domain on the same namespace is refused at prepare, naming the
#      owner; so is a hand-written nvdimm on the namespace without annotation
#   3. after destroy of the first, the second starts
#   4. a hand-edited wrong target size is refused at prepare (diff + sync line)
#   5. a size only libvirt changes (simulated at `start`) is refused before QEMU runs
#   6. save + restore and managedsave + start are refused at restore
#   7. a namespace that changed size refuses the start until sync --accept-layout-change
#   8. domains without NVDIMM start while the inventory, the run dir, the config is broken
#   9. libvirtd restart (also with the inventory broken): the NVDIMM domain
#      keeps running and keeps its claim
#  10. detach (refused while running; the detached domain starts without it)
#
# Runs as root (re-execs itself in a private mount + pid namespace, see
# tests/libvirt/session_libvirtd.sh). Prints one "ok: ..." line per assertion;
# exits non-zero with a "FAIL: ..." line on the first failure. Nothing is
# skipped: a missing tool or binary is a failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../libvirt/session_libvirtd.sh
source "$here/../libvirt/session_libvirtd.sh"
# shellcheck source-path=SCRIPTDIR source=hook_test_lib.sh
source "$here/hook_test_lib.sh"

(($# == 2)) || session_die "usage: $0 BUILD_DIR SOURCE_DIR"
session_reexec_in_namespace "$here/$(basename "${BASH_SOURCE[0]}")" "$@"

build_dir=$(cd "$1" && pwd) || session_die "BUILD_DIR $1 does not exist"
source_dir=$(cd "$2" && pwd) || session_die "SOURCE_DIR $2 does not exist"
hook=$build_dir/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $build_dir/nvdimm-hook
nvdimmctl=$build_dir/nvdimmctl
example_inventory=$source_dir/examples/inventory.json
example_domain=$source_dir/examples/domain.xml

session_require_tools python3 truncate stat sed
for f in "$hook" "$nvdimmctl"; do
  [[ -x $f ]] || session_die "$f is missing or not executable: build the nvdimm-hook and nvdimmctl targets first"
done
[[ -r $example_inventory && -r $example_domain ]] ||
  session_die "$example_inventory or $example_domain is missing"

work=$(session_mktemp_workdir)
cleanup() {
  local rc=$?
  set +e
  trap '' PIPE # the reader of our output may be gone (ctest killed us)
  if ((rc != 0)); then
    session_dump_logs
    if [[ -s $calls ]]; then
      echo "----- hook calls (last 40) -----" >&2
      tail -n 40 "$calls" >&2
    fi
  fi
  stop_session_libvirtd
  rm -rf -- "$work"
  exit "$rc"
}
calls=$work/hook-log/calls.log
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail() { session_die "$*"; }
test_start=$(now_ms)

uri=qemu:///session
ns_uuid=c3ced113-e676-47b2-b173-b7f7d08b2206 # namespace0.0, devdax, dax0.0
A=pmem-a A_uuid=5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0a
B=pmem-b B_uuid=5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0b
C=plain-c C_uuid=5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0c
D=plain-d D_uuid=5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0d
E=raw-e E_uuid=5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e0e

# ---------------------------------------------------------------------------
# Files. The hook and QEMU run as SESSION_UID; the test edits the inventory
# and the config as root.
out=$work/out # command outputs, for the messages
mkdir -p "$out"
inventory=$work/inventory.json
cp "$example_inventory" "$inventory"
chmod 0644 "$inventory"

devdir=$work/dev
mkdir "$devdir"
read -r chardev device_size < <(py '
import json, sys
for ns in json.load(open(sys.argv[1])):
    if ns.get("uuid") == sys.argv[2]:
        d = ns["daxregion"]["devices"][0]
        print(d["chardev"], d["size"])
' "$inventory" "$ns_uuid")
[[ -n ${device_size:-} ]] || fail "namespace $ns_uuid not in $inventory"
truncate -s "$device_size" "$devdir/$chardev"
chown "$SESSION_UID:$SESSION_GID" "$devdir" "$devdir/$chardev"
chmod 0600 "$devdir/$chardev"

# The hook's own run and state dirs: owned by the hook's uid, 0700.
for d in hook-run hook-state hook-log saves; do
  mkdir "$work/$d"
  chown "$SESSION_UID:$SESSION_GID" "$work/$d"
  chmod 0700 "$work/$d"
done
chmod 0755 "$work/hook-log"
: >"$calls"
chown "$SESSION_UID:$SESSION_GID" "$calls"

conf=$work/nvdimm-hook.conf
write_config() {
  cat >"$conf.tmp" <<EOF
# nvdimm-hook config of tests/hook/lifecycle_test.sh
inventory = $inventory
device-dir = $devdir
run-dir = $work/hook-run
state-dir = $work/hook-state
libvirt-run-dir = $work/runtime/libvirt/qemu/run
claim-grace = 300
probe = auto
EOF
  chmod 0644 "$conf.tmp"
  mv "$conf.tmp" "$conf"
}
write_config
cp "$conf" "$work/nvdimm-hook.conf.good"

# The qemu.d hook: sets the config (libvirt runs hooks with a clean
# environment), records each call and its exit code, and, while the file
# $mutate holds a sed script, gives the binary a `start` XML edited by it: a
# libvirt that adjusts sizes differently at start.
mutate=$work/hook-log/mutate-start.sed
hooks_dir=$work/etc-libvirt/hooks/qemu.d
mkdir -p "$hooks_dir"
cat >"$hooks_dir/50-nvdimm-hook" <<EOF
#!/bin/bash
# nvdimm-hook under test (tests/hook/lifecycle_test.sh)
export NVDIMM_HOOK_CONFIG=$(printf %q "$conf")
calls=$(printf %q "$calls")
mutate=$(printf %q "$mutate")
hook=$(printf %q "$hook")
if [[ \${2-} == start && -s \$mutate ]]; then
  xml=\$(cat)
  mutated=\$(sed -f "\$mutate" <<<"\$xml")
  if [[ \$mutated == "\$xml" ]]; then
    echo "\$* xml-not-mutated" >>"\$calls"
  else
    echo "\$* xml-mutated" >>"\$calls"
  fi
  "\$hook" "\$@" <<<"\$mutated"
  rc=\$?
else
  "\$hook" "\$@"
  rc=\$?
fi
echo "\$* rc=\$rc" >>"\$calls"
exit "\$rc"
EOF
chmod 0755 "$hooks_dir/50-nvdimm-hook"

# Domains: A and B get namespace0.0 through `nvdimmctl attach`; C and D have
# no NVDIMM (D mentions the word, so it passes the hook's first text filter).
plain_domain_xml "$example_domain" "$A" "$A_uuid" >"$work/$A.xml"
plain_domain_xml "$example_domain" "$B" "$B_uuid" >"$work/$B.xml"
plain_domain_xml "$example_domain" "$C" "$C_uuid" >"$work/$C.xml"
plain_domain_xml "$example_domain" "$D" "$D_uuid" \
  "no nvdimm device here, only the word nvdimm" >"$work/$D.xml"
! grep -q nvdimm "$work/$C.xml" || fail "$C.xml mentions nvdimm"
chmod 0644 "$work"/*.xml

# ---------------------------------------------------------------------------
# Helpers.

# ctl ARGS...: nvdimmctl as SESSION_UID, as an admin of the session daemon.
ctl() {
  local SESSION_ENV
  session_env
  timeout --kill-after=10 120 \
    setpriv --reuid="$SESSION_UID" --regid="$SESSION_GID" --clear-groups \
    "${SESSION_ENV[@]}" NVDIMM_HOOK_CONFIG="$conf" LIBVIRT_AUTOSTART=0 "$nvdimmctl" "$@"
}

# try NAME CMD...: runs CMD; $out/NAME.out, .err and .all (both); sets rc.
rc=0
try() {
  local name=$1
  shift
  set +e
  "$@" >"$out/$name.out" 2>"$out/$name.err"
  rc=$?
  set -e
  cat "$out/$name.out" "$out/$name.err" >"$out/$name.all"
}

# show NAME: the output of a `try`, as comment lines.
show() { sed "s/^/#   $1: /" "$out/$1.all"; }

# expect_ok WHAT NAME: the `try` NAME succeeded.
expect_ok() {
  ((rc == 0)) || fail "$1 failed (exit $rc): $(cat "$out/$2.all")"
  ok "$1 succeeded"
}
# expect_refused WHAT NAME: the `try` NAME failed.
expect_refused() {
  ((rc != 0)) || fail "$1 succeeded, expected a refusal: $(cat "$out/$2.all")"
  ok "$1 refused (exit $rc)"
}

state_of() { virsh_session domstate "$1" | head -n 1; }

calls_mark() { wc -l <"$calls"; }
# calls_since MARK: the hook calls logged after MARK.
calls_since() { tail -n "+$(($1 + 1))" "$calls"; }
# expect_call WHAT MARK LINE: LINE was logged after MARK.
expect_call() {
  calls_since "$2" | grep -qxF -- "$3" ||
    fail "$1: no hook call '$3' logged; calls: $(calls_since "$2" | tr '\n' ';')"
  ok "$1: hook call '$3'"
}
expect_no_call() {
  ! calls_since "$2" | grep -qF -- "$3" ||
    fail "$1: hook call '$3' logged; calls: $(calls_since "$2" | tr '\n' ';')"
  ok "$1: no hook call '$3'"
}

# plan_of DOM: the plan (JSON) for DOM's persistent definition, by nvdimmctl
# plan with the hook's config; its file name on stdout.
plan_of() {
  virsh_session dumpxml --inactive "$1" >"$work/$1.inactive.xml" ||
    fail "virsh dumpxml --inactive $1 failed"
  NVDIMM_HOOK_CONFIG=$conf "$nvdimmctl" plan --json "$work/$1.inactive.xml" \
    >"$work/$1.plan.json" 2>"$out/plan-$1.err" ||
    fail "nvdimmctl plan of $1 failed: $(cat "$out/plan-$1.err")"
  echo "$work/$1.plan.json"
}

# qmp_guest_size DOM: size of the only nvdimm QEMU reports (query-memory-devices).
qmp_guest_size() {
  local answer
  answer=$(virsh_session qemu-monitor-command "$1" '{"execute":"query-memory-devices"}') ||
    fail "QMP query-memory-devices on $1 failed"
  py '
import json, sys
r = json.loads(sys.argv[1])
ds = [d for d in r.get("return", []) if d.get("type") == "nvdimm"]
if len(ds) != 1:
    sys.exit("expected one nvdimm in query-memory-devices, got: %s" % sys.argv[1])
print(ds[0]["data"]["size"])
' "$answer" || fail "unexpected query-memory-devices answer from $1: $answer"
}

qemu_pid_of() { head -c 32 "$work/runtime/libvirt/qemu/run/$1.pid" 2>/dev/null || true; }
# starts_logged DOM: how many times libvirt logged a QEMU start of DOM.
starts_logged() {
  local log=$work/cache/libvirt/qemu/log/$1.log
  if [[ -f $log ]]; then grep -c 'starting up' "$log" || true; else echo 0; fi
}

# status: `nvdimmctl status`, into $out/status.all.
status() {
  try status ctl status
  expect_ok "nvdimmctl status" status
  show status
}

scenario_start=0
scenario() {
  if ((scenario_start)); then echo "# ... took $(($(now_ms) - scenario_start)) ms"; fi
  scenario_start=$(now_ms)
  echo "# === $* ==="
}

# ---------------------------------------------------------------------------
start_session_libvirtd "$work"
for dom in "$A" "$B" "$C" "$D"; do
  virsh_session define "$work/$dom.xml" >/dev/null || fail "virsh define $dom failed"
done
ok "defined $A, $B, $C, $D"

# ---------------------------------------------------------------------------
scenario "1. nvdimmctl attach, then virsh start: QEMU gets the planned size"
try attach-a ctl attach "$A" "$ns_uuid" -c "$uri"
expect_ok "nvdimmctl attach $A $ns_uuid" attach-a
show attach-a
plan_a=$(plan_of "$A")
guest_a=$(plan_field "$plan_a" guest_size)
target_a=$(plan_field "$plan_a" target_size)
expect_eq "$A definition: target size written by attach" \
  "$(nvdimm_target_bytes "$work/$A.inactive.xml")" "$target_a"
try check-a ctl check "$A" -c "$uri"
expect_ok "nvdimmctl check $A (stopped, namespace free)" check-a
expect_contains "nvdimmctl check $A" "$out/check-a.all" "prepare would allow the start"

mark=$(calls_mark)
try start-a virsh_session start "$A"
expect_ok "virsh start $A" start-a
expect_eq "$A state" "$(state_of "$A")" running
for op in "prepare begin" "start begin" "started begin"; do
  expect_call "$A start" "$mark" "$A $op - rc=0"
done
# probe = auto: prepare measured the layout with the domain's own QEMU.
[[ -s $work/hook-state/probe-cache.json ]] ||
  fail "no probe cache $work/hook-state/probe-cache.json after prepare with probe = auto"
ok "prepare ran the QEMU layout probe (probe-cache.json in the state dir)"
expect_eq "$A guest NVDIMM size (QMP query-memory-devices) == plan guest_size" \
  "$(qmp_guest_size "$A")" "$guest_a"
status
expect_contains "status: claim of $ns_uuid by $A" "$out/status.all" \
  "$ns_uuid  owner '$A' ($A_uuid)"
expect_contains "status: $A's QEMU" "$out/status.all" "QEMU running"
expect_lacks "status" "$out/status.all" "STALE"
expect_contains "status: layout record of $A" "$out/status.all" "$A_uuid  domain '$A'"
try check-a-running ctl check "$A" -c "$uri"
expect_ok "nvdimmctl check $A while it runs (its own claim)" check-a-running
try attach-running ctl attach "$A" namespace0.1 -c "$uri"
expect_refused "nvdimmctl attach $A namespace0.1 while $A runs" attach-running
expect_contains "nvdimmctl attach $A while it runs" "$out/attach-running.all" "not hot-plugged"

# ---------------------------------------------------------------------------
scenario "2. a second domain on the same namespace is refused at prepare"
try attach-b ctl attach "$B" namespace0.0 -c "$uri"
expect_ok "nvdimmctl attach $B namespace0.0 (attach takes no claim)" attach-b
try check-b ctl check "$B" -c "$uri"
expect_refused "nvdimmctl check $B" check-b
expect_contains "nvdimmctl check $B names the owner" "$out/check-b.all" "domain '$A'"
mark=$(calls_mark)
try start-b virsh_session start "$B"
expect_refused "virsh start $B" start-b
show start-b
expect_contains "virsh start $B: libvirt's hook error" "$out/start-b.all" "Hook script execution failed"
expect_contains "virsh start $B: refused by prepare" "$out/start-b.all" "50-nvdimm-hook $B prepare begin -"
expect_contains "virsh start $B: names the namespace" "$out/start-b.all" "$ns_uuid"
expect_contains "virsh start $B: names the owner" "$out/start-b.all" "claimed by domain '$A' (uuid $A_uuid)"
expect_eq "$B state" "$(state_of "$B")" "shut off"
expect_call "$B start" "$mark" "$B prepare begin - rc=1"
expect_no_call "$B start" "$mark" "$B start begin"
expect_call "$B failed start still releases" "$mark" "$B release end - rc=0"
expect_eq "$A state (untouched)" "$(state_of "$A")" running
status
expect_contains "status: $B's release kept $A's claim" "$out/status.all" "$ns_uuid  owner '$A'"
# The same device written by hand, without the annotation: still guarded.
py '
import sys, xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])
root = tree.getroot()
for e in root.findall("metadata"):
    root.remove(e)
root.find("name").text = sys.argv[2]
root.find("uuid").text = sys.argv[3]
tree.write(sys.argv[4])
' "$work/$A.inactive.xml" "$E" "$E_uuid" "$work/$E.xml"
chmod 0644 "$work/$E.xml"
grep -q "$devdir/$chardev" "$work/$E.xml" || fail "$E.xml has no nvdimm on $devdir/$chardev"
! grep -q "urn:nvdimm-hook" "$work/$E.xml" || fail "$E.xml still has the annotation"
try define-e virsh_session define "$work/$E.xml"
expect_ok "virsh define $E (nvdimm on $devdir/$chardev, no annotation)" define-e
try start-e virsh_session start "$E"
expect_refused "virsh start $E" start-e
show start-e
expect_contains "virsh start $E: refused by prepare" "$out/start-e.all" "50-nvdimm-hook $E prepare begin -"
expect_contains "virsh start $E: names the owner" "$out/start-e.all" "claimed by domain '$A' (uuid $A_uuid)"
try undefine-e virsh_session undefine "$E"
expect_ok "virsh undefine $E" undefine-e

# ---------------------------------------------------------------------------
scenario "3. after virsh destroy of the owner, the second domain starts"
mark=$(calls_mark)
try destroy-a virsh_session destroy "$A"
expect_ok "virsh destroy $A" destroy-a
expect_call "$A destroy" "$mark" "$A release end - rc=0"
status
expect_lacks "status: claim dropped by release" "$out/status.all" "owner '$A'"
plan_b=$(plan_of "$B")
try start-b2 virsh_session start "$B"
expect_ok "virsh start $B" start-b2
expect_eq "$B guest NVDIMM size (QMP) == plan guest_size" \
  "$(qmp_guest_size "$B")" "$(plan_field "$plan_b" guest_size)"
status
expect_contains "status: claim of $ns_uuid by $B" "$out/status.all" "$ns_uuid  owner '$B' ($B_uuid)"
try start-a-busy virsh_session start "$A"
expect_refused "virsh start $A while $B holds the namespace" start-a-busy
expect_contains "virsh start $A names the owner" "$out/start-a-busy.all" "claimed by domain '$B'"
try destroy-b virsh_session destroy "$B"
expect_ok "virsh destroy $B" destroy-b

# ---------------------------------------------------------------------------
scenario "4. a hand-edited wrong target size is refused at prepare"
wrong_kib=$((target_a / 1024 - 4096))
py '
import sys, xml.etree.ElementTree as ET
ET.register_namespace("nvdimm", "urn:nvdimm-hook:1")
tree = ET.parse(sys.argv[1])
e = tree.getroot().find("./devices/memory[@model=\"nvdimm\"]/target/size")
e.set("unit", "KiB")
e.text = sys.argv[2]
tree.write(sys.argv[3])
' "$work/$A.inactive.xml" "$wrong_kib" "$work/$A.wrong.xml"
chmod 0644 "$work/$A.wrong.xml"
try define-wrong virsh_session define "$work/$A.wrong.xml"
expect_ok "virsh define $A with target size $wrong_kib KiB (planned $((target_a / 1024)) KiB)" define-wrong
try check-wrong ctl check "$A" -c "$uri"
expect_refused "nvdimmctl check $A" check-wrong
mark=$(calls_mark)
try start-wrong virsh_session start "$A"
expect_refused "virsh start $A" start-wrong
show start-wrong
expect_contains "virsh start $A: refused by prepare" "$out/start-wrong.all" "50-nvdimm-hook $A prepare begin -"
expect_contains "virsh start $A: the diff" "$out/start-wrong.all" "the definition differs from the NVDIMM plan"
expect_contains "virsh start $A: the fix" "$out/start-wrong.all" "To fix: nvdimmctl sync $A"
expect_lacks "virsh start $A: no layout change involved" "$out/start-wrong.all" "--accept-layout-change"
expect_no_call "$A start" "$mark" "$A start begin"
expect_eq "$A state" "$(state_of "$A")" "shut off"
try sync-wrong ctl sync "$A" -c "$uri"
expect_ok "nvdimmctl sync $A (as the message says)" sync-wrong
show sync-wrong
expect_contains "nvdimmctl sync $A" "$out/sync-wrong.all" "changed:"
plan_of "$A" >/dev/null
expect_eq "$A definition: target size after sync" \
  "$(nvdimm_target_bytes "$work/$A.inactive.xml")" "$target_a"
try check-synced ctl check "$A" -c "$uri"
expect_ok "nvdimmctl check $A after sync" check-synced

# ---------------------------------------------------------------------------
scenario "5. a size only libvirt changes (at start) is refused before QEMU runs"
layout_file=$work/hook-state/layouts/$A_uuid.json
[[ -f $layout_file ]] || fail "no layout record $layout_file after $A's start"
layout_before=$(cat "$layout_file")
echo "s|<size unit='KiB'>$((target_a / 1024))</size>|<size unit='KiB'>$((target_a / 1024 + 2048))</size>|" >"$mutate"
chmod 0644 "$mutate"
starts_before=$(starts_logged "$A")
mark=$(calls_mark)
try start-mutated virsh_session start "$A"
: >"$mutate"
expect_refused "virsh start $A (start XML +2048 KiB)" start-mutated
show start-mutated
expect_call "$A start: the wrapper changed the start XML" "$mark" "$A start begin - xml-mutated"
expect_call "$A start" "$mark" "$A prepare begin - rc=0"
expect_call "$A start" "$mark" "$A start begin - rc=1"
expect_contains "virsh start $A: refused by start" "$out/start-mutated.all" "50-nvdimm-hook $A start begin -"
expect_contains "virsh start $A: the reason" "$out/start-mutated.all" "libvirt changed the NVDIMM devices after prepare"
expect_contains "virsh start $A: before QEMU" "$out/start-mutated.all" "before QEMU runs"
expect_no_call "$A start: QEMU never ran" "$mark" "$A started begin"
expect_eq "$A: QEMU starts in libvirt's log" "$(starts_logged "$A")" "$starts_before"
expect_eq "$A state" "$(state_of "$A")" "shut off"
expect_eq "$A: layout record unchanged by the refused start" "$(cat "$layout_file")" "$layout_before"
status
expect_lacks "status: the refused start left no claim" "$out/status.all" "owner '$A'"

# ---------------------------------------------------------------------------
scenario "6. virsh save + restore, managedsave + start: refused at restore"
try start-a3 virsh_session start "$A"
expect_ok "virsh start $A" start-a3
save_file=$work/saves/$A.save
mark=$(calls_mark)
try save-a virsh_session save "$A" "$save_file"
expect_ok "virsh save $A" save-a
expect_eq "$A state after save" "$(state_of "$A")" "shut off"
expect_call "$A save" "$mark" "$A release end - rc=0"
mark=$(calls_mark)
try restore-a virsh_session restore "$save_file"
expect_refused "virsh restore $save_file" restore-a
show restore-a
expect_call "$A restore" "$mark" "$A restore begin - rc=1"
expect_no_call "$A restore" "$mark" "$A prepare begin"
expect_contains "virsh restore: refused by restore" "$out/restore-a.all" "50-nvdimm-hook $A restore begin -"
expect_contains "virsh restore: why" "$out/restore-a.all" "restore refused"
expect_contains "virsh restore: what to do" "$out/restore-a.all" "virsh managedsave-remove $A"
expect_contains "virsh restore: cold boot" "$out/restore-a.all" "Cold-boot"
expect_eq "$A state" "$(state_of "$A")" "shut off"
status
expect_lacks "status: no claim after the refused restore" "$out/status.all" "owner '$A'"

try start-a4 virsh_session start "$A"
expect_ok "virsh start $A (cold boot)" start-a4
try managedsave-a virsh_session managedsave "$A"
expect_ok "virsh managedsave $A" managedsave-a
mark=$(calls_mark)
try start-managed virsh_session start "$A"
expect_refused "virsh start $A from its managed save" start-managed
show start-managed
expect_call "$A start from managed save" "$mark" "$A restore begin - rc=1"
expect_contains "virsh start $A: what to do" "$out/start-managed.all" "virsh managedsave-remove $A"
expect_eq "$A state" "$(state_of "$A")" "shut off"
try msr-a virsh_session managedsave-remove "$A"
expect_ok "virsh managedsave-remove $A" msr-a
try start-a5 virsh_session start "$A"
expect_ok "virsh start $A after managedsave-remove" start-a5
expect_eq "$A guest NVDIMM size (QMP)" "$(qmp_guest_size "$A")" "$guest_a"
try destroy-a5 virsh_session destroy "$A"
expect_ok "virsh destroy $A" destroy-a5

# ---------------------------------------------------------------------------
scenario "7. the namespace changed size: refused until sync --accept-layout-change"
new_size=$((device_size + 128 * 1024 * 1024))
py '
import json, os, sys
path, uuid, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(path))
for ns in data:
    if ns.get("uuid") == uuid:
        ns["size"] = size
        ns["daxregion"]["size"] = size
        ns["daxregion"]["devices"][0]["size"] = size
with open(path + ".tmp", "w") as f:
    json.dump(data, f, indent=2)
os.chmod(path + ".tmp", 0o644)
os.rename(path + ".tmp", path)
' "$inventory" "$ns_uuid" "$new_size"
truncate -s "$new_size" "$devdir/$chardev"
ok "namespace0.0 is now $new_size bytes (was $device_size), inventory and backing file"
definition_before=$(virsh_session dumpxml --inactive "$A")
try check-changed ctl check "$A" -c "$uri"
expect_refused "nvdimmctl check $A" check-changed
mark=$(calls_mark)
try start-changed virsh_session start "$A"
expect_refused "virsh start $A" start-changed
show start-changed
expect_contains "virsh start $A: refused by prepare" "$out/start-changed.all" "50-nvdimm-hook $A prepare begin -"
expect_contains "virsh start $A: the reason" "$out/start-changed.all" "the NVDIMM layout changed since the last start"
expect_contains "virsh start $A: the fix" "$out/start-changed.all" "nvdimmctl sync $A --accept-layout-change"
expect_no_call "$A start" "$mark" "$A start begin"
try sync-noflag ctl sync "$A" -c "$uri"
expect_refused "nvdimmctl sync $A without --accept-layout-change" sync-noflag
show sync-noflag
expect_contains "nvdimmctl sync $A: what changed" "$out/sync-noflag.all" "namespace size"
expect_contains "nvdimmctl sync $A: what happens to the data" "$out/sync-noflag.all" "existing data stays at the same offsets"
expect_contains "nvdimmctl sync $A: how to accept" "$out/sync-noflag.all" "--accept-layout-change"
expect_eq "$A definition unchanged by the refused sync" \
  "$(virsh_session dumpxml --inactive "$A")" "$definition_before"
try sync-accept ctl sync "$A" --accept-layout-change -c "$uri"
expect_ok "nvdimmctl sync $A --accept-layout-change" sync-accept
show sync-accept
expect_contains "nvdimmctl sync $A --accept-layout-change" "$out/sync-accept.all" "accepted the new layout"
plan_a2=$(plan_of "$A")
guest_a2=$(plan_field "$plan_a2" guest_size)
expect_ne "$A planned guest size after the change" "$guest_a2" "$guest_a"
try check-accepted ctl check "$A" -c "$uri"
expect_ok "nvdimmctl check $A after sync" check-accepted
try start-a6 virsh_session start "$A"
expect_ok "virsh start $A after sync" start-a6
expect_eq "$A guest NVDIMM size (QMP) == new plan guest_size" "$(qmp_guest_size "$A")" "$guest_a2"
try sync-b ctl sync "$B" --accept-layout-change -c "$uri"
expect_ok "nvdimmctl sync $B --accept-layout-change (it last ran with the old size)" sync-b

# ---------------------------------------------------------------------------
scenario "8. domains without NVDIMM start while the inventory / run dir / config is broken"
cp "$inventory" "$work/inventory.good"
printf '{ this is not JSON [' >"$inventory.tmp"
chmod 0644 "$inventory.tmp"
mv "$inventory.tmp" "$inventory"
for dom in "$C" "$D"; do
  mark=$(calls_mark)
  try "start-$dom-inv" virsh_session start "$dom"
  expect_ok "virsh start $dom (inventory is garbage)" "start-$dom-inv"
  expect_call "$dom start" "$mark" "$dom prepare begin - rc=0"
  expect_eq "$dom state" "$(state_of "$dom")" running
  try "destroy-$dom-inv" virsh_session destroy "$dom"
  expect_ok "virsh destroy $dom" "destroy-$dom-inv"
done
try start-b-inv virsh_session start "$B"
expect_refused "virsh start $B (an NVDIMM domain) with the inventory broken" start-b-inv
expect_contains "virsh start $B: the reason" "$out/start-b-inv.all" "the host NVDIMM inventory"
mv "$work/inventory.good" "$inventory"

# A state dir the hook must not trust (writable by everyone).
chmod 0777 "$work/hook-run"
for dom in "$C" "$D"; do
  try "start-$dom-run" virsh_session start "$dom"
  expect_ok "virsh start $dom (hook run dir is mode 0777)" "start-$dom-run"
  try "destroy-$dom-run" virsh_session destroy "$dom"
  expect_ok "virsh destroy $dom" "destroy-$dom-run"
done
try start-b-run virsh_session start "$B"
expect_refused "virsh start $B (an NVDIMM domain) with the run dir mode 0777" start-b-run
show start-b-run
expect_contains "virsh start $B: names the run dir" "$out/start-b-run.all" "$work/hook-run"
chmod 0700 "$work/hook-run"

printf '%%%% not a config\nno-such-key = 1\n' >"$conf.tmp"
chmod 0644 "$conf.tmp"
mv "$conf.tmp" "$conf"
for dom in "$C" "$D"; do
  mark=$(calls_mark)
  try "start-$dom-conf" virsh_session start "$dom"
  expect_ok "virsh start $dom (config file is garbage)" "start-$dom-conf"
  expect_call "$dom start" "$mark" "$dom prepare begin - rc=0"
  try "destroy-$dom-conf" virsh_session destroy "$dom"
  expect_ok "virsh destroy $dom" "destroy-$dom-conf"
done
try start-b-conf virsh_session start "$B"
expect_refused "virsh start $B (an NVDIMM domain) with the config broken" start-b-conf
expect_contains "virsh start $B: names the config file" "$out/start-b-conf.all" "$conf"
cp "$work/nvdimm-hook.conf.good" "$conf"
expect_eq "$A state (running through all this)" "$(state_of "$A")" running

# ---------------------------------------------------------------------------
scenario "9. libvirtd restart with a running NVDIMM domain"
qemu_pid=$(qemu_pid_of "$A")
if ! [[ $qemu_pid =~ ^[0-9]+$ ]] || ! kill -0 "$qemu_pid" 2>/dev/null; then
  fail "no live QEMU pid for $A ($work/runtime/libvirt/qemu/run/$A.pid: '$qemu_pid')"
fi
ok "$A QEMU pid $qemu_pid"
mark=$(calls_mark)
restart_session_libvirtd
# The new daemon reconnects in a thread of its own: wait for the hook call.
deadline=$((SECONDS + 60))
until calls_since "$mark" | grep -qxF "$A reconnect begin - rc=0"; do
  ((SECONDS < deadline)) || fail "no '$A reconnect begin' hook call within 60 s of the restart; calls: $(calls_since "$mark" | tr '\n' ';')"
  sleep 0.1 # poll interval, not synchronisation
done
ok "$A reconnect: hook call '$A reconnect begin - rc=0'"
expect_no_call "$A reconnect" "$mark" "$A release"
expect_eq "$A state after the restart" "$(state_of "$A")" running
expect_eq "$A QEMU pid after the restart" "$(qemu_pid_of "$A")" "$qemu_pid"
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU $qemu_pid of $A is gone"
ok "QEMU $qemu_pid of $A alive"
expect_eq "$A guest NVDIMM size (QMP through the new daemon)" "$(qmp_guest_size "$A")" "$guest_a2"
status
expect_contains "status: $A keeps its claim" "$out/status.all" "$ns_uuid  owner '$A' ($A_uuid)"
expect_contains "status: $A's QEMU" "$out/status.all" "QEMU running"
expect_lacks "status" "$out/status.all" "STALE"
try check-b2 ctl check "$B" -c "$uri"
expect_refused "nvdimmctl check $B" check-b2
expect_contains "nvdimmctl check $B names the owner" "$out/check-b2.all" "domain '$A'"
try start-b3 virsh_session start "$B"
expect_refused "virsh start $B" start-b3
expect_contains "virsh start $B names the owner" "$out/start-b3.all" "claimed by domain '$A' (uuid $A_uuid)"
expect_eq "$A state" "$(state_of "$A")" running

# Again with the inventory broken: reconnect cannot re-plan, and must still
# not fail (libvirt would kill the guest); the claim file outlives the daemon.
cp "$inventory" "$work/inventory.good"
printf 'garbage' >"$inventory.tmp"
chmod 0644 "$inventory.tmp"
mv "$inventory.tmp" "$inventory"
mark=$(calls_mark)
restart_session_libvirtd
deadline=$((SECONDS + 60))
until calls_since "$mark" | grep -qxF "$A reconnect begin - rc=0"; do
  ((SECONDS < deadline)) || fail "no '$A reconnect begin' hook call within 60 s of the restart; calls: $(calls_since "$mark" | tr '\n' ';')"
  sleep 0.1 # poll interval, not synchronisation
done
ok "$A reconnect with the inventory broken: hook call '$A reconnect begin - rc=0'"
expect_eq "$A state after the restart" "$(state_of "$A")" running
expect_eq "$A QEMU pid after the restart" "$(qemu_pid_of "$A")" "$qemu_pid"
mv "$work/inventory.good" "$inventory"
status
expect_contains "status: $A keeps its claim" "$out/status.all" "$ns_uuid  owner '$A' ($A_uuid)"
try start-b4 virsh_session start "$B"
expect_refused "virsh start $B" start-b4
expect_contains "virsh start $B names the owner" "$out/start-b4.all" "claimed by domain '$A'"

# ---------------------------------------------------------------------------
scenario "10. nvdimmctl detach"
try detach-a ctl detach "$A" "$ns_uuid" -c "$uri"
expect_refused "nvdimmctl detach $A while it runs" detach-a
try detach-b ctl detach "$B" namespace0.0 -c "$uri"
expect_ok "nvdimmctl detach $B namespace0.0" detach-b
show detach-b
virsh_session dumpxml --inactive "$B" >"$work/$B.detached.xml" || fail "virsh dumpxml $B failed"
expect_lacks "$B definition after detach: no nvdimm" "$work/$B.detached.xml" "model='nvdimm'"
expect_lacks "$B definition after detach: no annotation" "$work/$B.detached.xml" "urn:nvdimm-hook:1"
try start-b5 virsh_session start "$B"
expect_ok "virsh start $B without its NVDIMM while $A holds the namespace" start-b5
try destroy-b5 virsh_session destroy "$B"
expect_ok "virsh destroy $B" destroy-b5
status
expect_lacks "status: $B's layout record is gone" "$out/status.all" "domain '$B'"
expect_contains "status: $A keeps its claim" "$out/status.all" "$ns_uuid  owner '$A' ($A_uuid)"

# ---------------------------------------------------------------------------
scenario "hook calls"
# Ops whose exit code libvirt acts on only where we expect a refusal; the
# others must always be 0.
bad=$(grep -E ' (started|reconnect|stopped|release|migrate) .* rc=[^0]' "$calls" || true)
[[ -z $bad ]] || fail "hook calls with a non-zero exit: $bad"
ok "started/reconnect/stopped/release calls all exited 0 ($(wc -l <"$calls") calls logged)"
scenario "done"
echo "PASS: $checks checks in $(($(now_ms) - test_start)) ms"
