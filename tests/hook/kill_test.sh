#!/bin/bash
# Issue 3, crash safety: SIGKILL the real hook at random points while it
# writes state (claims at `prepare`, layout records at `start`, claim removal
# at `release`), TRIALS times. After every kill, every state file must still
# parse (`nvdimmctl status` reports nothing unreadable) and no lock may be
# left held: as libvirt does after a failed start, `release` of the killed
# domain runs, then a whole prepare/start/release of another domain must
# finish within a bound and succeed.
#
#   kill_test.sh BUILD_DIR SOURCE_DIR [TRIALS]   (default 200)
#
# The random delay before each kill picks where the hook dies; nothing waits
# on it for synchronisation.
set -euo pipefail
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
trials=${3:-200}
hook=$build_dir/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $build_dir/nvdimm-hook
ctl=$build_dir/nvdimmctl
for f in "$hook" "$ctl"; do
  [[ -x $f ]] || { echo "FAIL: $f is missing: build nvdimm-hook and nvdimmctl first" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/nvh-kill.XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT
# shellcheck source=hook_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/hook_test_lib.sh"
hook_sandbox "$work" "$source_dir/examples/inventory.json" "claim-grace = 0" "probe = off"
export NVDIMM_HOOK_CONFIG=$work/hook.conf
"$ctl" rewrite "$source_dir/examples/domain.xml" >"$work/base.xml" 2>/dev/null
for i in $(seq 0 9); do
  sed "s|<name>pmem-guest</name>|<name>vm-$i</name>|; s|<uuid>[^<]*</uuid>|<uuid>00000000-0000-4000-8000-00000000000$i</uuid>|" \
    "$work/base.xml" >"$work/vm-$i.xml"
done

# How long one hook run takes here (median of 9 prepare+release pairs, in
# microseconds): the kills below land anywhere inside such a run.
samples=()
for _ in $(seq 9); do
  t0=${EPOCHREALTIME/./}
  "$hook" vm-0 prepare begin - <"$work/vm-0.xml" >/dev/null 2>&1
  t1=${EPOCHREALTIME/./}
  "$hook" vm-0 release end - <"$work/vm-0.xml" >/dev/null 2>&1
  samples+=($((t1 - t0)))
done
run_us=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n 5p)
((run_us > 999999)) && run_us=999999
echo "ok: one prepare takes ${run_us} us here"

ops=(prepare start release)
delivered=0
attempts=0
start_ns=${EPOCHREALTIME/./}
# A trial is a SIGKILL that hit a running hook; misses (the hook had already
# exited) are retried, within a bound.
while ((delivered < trials)); do
  attempts=$((attempts + 1))
  ((attempts <= 10 * trials)) || { echo "FAIL: only $delivered kills hit a running hook in $attempts attempts"; exit 1; }
  trial=$delivered
  vm=$((RANDOM % 10))
  op=${ops[$((RANDOM % 3))]}
  "$hook" "vm-$vm" "$op" begin - <"$work/vm-$vm.xml" >/dev/null 2>&1 &
  pid=$!
  # Fault injection: die at a random point of one run.
  sleep "0.$(printf '%06d' $(((RANDOM * 32768 + RANDOM) % run_us)))"
  if kill -KILL "$pid" 2>/dev/null; then delivered=$((delivered + 1)); fi
  wait "$pid" 2>/dev/null || true

  status_out=$("$ctl" status 2>&1) || { echo "FAIL: trial $trial ($op vm-$vm): nvdimmctl status failed: $status_out"; exit 1; }
  if grep -q "unreadable" <<<"$status_out"; then
    echo "FAIL: trial $trial ($op vm-$vm): a state file does not parse:"; echo "$status_out"; exit 1
  fi
  # No lock left behind. libvirt runs `release` after a failed start; then a
  # full prepare/start/release of another domain must end, and succeed.
  other=$(((vm + 1) % 10))
  rc=0
  timeout 10 "$hook" "vm-$vm" release end - <"$work/vm-$vm.xml" >/dev/null 2>&1 || rc=$?
  if [[ $rc -eq 124 ]]; then echo "FAIL: trial $trial: release of vm-$vm hung: a lock is held"; exit 1; fi
  for next in prepare start release; do
    rc=0
    timeout 10 "$hook" "vm-$other" "$next" begin - <"$work/vm-$other.xml" >/dev/null 2>"$work/err" || rc=$?
    if [[ $rc -eq 124 ]]; then echo "FAIL: trial $trial: '$next' of vm-$other hung: a lock is held"; exit 1; fi
    if [[ $next != release && $rc -ne 0 ]]; then
      echo "FAIL: trial $trial: '$next' of vm-$other refused after a killed $op: $(cat "$work/err")"; exit 1
    fi
  done
done
elapsed_ms=$(((${EPOCHREALTIME/./} - start_ns) / 1000))
leftover=$(find "$work/run" "$work/state" -name '.*tmp-*' | wc -l)
echo "ok: $delivered hooks SIGKILLed while running ($attempts attempts), state readable after every one, no lock held, ${elapsed_ms} ms"
echo "ok: temp files of killed writers left for the next writer to clean: $leftover"
echo "$trials passed, 0 failed"
