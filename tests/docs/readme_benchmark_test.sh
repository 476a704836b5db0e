#!/usr/bin/env bash
# The README's sizing comparison is exactly what build/sizing-benchmark
# prints: a change to the rules or the peer formulas that is not carried into
# the README fails here. Fix: scripts/update-readme-benchmark BUILD_DIR.
# Usage: readme_benchmark_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
bench="$build/sizing-benchmark"
[ -x "$bench" ] || { echo "FAIL: $bench not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bench" >"$work/benchmark"
awk '/<!-- sizing-benchmark:end -->/ { inside = 0 }
     inside { print }
     /<!-- sizing-benchmark:begin -->/ { inside = 1; found = 1 }
     END { if (!found) exit 3 }' "$src/README.md" >"$work/readme" ||
  { echo "FAIL: README.md has no <!-- sizing-benchmark:begin --> block" >&2; exit 1; }
[ -s "$work/benchmark" ] || { echo "FAIL: the benchmark printed nothing" >&2; exit 1; }
if ! diff -u "$work/readme" "$work/benchmark"; then
  echo "FAIL: README.md's sizing comparison differs from $bench (above: - README, + benchmark);" \
       "run scripts/update-readme-benchmark $build" >&2
  exit 1
fi
echo "ok: README sizing comparison equals the benchmark output ($(wc -l <"$work/benchmark") lines)"
