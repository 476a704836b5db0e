#!/usr/bin/env bash
# The SELinux module compiles with the refpolicy devel Makefile (Debian's
# selinux-policy-dev; the same command the spec runs), without warnings, and
# the compiled rules, turned back into CIL (semodule_unpackage +
# checkmodule -C), hold what the module is for:
#   - QEMU (svirt_t, svirt_tcg_t) may map svirt_image_t character devices
#     (devdax), and
#   - the libvirt daemons (virtd_t, virtqemud_t) enter nvdimm_hook_t through
#     nvdimm_hook_exec_t,
# plus what the hook domain needs (including what tests/selinux found missing
# under an enforcing kernel) and nothing that would let it open device nodes
# or run unconfined.
# Usage: selinux_policy_test.sh SOURCE_DIR
source "$(dirname "$0")/lib.sh"
src=$1
need make
need m4
need checkmodule checkpolicy
need semodule_package semodule-utils
need semodule_unpackage semodule-utils
makefile=/usr/share/selinux/devel/Makefile
[ -f "$makefile" ] || die "$makefile missing: install selinux-policy-dev"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src"/selinux/nvdimm_hook.te "$src"/selinux/nvdimm_hook.if "$src"/selinux/nvdimm_hook.fc "$tmp"/
if ! make -C "$tmp" -f "$makefile" nvdimm_hook.pp >"$tmp/make.log" 2>&1; then
  cat "$tmp/make.log"
  die "policy module does not compile"
fi
cat "$tmp/make.log"
check "module compiled to nvdimm_hook.pp" test -s "$tmp/nvdimm_hook.pp"
check "no compiler or m4 warnings" bash -c '! grep -Ei "warning|error|deprecated" "$1"' _ "$tmp/make.log"

(cd "$tmp" && semodule_unpackage nvdimm_hook.pp out.mod out.fc)
checkmodule -M -b -C "$tmp/out.mod" -o "$tmp/out.cil" >/dev/null 2>&1 ||
  die "checkmodule -C could not turn the compiled module back into CIL"
cil=$tmp/out.cil
echo "== compiled rules (CIL)"; cat "$cil"

# has_rule EXACT_CIL_LINE
has_rule() { grep -Fq -- "$1" "$cil"; }
# allows SOURCE TARGET CLASS PERM: some allow rule grants PERM
allows() {
  grep -E "^[[:space:]]*\(allow $1 $2 \($3 \(" "$cil" | grep -Eq "[( ]$4[) ]"
}

# (a) devdax map for QEMU
check "allow svirt_t svirt_image_t:chr_file map" \
  has_rule '(allow svirt_t svirt_image_t (chr_file (map)))'
check "allow svirt_tcg_t svirt_image_t:chr_file map" \
  has_rule '(allow svirt_tcg_t svirt_image_t (chr_file (map)))'

# (b) domain, entry point, transitions
check "type nvdimm_hook_t" has_rule '(type nvdimm_hook_t)'
check "nvdimm_hook_exec_t is the entrypoint of nvdimm_hook_t" \
  has_rule '(allow nvdimm_hook_t nvdimm_hook_exec_t (file (entrypoint)))'
check "system_r may hold nvdimm_hook_t" has_rule '(roletype system_r nvdimm_hook_t)'
for daemon in virtd_t virtqemud_t; do
  check "type_transition $daemon nvdimm_hook_exec_t:process nvdimm_hook_t" \
    has_rule "(typetransition $daemon nvdimm_hook_exec_t process nvdimm_hook_t)"
  check "$daemon may transition to nvdimm_hook_t" \
    has_rule "(allow $daemon nvdimm_hook_t (process (transition)))"
  check "$daemon may execute nvdimm_hook_exec_t" allows "$daemon" nvdimm_hook_exec_t file execute
  check "hook uses the pipes $daemon hands it (XML on stdin)" \
    allows nvdimm_hook_t "$daemon" fifo_file read
done
check "virtqemud_t rules are optional (Debian refpolicy has no virtqemud_t)" \
  bash -c 'awk "/^\\(optional/{b=\$0} /virtqemud_t nvdimm_hook_t/{print b}" "$1" | grep -q optional' _ "$cil"

# what the hook needs
check "own run dir: manage files" allows nvdimm_hook_t nvdimm_hook_runtime_t file unlink
check "own run dir: flock" allows nvdimm_hook_t nvdimm_hook_runtime_t file lock
check "own state dir: manage files" allows nvdimm_hook_t nvdimm_hook_var_lib_t file rename
check "own state dir: create dirs" allows nvdimm_hook_t nvdimm_hook_var_lib_t dir create
check "/run/nvdimm-hook created by the hook gets its type" \
  has_rule '(typetransition nvdimm_hook_t var_run_t dir "nvdimm-hook" nvdimm_hook_runtime_t)'
check "/var/lib/nvdimm-hook created by the hook gets its type" \
  has_rule '(typetransition nvdimm_hook_t var_lib_t dir "nvdimm-hook" nvdimm_hook_var_lib_t)'
