#!/bin/bash
# Benchmark, not a test (not registered with CTest): the wall time of
# `nvdimm-hook DOMAIN prepare begin -` for a 10 KiB domain XML without any
# NVDIMM (the fast path every non-NVDIMM guest takes at each lifecycle step)
# against `cat` of the same file.
#
#   fastpath_benchmark.sh BUILD_DIR [RUNS]      (RUNS: default 1000)
#
# Two measurements of the same pair of commands:
#   - a bash loop: fork + exec + wait of each command, timed with
#     EPOCHREALTIME around each run, stdin from the file, stdout to /dev/null;
#     median, mean, p90 and min in microseconds.
#   - hyperfine (Debian package `hyperfine`), when installed, through `sh -c`
#     (hyperfine subtracts its measured shell start-up time).
# Both commands run alternately, so a change of machine load hits both alike.
# The config file is deliberately absent: the fast path must not read it.
set -euo pipefail

(($# >= 1 && $# <= 2)) || {
  echo "usage: $0 BUILD_DIR [RUNS]" >&2
  exit 2
}
build_dir=$(cd "$1" && pwd)
runs=${2:-1000}
hook=$build_dir/nvdimm-hook
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
[[ -x $hook ]] || {
  echo "FAIL: $hook is missing: build the nvdimm-hook target first" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/nvh-bench.XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT
xml=$work/domain.xml

# A plausible 10 KiB domain: the example guest without its annotation, with
# disks and network interfaces until it reaches 10 KiB.
python3 - "$source_dir/examples/domain.xml" "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for tag in ("metadata", "title", "description"):
    for e in root.findall(tag):
        root.remove(e)
root.find("name").text = "bench-guest"
devices = root.find("devices")
i = 0
def size():
    ET.indent(root)
    return len(ET.tostring(root, encoding="unicode")) + 1
while size() < 10240:
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2", cache="none", io="native")
    ET.SubElement(disk, "source", file="/var/lib/libvirt/images/bench-guest-disk%d.qcow2" % i)
    ET.SubElement(disk, "target", dev="vd" + chr(ord("a") + i % 26) * (1 + i // 26), bus="virtio")
    iface = ET.SubElement(devices, "interface", type="network")
    ET.SubElement(iface, "mac", address="52:54:00:12:34:%02x" % i)
    ET.SubElement(iface, "source", network="default")
    ET.SubElement(iface, "model", type="virtio")
    i += 1
ET.indent(root)
text = ET.tostring(root, encoding="unicode") + "\n"
assert "nvdimm" not in text
open(sys.argv[2], "w").write(text)
EOF
bytes=$(stat -c %s "$xml")
! grep -q nvdimm "$xml" || {
  echo "FAIL: the benchmark XML mentions nvdimm" >&2
  exit 1
}
export NVDIMM_HOOK_CONFIG=$work/no-such-config
"$hook" bench-guest prepare begin - <"$xml" || {
  echo "FAIL: the hook refused the benchmark domain" >&2
  exit 1
}

echo "# nvdimm-hook fast path vs cat, ${bytes}-byte domain XML without NVDIMM, $runs runs each"
echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"

# Bash loop, alternating.
hook_us=() cat_us=()
for ((i = 0; i < 20; i++)); do # warm-up
  "$hook" bench-guest prepare begin - <"$xml" >/dev/null
  cat <"$xml" >/dev/null
done
for ((i = 0; i < runs; i++)); do
  t0=${EPOCHREALTIME/./}
  "$hook" bench-guest prepare begin - <"$xml" >/dev/null
  t1=${EPOCHREALTIME/./}
  cat <"$xml" >/dev/null
  t2=${EPOCHREALTIME/./}
  hook_us+=($((t1 - t0)))
  cat_us+=($((t2 - t1)))
done
# stats NAME VALUES...: median mean p90 min, microseconds.
stats() {
  local name=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v name="$name" '
    { v[NR] = $1; s += $1 }
    END {
      printf "%-22s median %6d us  mean %6d us  p90 %6d us  min %6d us\n",
             name, v[int((NR + 1) / 2)], s / NR, v[int(NR * 0.9 + 0.5)], v[1]
    }'
}
echo "## bash loop (fork + exec + wait, EPOCHREALTIME)"
stats "nvdimm-hook prepare" "${hook_us[@]}"
stats "cat" "${cat_us[@]}"
hook_median=$(printf '%s\n' "${hook_us[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
cat_median=$(printf '%s\n' "${cat_us[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "median difference: $((hook_median - cat_median)) us (hook/cat $(awk -v h="$hook_median" -v c="$cat_median" 'BEGIN { printf "%.2f", h / c }')x)"

if command -v hyperfine >/dev/null; then
  echo "## hyperfine $(hyperfine --version | cut -d' ' -f2) (sh -c, shell start-up subtracted)"
  hyperfine --shell=sh --warmup 20 --runs "$runs" --style basic \
    --export-json "$work/hyperfine.json" \
    -n "nvdimm-hook prepare" "'$hook' bench-guest prepare begin - <'$xml'" \
    -n cat "cat <'$xml'" >"$work/hyperfine.out" 2>&1 || {
    cat "$work/hyperfine.out" >&2
    echo "FAIL: hyperfine failed" >&2
    exit 1
  }
  python3 - "$work/hyperfine.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%-22s median %6.0f us  mean %6.0f us  stddev %6.0f us  min %6.0f us" % (
        r["command"], r["median"] * 1e6, r["mean"] * 1e6, r["stddev"] * 1e6, r["min"] * 1e6))
EOF
else
  echo "## hyperfine not installed (apt-get install hyperfine): bash loop only"
fi
