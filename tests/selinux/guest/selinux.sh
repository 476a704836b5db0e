# Issue 13, inside the emulated NVDIMM host booted with SELinux enforcing
# (security=selinux selinux=1 enforcing=1; tests/selinux/selinux_test.sh).
# The host built two binary policies (build-policy.sh): base = Debian's
# refpolicy + nvh_test.cil, full = base + nvdimm_hook. This scenario loads
# them one after the other and records, per phase, what happened and the
# kernel's AVC lines (data blocks "avc PHASE"); check_selinux.py judges.
#
#   base-qemu   QEMU in svirt_t:c1,c2 (launched from virtd_t as libvirt does:
#               chcon the devdax to svirt_image_t:c1,c2, setexeccon, exec)
#               maps /dev/dax0.0: must fail, denied { map }
#   full-qemu   the same with nvdimm_hook loaded: must run, no denial
#   full-mcs    QEMU of another guest (c3,c4) on that devdax: denied (MCS)
#   fast        a domain without NVDIMMs through the hook link: the entry
#               alone allows every call (also with the full hook moved away),
#               no denial
#   hook        libvirt's hook sequence from virtd_t through
#               /etc/libvirt/hooks/qemu.d/50-nvdimm-hook -> the entry, which
#               execs the full hook (XML on a memfd): prepare (libndctl
#               inventory, claim, QEMU probe), start (layout record),
#               started, stopped, release, syslog; no denial at all
#   hook-denied the hook with a state dir outside its own, and code running
#               in nvdimm_hook_t reading /etc/shadow, writing /etc, opening
#               the devdax: denied
. /nvh/lib.sh

P=/nvh/selinux # policies, file contexts (from the overlay)
T=/nvh/selinux/t # the virtd_t shell: scripts, transcripts (nvh_test_file_t)
VIRTD=system_u:system_r:virtd_t:s0-s0:c0.c1023
SVIRT=system_u:system_r:svirt_t:s0:c1,c2
SVIRT_OTHER=system_u:system_r:svirt_t:s0:c3,c4
IMAGE=system_u:object_r:svirt_image_t:s0:c1,c2
HOOK=/usr/libexec/nvdimm-hook/nvdimm-hook
ENTRY=/usr/libexec/nvdimm-hook/nvdimm-hook-entry
HOOK_LINK=/etc/libvirt/hooks/qemu.d/50-nvdimm-hook
DAX=/dev/dax0.0
FC=/etc/selinux/default/contexts/files/file_contexts

fatal() {
  nvh_fail "$*"
  nvh_data "dmesg at failure" dmesg
  exit 1
}

# ---------------------------------------------------------------------------
# Before any policy: the kernel runs SELinux, nothing is labelled yet.
mkdir -p /sys/fs/selinux
mount -t selinuxfs selinuxfs /sys/fs/selinux || fatal "mount selinuxfs (booted without security=selinux?)"
nvh_expect_eq "SELinux enforcing from the command line" "$(cat /sys/fs/selinux/enforce)" 1 || exit 1
nvh_fact lsm "$(cat /sys/kernel/security/lsm 2>/dev/null)"
# Audit lines reach the log through printk_ratelimit() when no auditd runs;
# with the limit on, denials would be dropped ("callbacks suppressed").
echo 0 >/proc/sys/kernel/printk_ratelimit
for tool in setfiles runcon chcon secon nvdimm-hook nvdimmctl qemu-system-x86_64; do
  command -v "$tool" >/dev/null || fatal "$tool is missing from the image"
done

# /tmp on tmpfs, as on Fedora (the probe's scratch files go there).
mount -t tmpfs -o mode=1777 tmpfs /tmp || fatal "mount tmpfs on /tmp"

# One devdax namespace, 2 MiB aligned.
nvh_wait "region0 appears" 60 test -e /sys/bus/nd/devices/region0 || exit 1
nvh_check "ndctl init-labels" sh -c 'ndctl disable-region region0 && ndctl init-labels -f -V 1.2 nmem0 && ndctl enable-region region0' || exit 1
nvh_check "ndctl create-namespace devdax 512M" \
  ndctl create-namespace -r region0 -m devdax -s 512M -a 2M -n sel0 || exit 1
