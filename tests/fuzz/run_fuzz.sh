#!/bin/bash
# Runs one libFuzzer target for SECONDS from a fresh corpus of seed files.
#
#   run_fuzz.sh BIN SECONDS WORKDIR REGRESSIONS_DIR [--op-prefix] SEED_DIR...
#
# First replays every file in REGRESSIONS_DIR (inputs that once crashed: each
# must pass now), then fuzzes. --op-prefix (the hook target) turns every seed
# into 8 seeds, one per libvirt operation byte. Fails on any crash, leak,
# timeout or sanitizer report; the input is left in WORKDIR. Prints
# libFuzzer's final stats (executions, edges/features, corpus).
set -euo pipefail
(($# >= 4)) || { echo "usage: $0 BIN SECONDS WORKDIR REGRESSIONS [--op-prefix] SEEDS..." >&2; exit 2; }
bin=$1 seconds=$2 work=$3 regressions=$4
shift 4
prefix=0
if [[ ${1:-} == --op-prefix ]]; then
  prefix=1
  shift
fi
[[ -x $bin ]] || { echo "FAIL: $bin is missing: build the fuzz targets (sanitizer build)" >&2; exit 1; }

rm -rf -- "$work"
mkdir -p -- "$work/corpus"
seeds=0
for dir in "$@"; do
  [[ -d $dir ]] || { echo "FAIL: seed directory $dir is missing" >&2; exit 1; }
  while IFS= read -r -d '' file; do
    name=$(basename "$file")
    if ((prefix)); then
      for op in 0 1 2 3 4 5 6 7; do
        { printf "\\x0$op"; cat -- "$file"; } >"$work/corpus/$op-$seeds-$name"
      done
    else
      cp -- "$file" "$work/corpus/$seeds-$name"
    fi
    seeds=$((seeds + 1))
  done < <(find "$dir" -maxdepth 2 -type f -print0)
done
((seeds > 0)) || { echo "FAIL: no seed files in $*" >&2; exit 1; }
echo "seeds: $seeds files"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1

if [[ -d $regressions ]]; then
  mapfile -t replay < <(find "$regressions" -type f | sort)
  if ((${#replay[@]})); then
    echo "replaying ${#replay[@]} regression input(s) from $regressions"
    "$bin" -runs=1 "${replay[@]}" >"$work/regressions.log" 2>&1 || {
      cat "$work/regressions.log"
      echo "FAIL: a regression input crashes again" >&2
      exit 1
    }
  fi
fi

rc=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?
grep -E '^(stat::|#[0-9]+.*(INITED|DONE))' "$work/fuzz.log" || true
if ((rc != 0)); then
  tail -n 60 "$work/fuzz.log"
  echo "FAIL: $(basename "$bin") exited $rc; crashing input(s): $(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' || echo none)" >&2
  exit 1
fi
grep -q '^Done [0-9]* runs' "$work/fuzz.log" || { tail -n 30 "$work/fuzz.log"; echo "FAIL: no 'Done N runs' line" >&2; exit 1; }
echo "ok: $(grep '^Done' "$work/fuzz.log")"