check "config: read" allows nvdimm_hook_t nvdimm_hook_conf_t file read
check "config: read only" bash -c '! grep -E "allow nvdimm_hook_t nvdimm_hook_conf_t \(file \([^)]*(write|append|unlink)" "$1"' _ "$cil"
check "sysfs: read (NVDIMM attributes)" allows nvdimm_hook_t sysfs_t file read
check "device nodes: getattr on chr devices" allows nvdimm_hook_t device_node chr_file getattr
check "device nodes: getattr on blk devices" allows nvdimm_hook_t device_node blk_file getattr
check "device nodes are never opened, read, written or mapped" \
  bash -c '! grep -E "allow nvdimm_hook_t (device_node|fixed_disk_device_t|svirt_image_t) \((chr|blk)_file \([^)]*(open|read|write|map)" "$1"' _ "$cil"
check "syslog: send to /dev/log" allows nvdimm_hook_t devlog_t sock_file write
check "libvirt run dir pid files: read (refpolicy virt_runtime_t)" allows nvdimm_hook_t virt_runtime_t file read
check "libvirt run dir pid files: read (Fedora qemu_var_run_t, optional)" \
  allows nvdimm_hook_t qemu_var_run_t file read
check "libvirt run dir pid files: read (Fedora virtqemud_var_run_t, optional)" \
  allows nvdimm_hook_t virtqemud_var_run_t file read
check "liveness of the owner QEMU: read /proc/PID of virt domains" \
  allows nvdimm_hook_t virt_domain file read
check "probe: execute QEMU (qemu_exec_t, no transition)" \
  allows nvdimm_hook_t qemu_exec_t file execute_no_trans
check "probe: map its sparse backing file" allows nvdimm_hook_t nvdimm_hook_tmp_t file map
# found by tests/selinux (enforcing, Debian refpolicy)
check "libkmod: read and map the kernel module index" allows nvdimm_hook_t modules_dep_t file map
check "inventory: stat a devdax relabelled for a running guest (optional)" \
  allows nvdimm_hook_t svirt_image_t chr_file getattr
check "libndctl opening deep_flush read-write: dontaudit, never allowed" \
  bash -c 'grep -Eq "^[[:space:]]*\(dontaudit nvdimm_hook_t sysfs_t \(file \(.*write" "$1" &&
           ! grep -Eq "^[[:space:]]*\(allow nvdimm_hook_t sysfs_t \(file \([^)]*write" "$1"' _ "$cil"
check "probe scratch dir removal: dac_read_search dontaudit (dac_override suffices)" \
  has_rule '(dontaudit nvdimm_hook_t self (capability (dac_read_search)))'
check "probe QEMU: statfs of its backing file on tmpfs" allows nvdimm_hook_t tmpfs_t filesystem getattr
check "QEMU reads the devdax size from sysfs (refpolicy svirt_t lacks it)" \
  allows svirt_t sysfs_t file read
# the hook entry (hooks/entry.cc) execs the full hook with the XML on a memfd
check "entry execs the full hook in nvdimm_hook_t (can_exec: execute_no_trans)" \
  allows nvdimm_hook_t nvdimm_hook_exec_t file execute_no_trans
check "memfds created in nvdimm_hook_t get nvdimm_hook_tmpfs_t" \
  has_rule '(typetransition nvdimm_hook_t tmpfs_t file nvdimm_hook_tmpfs_t)'
check "memfd: the entry writes it, the full hook reads it" \
  has_rule '(allow nvdimm_hook_t nvdimm_hook_tmpfs_t (file (read write)))'
check "nothing on tmpfs_t files or directories (no fs_tmpfs_filetrans dir rights)" \
  bash -c '! grep -Eq "^[[:space:]]*\(allow nvdimm_hook_t tmpfs_t \((file|dir) " "$1"' _ "$cil"
check "probe scratch dirs in /tmp get nvdimm_hook_tmp_t" \
  has_rule '(typetransition nvdimm_hook_t tmp_t dir nvdimm_hook_tmp_t)'

# nothing that unconfines it
check "nvdimm_hook_t is not permissive" bash -c '! grep -q "typepermissive nvdimm_hook_t" "$1"' _ "$cil"
check "nvdimm_hook_t is not in an unconfined attribute" \
  bash -c '! grep -E "typeattributeset [a-z_]*unconfined[a-z_]* .*nvdimm_hook_t" "$1"' _ "$cil"
check "no capabilities beyond chown dac_override setgid setuid" \
  bash -c 'grep -E "allow nvdimm_hook_t self \(capability " "$1" |
           grep -Eo "\(capability \([^)]*\)" | tr -d "()" | tr " " "\n" |
           grep -Ev "^(capability|chown|dac_override|setgid|setuid|)$" | { ! grep .; }' _ "$cil"

# file contexts
fc=$tmp/out.fc
echo "== file contexts"; cat "$fc"
fc_has() { grep -Eq "^$1[[:space:]]+(--[[:space:]]+)?system_u:object_r:$2:s0" "$fc"; }
check "fc: hook binary" fc_has '/usr/libexec/nvdimm-hook/nvdimm-hook' nvdimm_hook_exec_t
check "fc: hook entry" fc_has '/usr/libexec/nvdimm-hook/nvdimm-hook-entry' nvdimm_hook_exec_t
check "fc: config" fc_has '/etc/nvdimm-hook\(/\.\*\)\?' nvdimm_hook_conf_t
check "fc: run dir" fc_has '/run/nvdimm-hook\(/\.\*\)\?' nvdimm_hook_runtime_t
check "fc: state dir" fc_has '/var/lib/nvdimm-hook\(/\.\*\)\?' nvdimm_hook_var_lib_t
finish