nvh_wait "$DAX appears" 30 test -c "$DAX" || exit 1
uuid=$(ns_field sel0 uuid)
[ -n "$uuid" ] || fatal "no uuid for namespace sel0"

# The installed layout (the RPM, prefix /usr): the entry (from the overlay,
# built to exec $HOOK), the full hook beside it, libvirt's qemu.d link to the
# entry, the config. Its run and state dirs are left to the hook to create.
# The test bed's own copy at this build's prefix goes: one hook on the host.
mkdir -p /usr/libexec/nvdimm-hook /etc/libvirt/hooks/qemu.d /etc/nvdimm-hook \
  /var/lib /var/lib/libvirt/qemu /var/log /run/libvirt/qemu "$T"
[ -x "$ENTRY" ] || fatal "$ENTRY is missing from the overlay"
testbed_entry=$(readlink "$HOOK_LINK" 2>/dev/null)
[ -n "$testbed_entry" ] && [ "$testbed_entry" != "$ENTRY" ] && rm -rf "$(dirname "$testbed_entry")"
cp /usr/bin/nvdimm-hook "$HOOK"
ln -sfn "$ENTRY" "$HOOK_LINK"
cat >/etc/nvdimm-hook/nvdimm-hook.conf <<'EOF'
probe-timeout = 120
EOF
# The same with the layout records somewhere the hook must not write.
cat >/etc/nvdimm-hook/elsewhere.conf <<'EOF'
probe-timeout = 120
state-dir = /var/lib/libvirt/nvdimm-hook
EOF
echo 'root:$6$x$notarealhash:19000:0:99999:7:::' >/etc/shadow
chmod 0600 /etc/shadow
# syslog: busybox's syslogd as /usr/sbin/syslogd (syslogd_exec_t).
rm -f /usr/sbin/syslogd
cp /usr/bin/busybox /usr/sbin/syslogd
# Code in the hook domain that is not the hook: busybox labelled
# nvdimm_hook_exec_t (what a compromised hook could do).
cp /usr/bin/busybox /nvh/selinux/busybox

cat >/run/nvh/domain.xml <<EOF
<domain type='qemu'>
  <name>sel</name>
  <uuid>5e1e0000-0000-4000-8000-000000000013</uuid>
  <metadata>
    <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">
      <nvdimm:nvdimm uuid="$uuid"/>
    </nvdimm:nvdimms>
  </metadata>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>
EOF
# The same guest without NVDIMMs (the word appears nowhere): the fast path.
sed -e '/<metadata>/,/<\/metadata>/d' -e 's/<name>sel</<name>plain</' /run/nvh/domain.xml >"$T/plain.xml"
grep -q nvdimm "$T/plain.xml" && fatal "plain.xml still mentions nvdimm"
nvh_check "nvdimmctl rewrite" sh -c "nvdimmctl rewrite /run/nvh/domain.xml >$T/domain.xml" || exit 1
nvh_data_file "domain" "$T/domain.xml"
nvdimmctl plan /run/nvh/domain.xml --json >/run/nvh/plan.json || fatal "nvdimmctl plan"
S=$(nvh_json_field target_size </run/nvh/plan.json)
L=$(nvh_json_field label_size </run/nvh/plan.json)
A=$(nvh_json_field align_size </run/nvh/plan.json)
nvh_fact plan "S=$S L=$L A=$A"

