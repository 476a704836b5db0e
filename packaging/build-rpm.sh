#!/usr/bin/env bash
# packaging/build-rpm.sh [--nocheck] [--jobs N] OUTDIR
#
# Builds the source tarball from this tree and runs `rpmbuild -ba` with
# packaging/nvdimm-hook.spec in a private temporary _topdir; the binary and
# source RPMs end up in OUTDIR (plus OUTDIR/rpmbuild.log).
#
# The tarball holds the working tree's files that git tracks or would track
# (tracked plus untracked-but-not-ignored, as they are on disk), so
# uncommitted work is packaged as it is and build directories never are.
#
# This is the local (Debian) build: rpmbuild runs with --nodeps because the
# Fedora BuildRequires are not in dpkg's database (scripts/install-deps
# installs the Debian equivalents). The spec defines fallbacks for the Fedora
# macros it uses, so nothing else differs from a Fedora build.
#
#   --nocheck  skip %check and build without the test targets
#              (rpmbuild --nocheck --without check): CI runs ctest itself.
#   --jobs N   parallel build jobs (default 2).
set -euo pipefail

usage() { echo "usage: $0 [--nocheck] [--jobs N] OUTDIR" >&2; }
die() { echo "build-rpm: $*" >&2; exit 1; }

nocheck=0
jobs=2
while [ $# -gt 0 ]; do
  case $1 in
    --nocheck) nocheck=1; shift ;;
    --jobs) [ $# -ge 2 ] || { usage; exit 2; }; jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#--jobs=}; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage; exit 2; }
case $jobs in ''|*[!0-9]*|0) die "--jobs wants a positive number, not '$jobs'" ;; esac

for tool in rpmbuild rpmspec tar gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (Debian: apt-get install rpm)"
done

src=$(cd "$(dirname "$0")/.." && pwd)
spec=$src/packaging/nvdimm-hook.spec
mkdir -p "$1"
outdir=$(cd "$1" && pwd)

name=$(rpmspec -q --srpm --qf '%{name}' "$spec")
version=$(rpmspec -q --srpm --qf '%{version}' "$spec")
cmake_version=$(sed -n 's/^project([^ ]* VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$version" = "$cmake_version" ] ||
  die "spec Version $version differs from the CMake project version $cmake_version"

top=$(mktemp -d "${TMPDIR:-/tmp}/nvdimm-hook-rpm.XXXXXX")
trap 'rm -rf "$top"' EXIT
mkdir -p "$top"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}

# The source tarball: name-version/ + the tree's files.
tarball=$top/SOURCES/$name-$version.tar.gz
list=$top/files
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do
      # a tracked file deleted in the working tree is not part of it
      if [ -e "$src/$f" ] || [ -L "$src/$f" ]; then printf '%s\0' "$f"; fi
    done >"$list"
else
  (cd "$src" && find . -path ./.git -prune -o -path './build*' -prune -o \
     -path ./out -prune -o \( -type f -o -type l \) -printf '%P\0') >"$list"
fi
[ -s "$list" ] || die "no source files found in $src"
tar -C "$src" --null -T "$list" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@${SOURCE_DATE_EPOCH:-$(date +%s)}" \
    --transform "s,^,$name-$version/," -czf "$tarball"

args=(-ba --nodeps
      --define "_topdir $top"
      --define "_smp_build_ncpus $jobs")
# Debian's rpm 4.18 brp-compress uses bash's `read -d` but runs under
# /bin/sh (dash there), so it compresses no man page; run it with bash, which
# is what /bin/sh is on Fedora.
args+=(--define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}")
if [ "$nocheck" -eq 1 ]; then
  args+=(--nocheck --without check)
fi

log=$outdir/rpmbuild.log
echo "build-rpm: rpmbuild ${args[*]} $spec (log: $log)"
if ! rpmbuild "${args[@]}" "$spec" >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  die "rpmbuild failed; full log in $log"
fi

shopt -s nullglob
rpms=("$top"/RPMS/*/*.rpm "$top"/SRPMS/*.rpm)
[ ${#rpms[@]} -gt 0 ] || die "rpmbuild produced no RPMs"
cp -f "${rpms[@]}" "$outdir"/
for r in "${rpms[@]}"; do echo "$outdir/$(basename "$r")"; done
