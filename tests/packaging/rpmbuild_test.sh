#!/usr/bin/env bash
# rpmbuild -ba of packaging/nvdimm-hook.spec through packaging/build-rpm.sh
# succeeds and leaves the binary, -selinux and source RPMs in OUTDIR (the
# fixture the other RPM tests read).
# --nocheck: %check would run the unit/cli tests again; ctest runs them itself.
# Usage: rpmbuild_test.sh OUTDIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
out=$1
src=$2
need rpmbuild rpm
need rpmspec rpm
need make
need checkmodule checkpolicy
need semodule_package semodule-utils
[ -f /usr/share/selinux/devel/Makefile ] ||
  die "/usr/share/selinux/devel/Makefile missing: install selinux-policy-dev"

rm -rf "$out"
"$src/packaging/build-rpm.sh" --nocheck "$out"

version=$(rpmspec -q --srpm --qf '%{version}-%{release}' "$src/packaging/nvdimm-hook.spec")
for f in "nvdimm-hook-$version.src.rpm" "nvdimm-hook-$version.$(rpm --eval '%{_arch}').rpm" \
         "nvdimm-hook-selinux-$version.noarch.rpm"; do
  check "$f built" test -s "$out/$f"
done

# rpmbuild warnings are mistakes in the spec or the install layout
# (unpackaged files, absolute symlinks, macros in comments...).
if grep -n -i 'warning:' "$out/rpmbuild.log"; then
  fail "rpmbuild printed warnings (above)"
else
  pass "rpmbuild printed no warnings"
fi
finish
