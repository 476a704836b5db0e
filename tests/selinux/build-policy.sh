#!/bin/bash
# Builds the two binary policies tests/selinux loads into the emulated host:
#
#   build-policy.sh BUILD_DIR SOURCE_DIR
#
#   base: Debian's refpolicy (selinux-policy-default, the module store in
#         /var/lib/selinux/default) + nvh_test.cil (test scaffolding)
#   full: base + selinux/nvdimm_hook.pp, compiled with the refpolicy devel
#         Makefile (selinux-policy-dev), as the spec does
#
# Both are built offline in a private copy of the store (semodule -p ROOT -n),
# never touching this host's policy. Output in BUILD_DIR/selinux/policy:
# base.33, base.fc, full.33, full.fc (binary policy, file_contexts),
# nvdimm_hook.pp, and policy.key. The content key covers the store's modules,
# the package versions, the module sources, nvh_test.cil and this script; a
# build with the same key is reused (each semodule run takes ~30 s).
set -euo pipefail

die() {
  echo "build-policy: FAIL: $*" >&2
  exit 1
}
note() { echo "build-policy: $*" >&2; }

(($# == 2)) || die "usage: $0 BUILD_DIR SOURCE_DIR"
build_dir=$(cd "$1" && pwd) || die "BUILD_DIR $1 does not exist"
src=$(cd "$2" && pwd) || die "SOURCE_DIR $2 does not exist"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
test_cil=$here/nvh_test.cil
store=/var/lib/selinux/default
makefile=/usr/share/selinux/devel/Makefile

for tool in semodule make m4 checkmodule semodule_package sha256sum dpkg-query flock; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found (scripts/install-deps: policycoreutils, semodule-utils, checkpolicy, selinux-policy-dev, m4)"
done
[[ -d $store/active/modules ]] ||
  die "$store has no module store: install selinux-policy-default (scripts/install-deps)"
[[ -f $makefile ]] || die "$makefile missing: install selinux-policy-dev"

out=$build_dir/selinux/policy
mkdir -p "$out"
exec 8>"$out/.lock"
flock -w 600 8 || die "another build-policy.sh holds $out/.lock for 10 minutes"

key=$({
  sha256sum "$self" "$test_cil" "$src"/selinux/nvdimm_hook.te "$src"/selinux/nvdimm_hook.if \
    "$src"/selinux/nvdimm_hook.fc | cut -d' ' -f1
  dpkg-query -W -f '${Package} ${Version}\n' selinux-policy-default selinux-policy-dev \
    policycoreutils semodule-utils checkpolicy libsemanage2 libsepol2
  (cd "$store/active/modules" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-16)

if [[ -f $out/policy.key && $(cat "$out/policy.key") == "$key" ]]; then
  note "policies up to date (key $key)"
  exit 0
fi
note "building base and full policy (key $key)"
rm -f -- "$out/policy.key" "$out"/*.33 "$out"/*.fc "$out"/nvdimm_hook.pp
tmp=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# The module, exactly as packaging/ and the spec build it.
mkdir "$tmp/module"
cp "$src"/selinux/nvdimm_hook.te "$src"/selinux/nvdimm_hook.if "$src"/selinux/nvdimm_hook.fc "$tmp/module/"
make -C "$tmp/module" -f "$makefile" nvdimm_hook.pp >"$tmp/make.log" 2>&1 || {
  cat "$tmp/make.log" >&2
  die "selinux/nvdimm_hook.te does not compile"
}
cp "$tmp/module/nvdimm_hook.pp" "$out/nvdimm_hook.pp"

# A private root holding a copy of the installed store.
root=$tmp/root
mkdir -p "$root/etc/selinux" "$root/var/lib/selinux"
cp -a "$store" "$root/var/lib/selinux/"
cp -a /etc/selinux/semanage.conf "$root/etc/selinux/"
cp -a /etc/selinux/default "$root/etc/selinux/"
rm -f -- "$root/etc/selinux/default/policy/"policy.*

# semodule_install NAME FILE: installs FILE into the private store and keeps
# the resulting binary policy and file contexts as NAME.33 / NAME.fc.
semodule_install() {
  local name=$1 file=$2 start=$SECONDS
  semodule -p "$root" -s default -n -i "$file" >"$tmp/$name.log" 2>&1 || {
    cat "$tmp/$name.log" >&2
    die "semodule -i $file into the copy of $store failed"
  }
  local policy
  policy=$(find "$root/etc/selinux/default/policy" -name 'policy.[0-9]*' | head -n 1)
  [[ -n $policy ]] || die "semodule wrote no binary policy for $name"
  cp "$policy" "$out/$name.33"
  cp "$root/etc/selinux/default/contexts/files/file_contexts" "$out/$name.fc"
  note "$name: $(stat -c %s "$out/$name.33") byte policy in $((SECONDS - start)) s"
}
semodule_install base "$test_cil"
semodule_install full "$out/nvdimm_hook.pp"
echo "$key" >"$out/policy.key"
