#!/usr/bin/env bash
# `rpm -qlp` and friends on the built RPMs: every file in its FHS place with
# the right type and mode, the config file %config(noreplace), the scriptlets
# fully expanded (reload = SIGHUP, never restart), and the -selinux package
# carrying a module that holds the devdax map rule.
# Usage: rpm_contents_test.sh RPM_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
rpms=$1
src=$2
need rpm
need rpm2cpio rpm
need cpio
need bzip2
need semodule_unpackage semodule-utils
need checkmodule checkpolicy

shopt -s nullglob
main=("$rpms"/nvdimm-hook-[0-9]*.x86_64.rpm "$rpms"/nvdimm-hook-[0-9]*.aarch64.rpm)
sel=("$rpms"/nvdimm-hook-selinux-*.noarch.rpm)
[ ${#main[@]} -eq 1 ] || die "no (or several) binary nvdimm-hook RPMs in $rpms"
[ ${#sel[@]} -eq 1 ] || die "no (or several) nvdimm-hook-selinux RPMs in $rpms"
main=${main[0]}
sel=${sel[0]}

# path -> "mode type flags link" for every file of a package
listing() {
  rpm -qp --qf '[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEFLAGS:fflags}\t%{FILELINKTOS}\n]' "$1"
}
main_list=$(listing "$main")
sel_list=$(listing "$sel")
echo "== $(basename "$main")"; echo "$main_list"
echo "== $(basename "$sel")"; echo "$sel_list"

# has LIST PATH_REGEX PERMS_REGEX [FLAGS_REGEX [LINK]]
has() {
  local list=$1 path=$2 perms=$3 flags=${4:-.*} link=${5:-}
  printf '%s\n' "$list" | awk -F'\t' -v p="^${path}\$" -v m="^${perms}\$" -v f="^${flags}\$" -v l="$link" '
    $1 ~ p && $2 ~ m && $3 ~ f && (l == "" || $4 == l) { found = 1 }
    END { exit !found }'
}

# the directories this rpm build uses (Debian's rpm: as Fedora's, /usr/sbin and
# /usr/libexec; Fedora 42+ has sbindir = bindir)
sbindir=$(rpm --eval '%{_sbindir}')
libexecdir=$(rpm --eval '%{_libexecdir}')
check "nvdimmctl in sbindir ($sbindir), 0755" has "$main_list" "$sbindir/nvdimmctl" '-rwxr-xr-x'
check "hook binary in libexecdir/nvdimm-hook ($libexecdir), 0755" \
  has "$main_list" "$libexecdir/nvdimm-hook/nvdimm-hook" '-rwxr-xr-x'
check "libexec/nvdimm-hook directory owned" has "$main_list" "$libexecdir/nvdimm-hook" 'drwxr-xr-x'
check "hook entry in libexecdir/nvdimm-hook, 0755" \
  has "$main_list" "$libexecdir/nvdimm-hook/nvdimm-hook-entry" '-rwxr-xr-x'
check "qemu.d/50-nvdimm-hook is a symlink to the hook entry" \
  has "$main_list" /etc/libvirt/hooks/qemu.d/50-nvdimm-hook 'lrwxrwxrwx' '.*' \
      "../../../..$libexecdir/nvdimm-hook/nvdimm-hook-entry"
check "qemu.d directory owned" has "$main_list" /etc/libvirt/hooks/qemu.d 'd.*'
check "config file is %config(noreplace), 0644" \
  has "$main_list" /etc/nvdimm-hook/nvdimm-hook.conf '-rw-r--r--' 'cn'
check "tmpfiles.d entry in /usr/lib/tmpfiles.d" \
  has "$main_list" /usr/lib/tmpfiles.d/nvdimm-hook.conf '-rw-r--r--'
check "state dir /var/lib/nvdimm-hook, 0700" has "$main_list" /var/lib/nvdimm-hook 'drwx------'
check "nvdimmctl(8)" has "$main_list" '/usr/share/man/man8/nvdimmctl\.8(\.(gz|bz2|xz|zst))?' '-rw-r--r--'
check "nvdimm-hook(8)" has "$main_list" '/usr/share/man/man8/nvdimm-hook\.8(\.(gz|bz2|xz|zst))?' '-rw-r--r--'
check "nothing under /usr/local, /run or /tmp" \
  bash -c '! printf "%s\n" "$1" | cut -f1 | grep -E "^/(usr/local|run|var/run|tmp)(/|$)"' _ "$main_list"
check "exactly three executables: nvdimmctl, the hook and its entry" \
  test "$(printf '%s\n' "$main_list" | awk -F'\t' '$2 ~ /^-..x/' | cut -f1 | sort | tr '\n' ' ')" = \
       "$libexecdir/nvdimm-hook/nvdimm-hook $libexecdir/nvdimm-hook/nvdimm-hook-entry $sbindir/nvdimmctl "
check "-selinux: module .pp.bz2 in the targeted packages dir" \
  has "$sel_list" /usr/share/selinux/packages/targeted/nvdimm_hook\\.pp\\.bz2 '-rw-r--r--'
check "-selinux: interface file for policy developers" \
  has "$sel_list" /usr/share/selinux/devel/include/distributed/nvdimm_hook\\.if '-rw-r--r--'
check "-selinux: %ghost module store entry" \
  has "$sel_list" /var/lib/selinux/targeted/active/modules/200/nvdimm_hook '.*' 'g'
check "-selinux is noarch" test "$(rpm -qp --qf '%{ARCH}' "$sel")" = noarch

# tmpfiles.d content: run dir and state dir, root only
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && rpm2cpio "$main" | cpio -idm --quiet && rpm2cpio "$sel" | cpio -idm --quiet)
check "tmpfiles.d creates /run/nvdimm-hook 0700 root" \
  grep -Eq '^d[[:space:]]+/run/nvdimm-hook[[:space:]]+0700[[:space:]]+root[[:space:]]+root' \
  "$tmp/usr/lib/tmpfiles.d/nvdimm-hook.conf"
check "shipped config has no active setting (defaults only)" \
  bash -c '! grep -Ev "^[[:space:]]*(#|$)" "$1"' _ "$tmp/etc/nvdimm-hook/nvdimm-hook.conf"
check "hook link resolves inside the payload" \
  test -x "$tmp/etc/libvirt/hooks/qemu.d/50-nvdimm-hook"
check "the entry in the payload execs the packaged hook by absolute path" \
  grep -qaF "$libexecdir/nvdimm-hook/nvdimm-hook" "$tmp$libexecdir/nvdimm-hook/nvdimm-hook-entry"
check "the entry in the payload needs no shared library (static, libc only)" \
  bash -c '! readelf -d "$1" | grep -q NEEDED && ! readelf -l "$1" | grep -q INTERP' _ \
  "$tmp$libexecdir/nvdimm-hook/nvdimm-hook-entry"

# scriptlets: fully expanded, reload by SIGHUP only when active, never restart
scripts=$(rpm -qp --scripts "$main")
sel_scripts=$(rpm -qp --scripts "$sel")
echo "$scripts"
check "%post creates the run dir (systemd-tmpfiles --create)" \
  grep -q 'systemd-tmpfiles --create nvdimm-hook.conf' <<<"$scripts"
check "%post sends SIGHUP to libvirtd/virtqemud main process" \
  grep -q 'systemctl kill --kill-whom=main --signal=HUP' <<<"$scripts"
check "only when the daemon is active" grep -q 'systemctl is-active --quiet' <<<"$scripts"
check "scriptlets never restart a daemon" bash -c '! grep -Eiq "restart|try-reload" <<<"$1"' _ "$scripts"
check "scriptlets have no unexpanded macro" \
  bash -c '! grep -E "%[{]?(tmpfiles_create|selinux_|reload_libvirt|_sbindir|_file_context)" <<<"$1"' _ "$scripts$sel_scripts"
check "-selinux %post installs the module with semodule" \
  grep -q 'semodule -n -s targeted -X 200 -i /usr/share/selinux/packages/targeted/nvdimm_hook.pp.bz2' <<<"$sel_scripts"
check "-selinux %postun removes it on erase" grep -q 'semodule .*-r nvdimm_hook' <<<"$sel_scripts"
check "-selinux relabels (pre: save file_contexts, posttrans: fixfiles -C)" \
  bash -c 'grep -q "file_contexts.pre" <<<"$1" && grep -q "fixfiles -C" <<<"$1"' _ "$sel_scripts"

# dependencies
reqs=$(rpm -qp --requires "$main")
check "requires libvirt's QEMU driver" grep -qx 'libvirt-daemon-driver-qemu' <<<"$reqs"
check "pulls -selinux in on SELinux (targeted) hosts" \
  grep -q '^(nvdimm-hook-selinux = .* if selinux-policy-targeted)$' <<<"$reqs"
check "-selinux requires the targeted policy" \
  grep -qx 'selinux-policy-targeted' < <(rpm -qp --requires "$sel")

# the packaged module itself holds the devdax map rule
bunzip2 -c "$tmp/usr/share/selinux/packages/targeted/nvdimm_hook.pp.bz2" >"$tmp/m.pp"
(cd "$tmp" && semodule_unpackage m.pp m.mod m.fc && checkmodule -M -b -C m.mod -o m.cil >/dev/null 2>&1)
check "packaged module: allow svirt_t svirt_image_t chr_file map" \
  grep -Fq '(allow svirt_t svirt_image_t (chr_file (map)))' "$tmp/m.cil"
check "packaged module: file context of the hook binary" \
  grep -Eq '^/usr/libexec/nvdimm-hook/nvdimm-hook[[:space:]]+--[[:space:]]+system_u:object_r:nvdimm_hook_exec_t' "$tmp/m.fc"
check "packaged module: file context of the hook entry (what libvirt executes)" \
  grep -Eq '^/usr/libexec/nvdimm-hook/nvdimm-hook-entry[[:space:]]+--[[:space:]]+system_u:object_r:nvdimm_hook_exec_t' "$tmp/m.fc"
finish
