# Shared helpers for the packaging tests (sourced, not run).
set -euo pipefail

failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# need TOOL [PACKAGE]: a missing tool fails the test, it never skips it.
need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found: install ${2:-$1} (scripts/install-deps does)"
}

# check DESCRIPTION COMMAND...: pass or fail one condition.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
