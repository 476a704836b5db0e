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
for t in nvdimmctl nvdimm-hook; do
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

check "hook link resolves to the installed hook inside DESTDIR" \
  test "$(readlink -f "$dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook")" = \
       "$(readlink -f "$dest/usr/libexec/nvdimm-hook/nvdimm-hook")"
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
check "/usr/local: hook link -> /usr/local/libexec/nvdimm-hook/nvdimm-hook" \
  test "$(readlink "$local_dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook")" = \
       ../../../../usr/local/libexec/nvdimm-hook/nvdimm-hook
check "/usr/local: link resolves" test -x "$local_dest/etc/libvirt/hooks/qemu.d/50-nvdimm-hook"
check "/usr/local: config still in /etc/nvdimm-hook (compiled-in path)" \
  test -f "$local_dest/etc/nvdimm-hook/nvdimm-hook.conf"
check "/usr/local: state dir still /var/lib/nvdimm-hook, 0700" \
  test "$(stat -c %a "$local_dest/var/lib/nvdimm-hook")" = 700
check "/usr/local: tmpfiles.d under /usr/local/lib/tmpfiles.d (read by systemd)" \
  test -f "$local_dest/usr/local/lib/tmpfiles.d/nvdimm-hook.conf"
check "/usr/local: nvdimmctl in /usr/local/sbin" test -x "$local_dest/usr/local/sbin/nvdimmctl"
finish