# The virtd_t shell's scripts. qemu.sh CONTEXT NAME: as libvirt starts a
# guest: the devdax (virSecuritySELinuxSetMemoryLabel) and the guest's
# private directory labelled with the guest's image label, QEMU exec'd with
# the guest's process label (setexeccon + exec), its log and its QMP
# transcript files in that directory (on refpolicy, MCS keeps a guest from
# writing the daemon's pipes).
cat >"$T/qemu.sh" <<EOF
level=\${1#*:*:*:}
dir=/var/lib/libvirt/qemu/domain-\$2
image=system_u:object_r:svirt_image_t:\$level
mkdir -p \$dir || exit 3
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-memory-devices"}' '{"execute":"quit"}' >\$dir/qmp.in
: >\$dir/qmp.out
: >\$dir/qemu.log
chcon \$image \$dir \$dir/qmp.in \$dir/qmp.out \$dir/qemu.log || exit 3
chcon $IMAGE $DAX || exit 3
runcon "\$1" qemu-system-x86_64 -S -machine pc,nvdimm=on,accel=tcg -nodefaults \\
  -display none -m 32M,slots=2,maxmem=4G \\
  -object memory-backend-file,id=mem0,mem-path=$DAX,share=on,size=$S,align=$A,pmem=on \\
  -device nvdimm,id=nvdimm0,memdev=mem0,label-size=$L \\
  -qmp stdio <\$dir/qmp.in >\$dir/qmp.out 2>\$dir/qemu.log
echo "qemu-rc=\$?" >"$T/qemu-\$2.out"
cat \$dir/qemu.log \$dir/qmp.out >>"$T/qemu-\$2.out"
EOF
# hook.sh NAME OP SUBOP [XML]: what libvirt does for one hook call
# (virHookCall: the XML on a pipe to stdin, output captured from pipes).
cat >"$T/hook.sh" <<EOF
{
  cat \${4:-$T/domain.xml} | $HOOK_LINK "\$1" "\$2" "\$3" -
  echo "hook-rc=\$?"
} 2>&1 | cat >"$T/hook-\$1-\$2.out"
EOF
# evil.sh NAME CMD...: CMD run by busybox in nvdimm_hook_t.
cat >"$T/evil.sh" <<EOF
name=\$1
shift
{
  /nvh/selinux/busybox "\$@" </dev/null
  echo "rc=\$?"
} 2>&1 | cat >"$T/evil-\$name.out"
EOF

# as_virtd SCRIPT ARGS...: runs SCRIPT in virtd_t (nvh_test.cil lets this
# init enter it); its stdout/stderr go to $T/virtd.log.
as_virtd() {
  timeout -s KILL 200 runcon "$VIRTD" /bin/sh "$@" </dev/null >>"$T/virtd.log" 2>&1 ||
    nvh_fail "virtd_t: $* did not finish (status $?)"
}

# flush PHASE: the kernel prints audit lines from a queue (kauditd) in order.
# A denial provoked now, on a file named after the phase, is printed after
# every earlier one; once it is in the log, the phase's lines are complete.
# The log is then handed over as data block "avc PHASE" and cleared.
flush() {
  : >"$P/flush/$1"
  chcon system_u:object_r:nvh_test_sentinel_t:s0 "$P/flush/$1" || fatal "chcon sentinel $1"
  runcon "$VIRTD" cat "$P/flush/$1" </dev/null >/dev/null 2>&1 && fatal "virtd_t could read the sentinel"
  nvh_wait "audit lines of $1 printed" 30 sh -c "dmesg | grep -q 'name=\"$1\"'" || exit 1
  nvh_data "avc $1" dmesg -c
}

# load NAME: the binary policy NAME.33, as load_policy does (one write of
# the whole file to /sys/fs/selinux/load), then the whole image relabelled
# from NAME.fc (restorecon at boot), then the test's own labels.
load() {
  size=$(stat -c %s "$P/$1.33")
  start=$(nvh_ms)
  dd if="$P/$1.33" of=/sys/fs/selinux/load bs="$size" count=1 2>/run/nvh/load.err ||
    fatal "loading policy $1: $(cat /run/nvh/load.err)"
  nvh_ok "policy $1 loaded ($size bytes, $(($(nvh_ms) - start)) ms)"
  nvh_expect_eq "enforcing after loading $1" "$(cat /sys/fs/selinux/enforce)" 1 || exit 1
  nvh_expect_eq "init domain" "$(cat /proc/self/attr/current | tr -d '\0')" system_u:system_r:kernel_t:s0 || exit 1
  start=$(nvh_ms)
  # Where restorecon looks (the .subs_dist aliases /bin to /usr/bin etc.).
  mkdir -p /etc/selinux/default/contexts/files
  cp -p "$P/$1.fc" "$FC"
  cp -p "$P/$1.fc.bin" "$FC.bin"
  cp -p "$P/file_contexts.subs_dist" "$FC.subs_dist"
  # In kernel_t (not setfiles_t): only the test init's output files are
  # unlabelled yet.
  if [ "$1" = base ]; then
    # One file system per run: one run across rootfs, devtmpfs and tmpfs gave
    # every device node the label of some other inode (inode numbers repeat).
    for fs in "/ -e /dev -e /run -e /tmp" "/dev -e /dev/shm" /run; do
      # shellcheck disable=SC2086 # a path and its exclusions
      runcon system_u:system_r:kernel_t:s0 setfiles -F -e /proc -e /sys "$FC" $fs >/run/nvh/setfiles.out 2>&1 ||
        fatal "setfiles $1.fc $fs: $(tail -n 5 /run/nvh/setfiles.out)"
    done
    chcon system_u:object_r:tmp_t:s0 /tmp || fatal "chcon /tmp"
  else
    # full.fc is base.fc plus the module's lines (selinux_test.sh checks):
    # relabel what those name (each setfiles run costs ~20 s under TCG).
    runcon system_u:system_r:kernel_t:s0 setfiles -F "$P/module.fc" /usr/libexec/nvdimm-hook /etc/nvdimm-hook \
      >/run/nvh/setfiles.out 2>&1 || fatal "setfiles module.fc: $(tail -n 5 /run/nvh/setfiles.out)"
  fi
  nvh_ok "image relabelled for $1 ($(($(nvh_ms) - start)) ms)"
  # TCG needs executable memory (refpolicy has no svirt_tcg_t; Fedora does).
  echo 1 >/sys/fs/selinux/booleans/virt_use_execmem && echo 1 >/sys/fs/selinux/commit_pending_bools ||
    fatal "cannot set virt_use_execmem"
  mkdir -p "$P/flush"
  # virtd_t looks up its scripts and the sentinels through /nvh/selinux.
  chcon system_u:object_r:nvh_test_file_t:s0 /nvh "$P" "$P/flush" || fatal "chcon /nvh"
  chcon -R system_u:object_r:nvh_test_file_t:s0 "$T" || fatal "chcon $T"
}

# label_is WHAT PATH TYPE
label_is() {
  nvh_expect_eq "$1" "$(secon -t -f "$2" 2>&1 | sed 's/^type: *//')" "$3"
}

# out_has WHAT FILE TEXT
out_has() {
  if grep -qF -- "$3" "$2"; then
    nvh_ok "$1"
  else
    nvh_fail "$1: '$3' not in: $(tr '\n' ' ' <"$2" | cut -c1-400)"
  fi
}

dmesg -c >/dev/null

# ---------------------------------------------------------------------------
# Phase base-qemu: refpolicy without nvdimm_hook.
load base
label_is "devdax labelled by refpolicy" "$DAX" dax_device_t
label_is "QEMU binary" /usr/bin/qemu-system-x86_64 qemu_exec_t
label_is "/dev/null" /dev/null null_device_t
label_is "/bin (alias of /usr/bin)" /bin bin_t
as_virtd "$T/qemu.sh" "$SVIRT" base
nvh_data_file "qemu base" "$T/qemu-base.out"
label_is "devdax relabelled by virtd_t" "$DAX" svirt_image_t
out_has "QEMU in svirt_t cannot map the devdax (EACCES)" "$T/qemu-base.out" "Permission denied"
out_has "QEMU exited with an error" "$T/qemu-base.out" "qemu-rc=1"
flush base-qemu

# ---------------------------------------------------------------------------
# With nvdimm_hook.
load full
label_is "hook binary" "$HOOK" nvdimm_hook_exec_t
label_is "hook entry" "$ENTRY" nvdimm_hook_exec_t
nvh_expect_eq "qemu.d link points to the entry" "$(readlink "$HOOK_LINK")" "$ENTRY"
label_is "hook config" /etc/nvdimm-hook/nvdimm-hook.conf nvdimm_hook_conf_t
label_is "/etc/shadow" /etc/shadow shadow_t
label_is "syslogd" /usr/sbin/syslogd syslogd_exec_t
chcon system_u:object_r:nvdimm_hook_exec_t:s0 /nvh/selinux/busybox || fatal "chcon hook-busybox"
/usr/sbin/syslogd -n -O /var/log/messages </dev/null >/dev/null 2>&1 &
syslogd_pid=$!
nvh_wait "syslogd created /dev/log" 30 test -S /dev/log || exit 1
nvh_expect_eq "syslogd domain" "$(tr -d '\0' </proc/$syslogd_pid/attr/current)" system_u:system_r:syslogd_t:s0
label_is "/dev/log" /dev/log devlog_t
flush setup

as_virtd "$T/qemu.sh" "$SVIRT" full
nvh_data_file "qemu full" "$T/qemu-full.out"
out_has "QEMU in svirt_t maps the devdax with nvdimm_hook" "$T/qemu-full.out" '"type": "nvdimm"'
out_has "QEMU exited cleanly" "$T/qemu-full.out" "qemu-rc=0"
flush full-qemu

as_virtd "$T/qemu.sh" "$SVIRT_OTHER" mcs
nvh_data_file "qemu mcs" "$T/qemu-mcs.out"
out_has "QEMU of another guest (c3,c4) cannot open the devdax of c1,c2" "$T/qemu-mcs.out" "Permission denied"
flush full-mcs

# ---------------------------------------------------------------------------
# A domain without NVDIMMs: the entry's fast path, as installed, and again
# with the full hook moved away (each call still allowed: the entry alone
# decided; rename keeps the label).
for phase in installed alone; do
  [ $phase = alone ] && { mv "$HOOK" "$HOOK.away" || fatal "mv $HOOK"; }
  for call in "prepare begin" "start begin" "started begin" "stopped end" "release end"; do
    set -- $call
    as_virtd "$T/hook.sh" plain "$1" "$2" "$T/plain.xml"
    out_has "fast path ($phase): $1 allowed" "$T/hook-plain-$1.out" "hook-rc=0"
    if [ -s "$T/hook-plain-$1.out" ] && [ "$(cat "$T/hook-plain-$1.out")" != "hook-rc=0" ]; then
      nvh_fail "fast path ($phase): $1 printed: $(tr '\n' ' ' <"$T/hook-plain-$1.out")"
    fi
  done
done
mv "$HOOK.away" "$HOOK" || fatal "mv $HOOK.away"
label_is "hook binary moved back" "$HOOK" nvdimm_hook_exec_t
if [ -e /run/nvdimm-hook ]; then nvh_fail "the fast path created /run/nvdimm-hook"; else nvh_ok "fast path: no run dir"; fi
flush fast

# ---------------------------------------------------------------------------
# The hook, as libvirtd runs it for a start and a shutdown; libvirt labels
# the devdax for the guest after prepare and restores it before release.
chcon system_u:object_r:dax_device_t:s0 "$DAX"
for call in "prepare begin" "start begin" "started begin"; do
  set -- $call
  [ "$1" = start ] && chcon "$IMAGE" "$DAX"
  as_virtd "$T/hook.sh" sel "$1" "$2"
  nvh_data_file "hook $1" "$T/hook-sel-$1.out"
  out_has "hook $1 allowed" "$T/hook-sel-$1.out" "hook-rc=0"
  if [ "$1" = prepare ]; then
    nvh_data "run dir" ls -la /run/nvdimm-hook
    nvh_data "state dir" ls -la /var/lib/nvdimm-hook
    nvh_expect_eq "prepare: one claim written" "$(ls /run/nvdimm-hook/claims 2>/dev/null | wc -l)" 1
    if [ -s /var/lib/nvdimm-hook/probe-cache.json ]; then
      nvh_ok "prepare: QEMU probe ran (probe cache written)"
    else
      nvh_fail "prepare: no probe cache in /var/lib/nvdimm-hook"
    fi
  fi
done
nvh_data "state dir after start" ls -laR /var/lib/nvdimm-hook
label_is "run dir created by the hook" /run/nvdimm-hook nvdimm_hook_runtime_t
label_is "state dir created by the hook" /var/lib/nvdimm-hook nvdimm_hook_var_lib_t
for f in /run/nvdimm-hook/* /var/lib/nvdimm-hook/*; do
  case $f in
    /run/*) label_is "claim file $f" "$f" nvdimm_hook_runtime_t ;;
    *) label_is "state file $f" "$f" nvdimm_hook_var_lib_t ;;
  esac
done
for call in "stopped end" "release end"; do
  set -- $call
  [ "$1" = release ] && chcon system_u:object_r:dax_device_t:s0 "$DAX"
  as_virtd "$T/hook.sh" sel "$1" "$2"
  nvh_data_file "hook $1" "$T/hook-sel-$1.out"
  out_has "hook $1 ran" "$T/hook-sel-$1.out" "hook-rc=0"
done
nvh_expect_eq "release: claim removed" "$(ls /run/nvdimm-hook/claims | wc -l)" 0
nvh_data_file "syslog" /var/log/messages
out_has "syslog: prepare decision" /var/log/messages "prepare: allowed"
out_has "syslog: start decision" /var/log/messages "start: layout recorded"
flush hook

# ---------------------------------------------------------------------------
# What the hook domain must not do.
cat >"$T/elsewhere.sh" <<EOF
{
  cat $T/domain.xml | NVDIMM_HOOK_CONFIG=/etc/nvdimm-hook/elsewhere.conf $HOOK_LINK sel2 prepare begin -
  echo "hook-rc=\$?"
} 2>&1 | cat >"$T/hook-elsewhere.out"
EOF
as_virtd "$T/elsewhere.sh"
nvh_data_file "hook elsewhere" "$T/hook-elsewhere.out"
out_has "hook with a state dir in /var/lib/libvirt refuses" "$T/hook-elsewhere.out" "hook-rc=1"
if [ -e /var/lib/libvirt/nvdimm-hook ]; then
  nvh_fail "the hook created /var/lib/libvirt/nvdimm-hook"
else
  nvh_ok "nothing created in /var/lib/libvirt"
fi
as_virtd "$T/evil.sh" context cat /proc/self/attr/current
out_has "busybox labelled nvdimm_hook_exec_t runs in nvdimm_hook_t" "$T/evil-context.out" system_u:system_r:nvdimm_hook_t:s0
as_virtd "$T/evil.sh" shadow cat /etc/shadow
out_has "nvdimm_hook_t cannot read /etc/shadow" "$T/evil-shadow.out" "Permission denied"
as_virtd "$T/evil.sh" etc touch /etc/nvh-evil
out_has "nvdimm_hook_t cannot create files in /etc" "$T/evil-etc.out" "Permission denied"
as_virtd "$T/evil.sh" config sh -c 'echo x >>/etc/nvdimm-hook/nvdimm-hook.conf'
out_has "nvdimm_hook_t cannot write its config" "$T/evil-config.out" "Permission denied"
as_virtd "$T/evil.sh" dax dd "if=$DAX" of=/dev/null bs=4096 count=1
out_has "nvdimm_hook_t cannot open the devdax" "$T/evil-dax.out" "Permission denied"
if [ -e /etc/nvh-evil ]; then nvh_fail "/etc/nvh-evil exists"; else nvh_ok "/etc/nvh-evil was not created"; fi
flush hook-denied

nvh_data "virtd log" cat "$T/virtd.log"
kill "$syslogd_pid" 2>/dev/null
exit 0
