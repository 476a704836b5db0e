#!/bin/bash
# What the full hook loads (issue 15): libndctl and what hangs off it
# (libkmod, libudev, libcrypto, ...) are dlopen()ed only when the inventory
# is libndctl (src/ndctl/libndctl_api.h); with a JSON inventory an annotated
# prepare never maps them. Observed with the dynamic loader's own trace
# (LD_DEBUG=files), and the link line with readelf.
#   load_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
hook=$build/nvdimm-hook
ctl=$build/nvdimmctl
for f in "$hook" "$ctl"; do
  [[ -x $f ]] || { echo "FAIL: $f not built" >&2; exit 1; }
done
command -v readelf >/dev/null || { echo "FAIL: readelf not found (binutils)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
# shellcheck source=hook_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/hook_test_lib.sh"
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

late='libndctl|libdaxctl|libkmod|libudev|libcrypto'
for bin in "$hook" "$ctl"; do
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [[ -n $needed ]] || { fail "readelf -d ${bin##*/} lists no NEEDED at all"; continue; }
  if grep -Eq "^($late)\." <<<"$needed"; then
    fail "${bin##*/} links $(grep -E "^($late)\." <<<"$needed" | tr '\n' ' ')at load time"
  else
    ok "${bin##*/}: no libndctl, libdaxctl, libkmod, libudev or libcrypto in NEEDED"
  fi
done

# nvdimm-hook-static (built in every unsanitized tree; installed with
# -DNVDIMMHOOK_STATIC_FULL_HOOK=ON) needs nothing but glibc.
static_hook=$build/nvdimm-hook-static
if grep -q '^NVDIMMHOOK_BUILD_STATIC_HOOK:BOOL=OFF' "$build/CMakeCache.txt"; then
  echo "# nvdimm-hook-static not configured (NVDIMMHOOK_BUILD_STATIC_HOOK=OFF): its checks do not run"
  static_hook=
elif [[ ! -x $static_hook ]]; then
  fail "$static_hook is missing (built unless NVDIMMHOOK_SANITIZE or NVDIMMHOOK_BUILD_STATIC_HOOK=OFF)"
  static_hook=
else
  others=$(readelf -d "$static_hook" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
    grep -Ev '^(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)$' | tr '\n' ' ' || true)
  if [[ -z $others ]]; then
    ok "nvdimm-hook-static: only glibc (libc, libm, the loader) in NEEDED"
  else
    fail "nvdimm-hook-static: NEEDED has $others"
  fi
fi

# The example domain and host (hook_test_lib.sh's sandbox), with the JSON
# inventory and with libndctl.
hook_sandbox "$work/json" "$src/examples/inventory.json" "probe = off"
hook_sandbox "$work/live" libndctl "probe = off"
"$ctl" rewrite --inventory "$src/examples/inventory.json" --device-dir "$work/json/dev" \
  "$src/examples/domain.xml" >"$work/domain.xml" 2>"$work/rewrite.err"

# run NAME OP [HOOK]: the full hook (or HOOK) in sandbox NAME under
# LD_DEBUG=files; status in $work/NAME.rc, the loader's trace in NAME.trace
run() {
  local rc=0
  rm -f "$work/$1".ld.*
  NVDIMM_HOOK_CONFIG=$work/$1/hook.conf LD_DEBUG=files LD_DEBUG_OUTPUT=$work/$1.ld \
    "${3:-$hook}" vm1 "$2" begin - <"$work/domain.xml" >/dev/null 2>"$work/$1.err" || rc=$?
  echo "$rc" >"$work/$1.rc"
  cat "$work/$1".ld.* >"$work/$1.trace" 2>/dev/null || true
}

run json prepare
if [[ $(cat "$work/json.rc") != 0 ]]; then
  fail "annotated prepare with the JSON inventory: exit $(cat "$work/json.rc"): $(head -c 300 "$work/json.err")"
elif [[ ! -s $work/json.trace ]]; then
  fail "LD_DEBUG=files wrote no trace: the check would see nothing"
elif grep -Eq "file=($late)\." "$work/json.trace"; then
  fail "annotated prepare with the JSON inventory loaded: $(grep -Eo "file=($late)\.[^ ]*" "$work/json.trace" | sort -u | tr '\n' ' ')"
else
  ok "annotated prepare, JSON inventory: allowed, libndctl never loaded ($(grep -c 'file=' "$work/json.trace") loader lines)"
fi

if [[ -n $static_hook ]]; then
  run json prepare "$static_hook"
  if [[ $(cat "$work/json.rc") == 0 ]] && ! grep -Eq "file=($late)\." "$work/json.trace"; then
    ok "nvdimm-hook-static: annotated prepare, JSON inventory: allowed, libndctl never loaded"
  else
    fail "nvdimm-hook-static: annotated prepare: exit $(cat "$work/json.rc"): $(head -c 300 "$work/json.err")"
  fi
fi

# inventory = libndctl: loaded on demand (whatever this machine's bus holds,
# the example's namespace uuid is not on it: refused, after the listing).
run live prepare
if grep -q 'file=libndctl.so.6 \[0\];  dynamically loaded' "$work/live.trace"; then
  ok "inventory = libndctl: libndctl.so.6 dlopen()ed at the listing"
else
  fail "inventory = libndctl: no dlopen of libndctl.so.6 in the loader trace; stderr: $(head -c 300 "$work/live.err")"
fi
if [[ $(cat "$work/live.rc") == 1 ]] && grep -q 'c3ced113-e676-47b2-b173-b7f7d08b2206' "$work/live.err"; then
  ok "inventory = libndctl: the example's namespace is not on this host: refused naming it"
else
  fail "inventory = libndctl: exit $(cat "$work/live.rc"), expected 1 naming the namespace: $(head -c 300 "$work/live.err")"
fi

echo "$checks passed, $failed failed"
[[ $failed -eq 0 ]]
