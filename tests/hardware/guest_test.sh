#!/bin/bash
# CTest hardware.guest (issue 4 part 3): a guest of a real libvirtd whose
# NVDIMM nvdimmctl planned, backed by a regular file.
#
#   guest_test.sh BUILD_DIR SOURCE_DIR
#
# The domain boots the test bed's kernel and initramfs directly (PVH ELF),
# nvh.scenario=guest, with nvh.end=wait so that it runs until destroyed. Its
# NVDIMM is a devdax namespace of a JSON inventory (DESIGN.md §6) whose device
# node is a sparse regular file; `nvdimmctl rewrite` makes the device.
#   start 1  the guest finds the NVDIMM, labels it and creates namespaces in
#            modes the host's namespace is not (raw at the region start,
#            fsdax), writes markers and a pattern; then `virsh destroy`.
#   host     the backing file's bytes: guest offset 0 is backing offset 0, the
#            label area is at backing offset S-L (not at the file's end).
#   start 2  the same domain again: namespaces, labels and data are back;
#            then `virsh save` (a memory-state image).
#   restore  `virsh restore` of that image is refused by nvdimm-hook (installed
#            in the private /etc/libvirt/hooks/qemu.d); the backing file is
#            byte for byte unchanged.
#   start 3  a cold start: the data is unharmed; then `virsh destroy`.
# check_guest.py judges. Runs as root (private mount + pid namespace, session
# libvirtd as uid 65534: tests/libvirt/session_libvirtd.sh). Nothing is skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../libvirt/session_libvirtd.sh
source "$here/../libvirt/session_libvirtd.sh"
(($# == 2)) || session_die "usage: $0 BUILD_DIR SOURCE_DIR"
session_reexec_in_namespace "$here/$(basename "${BASH_SOURCE[0]}")" "$@"

build_dir=$(cd "$1" && pwd) || session_die "BUILD_DIR $1 does not exist"
# shellcheck source-path=SCRIPTDIR source=testbed.sh
source "$here/testbed.sh"
session_require_tools python3 truncate stat virsh
nvdimmctl=$build_dir/nvdimmctl
hook=$build_dir/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $build_dir/nvdimm-hook
[[ -x $nvdimmctl ]] || session_die "$nvdimmctl is missing: build the nvdimmctl target first"
[[ -x $hook ]] || session_die "$hook is missing: build the nvdimm-hook target first"

started=$SECONDS
testbed_load "$build_dir"
# shellcheck disable=SC2153 # set by testbed.env
echo "# test bed: $KERNEL_PACKAGE $KERNEL_PACKAGE_VERSION, initramfs key ${TESTBED_KEY:0:12} ($((SECONDS - started)) s)"

work=$(session_mktemp_workdir)
keep=$build_dir/hardware/guest
cleanup() {
  local rc=$?
  set +e
  trap '' PIPE
  if ((rc != 0)); then
    session_dump_logs
    rm -rf -- "$keep"
    mkdir -p "$keep"
    cp -a "$work"/*.log "$work"/*.out "$work"/serial/*.log "$work"/*.xml "$work"/*.json "$keep"/ 2>/dev/null
    echo "# logs kept in $keep" >&2
  fi
  stop_session_libvirtd
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() { session_die "$*"; }
ok() { echo "ok: $*"; }

# ---------------------------------------------------------------------------
# The host side of the guest: one devdax namespace of 502 MiB, align 2 MiB
# (the geometry FACTS.md measured), whose "device" is a sparse regular file
# named like its char device, and a domain annotated with its uuid.
device_size=526385152
device_align=2097152
ns_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
raw_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
mkdir -p "$work/dev" "$work/serial" "$work/boot" "$work/save" "$work/bin" \
  "$work/hook-run" "$work/hook-state"
truncate -s "$device_size" "$work/dev/dax0.0"
chown "$SESSION_UID:$SESSION_GID" "$work/dev" "$work/dev/dax0.0" "$work/serial" "$work/save" \
  "$work/hook-run" "$work/hook-state"
chmod 0700 "$work/hook-run" "$work/hook-state"
chmod 0600 "$work/dev/dax0.0"
cat >"$work/inventory.json" <<EOF
[{"dev":"namespace0.0","mode":"devdax","map":"dev","size":$device_size,"uuid":"$ns_uuid",
  "raw_uuid":"$raw_uuid","daxregion":{"id":0,"size":$device_size,"align":$device_align,
  "devices":[{"chardev":"dax0.0","size":$device_size,"target_node":0,"align":$device_align,
  "mode":"devdax"}]},"align":$device_align,"name":"hostdd","numa_node":0,"target_node":0}]
EOF

# Direct kernel boot of the test bed (uid 65534 must read kernel and initrd).
cp "$KERNEL" "$work/boot/vmlinux"
cp "$INITRD" "$work/boot/initramfs.cpio"
chmod 0644 "$work/boot/vmlinux" "$work/boot/initramfs.cpio"
domain=nvh-guest
serial=$work/serial/console.log
cat >"$work/domain.xml" <<EOF
<domain type='qemu'>
  <name>$domain</name>
  <metadata>
    <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">
      <nvdimm:nvdimm uuid="$ns_uuid"/>
    </nvdimm:nvdimms>
  </metadata>
  <memory unit='MiB'>512</memory>
  <currentMemory unit='MiB'>512</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$work/boot/vmlinux</kernel>
    <initrd>$work/boot/initramfs.cpio</initrd>
    <cmdline>console=ttyS0 loglevel=4 panic=-1 nvh.scenario=guest nvh.end=wait</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'>
      <source path='$serial'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF

"$nvdimmctl" plan --inventory "$work/inventory.json" --device-dir "$work/dev" --json \
  "$work/domain.xml" >"$work/plan.json" 2>"$work/plan.err" ||
  fail "nvdimmctl plan failed: $(cat "$work/plan.err")"
"$nvdimmctl" rewrite --inventory "$work/inventory.json" --device-dir "$work/dev" \
  "$work/domain.xml" >"$work/rewritten.xml" 2>"$work/rewrite.err" ||
  fail "nvdimmctl rewrite failed: $(cat "$work/rewrite.err")"
chmod 0644 "$work/rewritten.xml"
echo "# plan: $(tr -d ' \n' <"$work/plan.json")"
sed 's/^/# rewrite: /' "$work/rewrite.err"
grep -q "<kernel>$work/boot/vmlinux</kernel>" "$work/rewritten.xml" ||
  fail "nvdimmctl rewrite lost the direct kernel boot <os> elements"
ok "nvdimmctl planned and rewrote the domain (kernel boot kept)"

# The hook, as a session daemon runs it (uid 65534, environment reduced to
# LC_ALL PATH HOME USER LOGNAME): a wrapper names its config file.
cp "$hook" "$work/bin/nvdimm-hook"
chmod 0755 "$work/bin/nvdimm-hook"
cat >"$work/hook.conf" <<EOF
inventory = $work/inventory.json
device-dir = $work/dev
run-dir = $work/hook-run
state-dir = $work/hook-state
libvirt-run-dir = $work/runtime/libvirt/qemu/run
EOF
chmod 0644 "$work/hook.conf" "$work/inventory.json"
mkdir -p "$work/etc-libvirt/hooks/qemu.d"
cat >"$work/etc-libvirt/hooks/qemu.d/50-nvdimm-hook" <<EOF
#!/bin/sh
NVDIMM_HOOK_CONFIG=$work/hook.conf exec $work/bin/nvdimm-hook "\$@"
EOF
chmod 0755 "$work/etc-libvirt/hooks/qemu.d/50-nvdimm-hook"

# ---------------------------------------------------------------------------
start_session_libvirtd "$work"
virsh_session define "$work/rewritten.xml" >"$work/define.out" 2>&1 ||
  fail "virsh define failed: $(cat "$work/define.out")"
ok "virsh define $domain"

# start_guest LOG: starts the domain and waits (bounded) for NVH-DONE on its
# serial console, which it keeps as LOG; the guest then idles (nvh.end=wait).
start_guest() {
  local log=$1 t0 deadline state
  rm -f -- "$serial"
  t0=${EPOCHREALTIME/./}
  virsh_session start "$domain" >"$work/start.out" 2>&1 ||
    fail "virsh start $domain failed: $(cat "$work/start.out")"
  deadline=$((SECONDS + TESTBED_BOOT_TIMEOUT))
  until [[ -f $serial ]] && grep -q '^NVH-DONE ' "$serial"; do
    state=$(virsh_session domstate "$domain" 2>&1) || state="unknown ($state)"
    if [[ $state != running ]]; then
      [[ -f $serial ]] && tail -n 60 "$serial" >&2
      fail "domain $domain is '$state' before its scenario finished"
    fi
    if ((SECONDS >= deadline)); then
      [[ -f $serial ]] && tail -n 60 "$serial" >&2
      fail "no NVH-DONE from $domain within ${TESTBED_BOOT_TIMEOUT}s"
    fi
    sleep 0.2 # poll interval, not synchronisation
  done
  cp "$serial" "$log"
  ok "virsh start $domain: scenario done after $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
}

expect_shut_off() {
  local state
  state=$(virsh_session domstate "$domain") || fail "virsh domstate $domain failed"
  [[ $state == "shut off" ]] || fail "$1: $domain is '$state', expected 'shut off'"
  ok "$1: $domain is shut off"
}

destroy_guest() {
  virsh_session destroy "$domain" >"$work/destroy.out" 2>&1 ||
    fail "virsh destroy $domain failed: $(cat "$work/destroy.out")"
  expect_shut_off "virsh destroy"
}

check() { # check WHEN LOG...
  local when=$1
  shift
  python3 -B "$here/check_guest.py" "$work/plan.json" "$work/dev/dax0.0" "$@" ||
    fail "check_guest.py found failures $when (above)"
}

start_guest "$work/start1.log"
destroy_guest
check "after the first start" "$work/start1.log"

start_guest "$work/start2.log"
check "during the second start" "$work/start1.log" "$work/start2.log"

# A memory-state image holds the NVDIMM's content too (libvirt does not skip
# shared memory when saving): restoring it would put old data back.
t0=${EPOCHREALTIME/./}
virsh_session save "$domain" "$work/save/$domain.save" >"$work/save.out" 2>&1 ||
  fail "virsh save $domain failed: $(cat "$work/save.out")"
ok "virsh save $domain ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms, $(stat -c %s "$work/save/$domain.save") bytes)"
expect_shut_off "virsh save"
before=$(sha256sum <"$work/dev/dax0.0" | cut -d' ' -f1)
if virsh_session restore "$work/save/$domain.save" >"$work/restore.out" 2>&1; then
  fail "virsh restore of a memory-state image of an NVDIMM guest succeeded: $(cat "$work/restore.out")"
fi
sed 's/^/# virsh restore: /' "$work/restore.out"
grep -q 'Hook script execution failed' "$work/restore.out" ||
  fail "virsh restore failed, but not in the hook: $(cat "$work/restore.out")"
grep -q 'nvdimm-hook' "$work/restore.out" ||
  fail "virsh restore: the refusal does not name nvdimm-hook: $(cat "$work/restore.out")"
ok "virsh restore refused by the hook"
expect_shut_off "refused restore"
after=$(sha256sum <"$work/dev/dax0.0" | cut -d' ' -f1)
[[ $before == "$after" ]] ||
  fail "the backing file changed during the refused restore (sha256 $before -> $after)"
ok "backing file unchanged by the refused restore (sha256 ${after:0:16})"

start_guest "$work/start3.log"
destroy_guest
check "after a cold start following the refused restore" \
  "$work/start1.log" "$work/start2.log" "$work/start3.log"

virsh_session undefine "$domain" >/dev/null 2>&1 || fail "virsh undefine $domain failed"
echo "# hardware.guest: $((SECONDS - started)) s"
