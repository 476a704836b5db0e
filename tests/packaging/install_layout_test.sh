#!/usr/bin/env bash
# `cmake --install` into a DESTDIR gives the same layout as the RPM: the same
# files and links, with the same modes and link targets, and the directories
# the RPM owns with the same modes. Also: the default /usr/local prefix keeps
# what libvirt and the binaries have compiled in under /etc and /var, and a
# second install never replaces an admin's config.
# Usage: install_layout_test.sh BUILD_DIR SOURCE_DIR RPM_DIR
source "$(dirname "$0")/lib.sh"
build=$1
src=$2
rpms=$3
need cmake
need rpm
for t in nvdimmctl nvdimm-hook nvdimm-hook-entry; do
  [ -x "$build/$t" ] || die "$build/$t not built (build the project before ctest)"
done
# Regenerate cmake_install.cmake from the current cmake/Install.cmake (what
# the next `cmake --build` would do anyway; a no-op in CI).
cmake "$build" >/dev/null || die "cannot re-run cmake in $build"
shopt -s nullglob
main=("$rpms"/nvdimm-hook-[0-9]*.x86_64.rpm "$rpms"/nvdimm-hook-[0-9]*.aarch64.rpm)
[ ${#main[@]} -eq 1 ] || die "no binary nvdimm-hook RPM in $rpms (run packaging.rpmbuild)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# As packaged: prefix /usr.
dest=$tmp/usr-prefix
DESTDIR=$dest cmake --install "$build" --prefix /usr >"$tmp/install.log"
cat "$tmp/install.log"

# "path<TAB>perms<TAB>link" of files and links, sorted; man pages without
# the compression suffix rpm's brp-compress may add.
strip_man() { sed -E 's,^(/usr/share/man/man[0-9]/[^\t]+)\.(gz|bz2|xz|zst)\t,\1\t,'; }
(cd "$dest" && find . ! -type d -printf '/%P\t%M\t%l\n') | strip_man | sort >"$tmp/cmake.files"
# rpm's %doc and %license files (README, LICENSE) are rpm's own business:
# they have no place in a `cmake --install`.
rpm_only='^/usr/lib/\.build-id|^/usr/share/(doc|licenses)/'
rpm -qp --qf '[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILELINKTOS}\n]' "${main[0]}" |
  grep -Ev "$rpm_only" | awk -F'\t' '$2 !~ /^d/' | strip_man | sort >"$tmp/rpm.files"
echo "== cmake --install (prefix /usr)"; cat "$tmp/cmake.files"
echo "== rpm -qlp"; cat "$tmp/rpm.files"
if diff -u "$tmp/rpm.files" "$tmp/cmake.files"; then
  pass "cmake --install installs exactly the RPM's files, modes and links"
else
  fail "cmake --install and the RPM differ (diff above: - rpm, + cmake)"
fi

# Directories the RPM owns exist with the same mode.
while IFS=$'\t' read -r path perms; do
  actual=$(stat -c '%A' "$dest$path" 2>/dev/null || echo missing)
  check "directory $path: $perms" test "$actual" = "$perms"
done < <(rpm -qp --qf '[%{FILENAMES}\t%{FILEMODES:perms}\n]' "${main[0]}" |
           grep -Ev "$rpm_only" | awk -F'\t' '$2 ~ /^d/')

check "hook link resolves to the installed hook entry inside DESTDIR" \
  test "$(readlink -f "$dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook")" = \
       "$(readlink -f "$dest/usr/libexec/nvdimm-hook/nvdimm-hook-entry")"
check "install manifest lists the hook link and the config" \
  bash -c 'grep -qx /etc/libvirt/hooks/qemu.d/50-nvdimm-hook "$1" &&
           grep -qx /etc/nvdimm-hook/nvdimm-hook.conf "$1"' _ "$build/install_manifest.txt"

# An admin's config survives a second install.
echo "probe = off  # admin edit" >>"$dest/etc/nvdimm-hook/nvdimm-hook.conf"
DESTDIR=$dest cmake --install "$build" --prefix /usr >/dev/null
check "second install keeps an edited config" \
  grep -q 'admin edit' "$dest/etc/nvdimm-hook/nvdimm-hook.conf"

# Default prefix /usr/local: binaries follow it, /etc and /var do not.
local_dest=$tmp/local-prefix
DESTDIR=$local_dest cmake --install "$build" --prefix /usr/local >/dev/null
check "/usr/local: hook link -> /usr/local/libexec/nvdimm-hook/nvdimm-hook-entry" \
  test "$(readlink "$local_dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook")" = \
       ../../../../usr/local/libexec/nvdimm-hook/nvdimm-hook-entry
check "/usr/local: link resolves" test -x "$local_dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook"
check "/usr/local: config still in /etc/nvdimm-hook (compiled-in path)" \
  test -f "$local_dest/etc/nvdimm-hook/nvdimm-hook.conf"
check "/usr/local: state dir still /var/lib/nvdimm-hook, 0700" \
  test "$(stat -c %a "$local_dest/var/lib/nvdimm-hook")" = 700
check "/usr/local: tmpfiles.d under /usr/local/lib/tmpfiles.d (read by systemd)" \
  test -f "$local_dest/usr/local/lib/tmpfiles.d/nvdimm-hook.conf"
check "/usr/local: nvdimmctl in /usr/local/sbin" test -x "$local_dest/usr/local/sbin/nvdimmctl"

# The installed entry execs the full hook at the path fixed at configure time
# (never through PATH): run through the installed link with libvirt's
# environment, a broken annotation is refused by the full hook only when the
# full hook is at that path. In a private mount namespace, a tmpfs over the
# nearest existing ancestor puts it there without touching the host.
fixed=$(cat "$build/hooks/full-hook-path")
case $fixed in /*/nvdimm-hook/nvdimm-hook) ;; *) die "$build/hooks/full-hook-path: '$fixed'" ;; esac
check "the installed entry names $fixed" grep -qaF "$fixed" "$local_dest/usr/local/libexec/nvdimm-hook/nvdimm-hook-entry"
sed 's|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206"/>|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206" label="64KiB"/>|' \
  "$src/examples/domain.xml" >"$tmp/bad-label.xml"
grep -q 'label="64KiB"' "$tmp/bad-label.xml" || die "fixture not edited"
run_installed() { # run_installed OUT: the installed link, as libvirt runs it
  env -i LC_ALL=C PATH=/nonexistent HOME=/root USER=root \
    "$local_dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook" vm prepare begin - <"$tmp/bad-label.xml" >"$1" 2>&1
}
if [ -e "$fixed" ]; then
  fail "$fixed exists on this machine: cannot show the entry failing without it"
else
  rc=0; run_installed "$tmp/absent.out" || rc=$?
  check "full hook absent at $fixed: prepare refused (exit 1, not allowed)" test "$rc" = 1
  check "... naming the path it could not run" grep -qF "cannot run $fixed" "$tmp/absent.out"
fi
need unshare
mount_at=$(dirname "$(dirname "$fixed")")
while [ ! -d "$mount_at" ]; do mount_at=$(dirname "$mount_at"); done
export -f run_installed
export local_dest tmp fixed mount_at build
rc=0
unshare --mount --propagation private bash -euc '
  mount -t tmpfs nvh-test "$mount_at"
  mkdir -p "$(dirname "$fixed")"
  cp "$build/nvdimm-hook" "$fixed"
  run_installed "$tmp/present.out"' || rc=$?
cat "$tmp/present.out"
check "full hook at $fixed: the installed entry hands over, the full hook refuses (exit 1)" test "$rc" = 1
check "... with the full hook's own message" grep -qF "64 KiB" "$tmp/present.out"
finish
