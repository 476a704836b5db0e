#!/usr/bin/env bash
# rpmlint reports 0 errors on the spec and on every built RPM. Warnings are
# printed and allowed; packaging/nvdimm-hook.rpmlintrc filters only errors
# that are wrong for this package, each with its reason.
# Usage: rpmlint_test.sh RPM_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
rpms=$1
src=$2
need rpmlint
shopt -s nullglob
packages=("$rpms"/*.rpm)
[ ${#packages[@]} -eq 3 ] || die "expected 3 RPMs in $rpms, found ${#packages[@]} (run packaging.rpmbuild)"

out=$(rpmlint -r "$src/packaging/nvdimm-hook.rpmlintrc" \
        "$src/packaging/nvdimm-hook.spec" "${packages[@]}" 2>&1) || true
echo "$out"
summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ packages and [0-9]+ specfiles checked' || true)
[ -n "$summary" ] || die "no rpmlint summary line: rpmlint did not run"
check "rpmlint checked 3 packages and 1 spec file" \
  grep -q '3 packages and 1 specfiles checked' <<<"$summary"
check "rpmlint: 0 errors" grep -q ' 0 errors' <<<"$summary"
if printf '%s\n' "$out" | grep -q ': E: '; then fail "error lines present"; fi
finish
