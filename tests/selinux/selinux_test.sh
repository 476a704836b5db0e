#!/bin/bash
# CTest selinux.enforcing (issue 13): the emulated NVDIMM host of
# tests/hardware booted with SELinux enforcing, Debian's refpolicy with and
# without selinux/nvdimm_hook.
#
#   selinux_test.sh BUILD_DIR SOURCE_DIR
#
# 1. build-policy.sh: base (refpolicy + nvh_test.cil) and full (+ the module),
#    cached by content key; then, on the binary policies (setools), the rule
#    the module adds is absent from base and present in full, and the test
#    scaffolding grants no map and nothing to the QEMU or hook domains.
# 2. The test bed (tests/hardware/build-testbed.sh) plus an overlay cpio
#    appended to its initramfs: the policies, the hook entry as the RPM
#    installs it (nvdimm-hook-entry-usr), setfiles/runcon/chcon/secon with
#    their libraries, and guest/selinux.sh.
# 3. One boot with security=selinux selinux=1 enforcing=1; check_selinux.py
#    judges the scenario's results and the kernel's AVC lines per phase.
# Nothing is skipped: a missing tool, package or binary is a failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../hardware/testbed.sh
source "$here/../hardware/testbed.sh"

(($# == 2)) || testbed_die "usage: $0 BUILD_DIR SOURCE_DIR"
build_dir=$(cd "$1" && pwd) || testbed_die "BUILD_DIR $1 does not exist"
src=$(cd "$2" && pwd) || testbed_die "SOURCE_DIR $2 does not exist"
# setools is a Debian python3 package: use Debian's python3.
sys_python=/usr/bin/python3
for tool in cpio ldd truncate setfiles runcon chcon secon sefcontext_compile; do
  command -v "$tool" >/dev/null || testbed_die "$tool not found (scripts/install-deps)"
done
"$sys_python" -c 'import setools' 2>/dev/null ||
  testbed_die "$sys_python cannot import setools: install python3-setools"
[[ -x $build_dir/nvdimm-hook && -x $build_dir/nvdimmctl && -x $build_dir/nvdimm-hook-entry-usr ]] ||
  testbed_die "$build_dir/nvdimm-hook, nvdimmctl and nvdimm-hook-entry-usr must be built first"
# The entry must exec the full hook where the shipped .fc labels it.
grep -qaF /usr/libexec/nvdimm-hook/nvdimm-hook "$build_dir/nvdimm-hook-entry-usr" ||
  testbed_die "$build_dir/nvdimm-hook-entry-usr does not name /usr/libexec/nvdimm-hook/nvdimm-hook"

started=$SECONDS
bash "$here/build-policy.sh" "$build_dir" "$src" || testbed_die "build-policy.sh failed"
policy=$build_dir/selinux/policy
echo "# policies: $(cat "$policy/policy.key") ($((SECONDS - started)) s)"

"$sys_python" -B "$here/check_policy.py" "$policy/base.33" "$policy/full.33" "$here/nvh_test.cil" ||
  testbed_die "the binary policies are not what the test needs (see above)"

testbed_load "$build_dir"
# shellcheck disable=SC2153 # set by testbed.env
echo "# test bed: $KERNEL_PACKAGE $KERNEL_PACKAGE_VERSION, initramfs key ${TESTBED_KEY:0:12} ($((SECONDS - started)) s)"
grep -q '^CONFIG_SECURITY_SELINUX=y' "$(dirname "$KERNEL")/config" ||
  testbed_die "kernel $KERNEL_VERSION is built without CONFIG_SECURITY_SELINUX"

work=$build_dir/selinux/run
rm -rf -- "$work"
mkdir -p "$work"

# The overlay: a second newc archive after the test bed's; the kernel
# unpacks both into the same rootfs.
tree=$work/overlay
mkdir -p "$tree/nvh/scenarios" "$tree/nvh/selinux"
install -m 0644 "$here/guest/selinux.sh" "$tree/nvh/scenarios/selinux.sh"
# The hook entry as the RPM installs it (static, libc only: no libraries to
# add); guest/selinux.sh puts the full hook beside it and links qemu.d to it.
install -D -m 0755 "$build_dir/nvdimm-hook-entry-usr" "$tree/usr/libexec/nvdimm-hook/nvdimm-hook-entry"
for f in base.33 base.fc full.33 full.fc; do
  install -m 0644 "$policy/$f" "$tree/nvh/selinux/$f"
done
# Precompiled regexes (file_contexts.bin, as the policy packages ship them),
# written after the text file: libselinux takes a .bin not older than it.
for f in base full; do
  sefcontext_compile -o "$tree/nvh/selinux/$f.fc.bin" "$tree/nvh/selinux/$f.fc" ||
    testbed_die "sefcontext_compile $f.fc failed"
done
# What the module adds to the file contexts (the guest relabels only that
# after loading full): exactly its lines, nothing else changed.
module_lines=$(grep -cEv '^[[:space:]]*(#|$)' "$src/selinux/nvdimm_hook.fc")
grep -vxFf "$policy/base.fc" "$policy/full.fc" >"$tree/nvh/selinux/module.fc" || true
grep -vxFf "$policy/full.fc" "$policy/base.fc" >"$work/removed.fc" || true
[[ $(wc -l <"$tree/nvh/selinux/module.fc") == "$module_lines" && ! -s $work/removed.fc ]] &&
  ! grep -qv nvdimm-hook "$tree/nvh/selinux/module.fc" || {
  cat "$tree/nvh/selinux/module.fc" "$work/removed.fc" >&2
  testbed_die "full.fc differs from base.fc by more than the module's $module_lines file contexts"
}
echo "ok: full.fc = base.fc + the module's $module_lines file contexts"
subs=/etc/selinux/default/contexts/files/file_contexts.subs_dist
[[ -r $subs ]] || testbed_die "$subs missing (selinux-policy-default)"
install -m 0644 "$subs" "$tree/nvh/selinux/file_contexts.subs_dist"
# libselinux (is_selinux_enabled) wants a config file besides selinuxfs.
mkdir -p "$tree/etc/selinux"
printf 'SELINUX=enforcing\nSELINUXTYPE=default\n' >"$tree/etc/selinux/config"
canonical() { echo "$(readlink -f "$(dirname "$1")")/$(basename "$1")"; }
overlay_elf() { # overlay_elf PATH: the file and every library ldd names
  local path lib out
  path=$(command -v "$1")
  install -D -m 0755 "$(readlink -f "$path")" "$tree$(canonical "$path")"
  out=$(ldd "$path") || testbed_die "ldd $path: $out"
  while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$tree$(canonical "$lib")"
  done < <(awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' <<<"$out")
}
for tool in setfiles runcon chcon secon; do overlay_elf "$tool"; done
(cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc --owner=0:0 --quiet) >"$work/overlay.cpio" || testbed_die "cpio failed"
cat "$INITRD" "$work/overlay.cpio" >"$work/initramfs.cpio"
INITRD=$work/initramfs.cpio

img=$work/nvdimm0.img
TESTBED_APPEND="security=selinux selinux=1 enforcing=1 audit_backlog_limit=8192"
testbed_boot "$work/selinux.log" selinux "$img" 1G
boot_ms=$TESTBED_BOOT_MS

set +e
"$sys_python" -B "$here/check_selinux.py" "$work/selinux.log"
rc=$?
set -e
echo "# boot ${boot_ms} ms, total $((SECONDS - started)) s"
if ((rc != 0)); then
  echo "# serial log kept in $work/selinux.log" >&2
  exit "$rc"
fi
rm -f -- "$img" "$work/initramfs.cpio"
