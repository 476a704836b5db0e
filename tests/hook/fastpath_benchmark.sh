#!/bin/bash
# Benchmark, not a test (not registered with CTest): what one libvirt hook
# call costs, side by side in one run, each against `cat` of the same XML:
#
#   entry, fast path    nvdimm-hook-entry (what libvirt executes) `prepare` of a
#                       10 KiB domain XML without NVDIMM: exit 0, libc only
#   full hook, fast path  the full hook run directly on the same XML (what
#                       libvirt ran before the entry existed)
#   entry, annotated prepare  the example domain (annotation + its planned
#                       nvdimm) through the entry into the full hook: inventory
#                       of 16 namespaces from an `ndctl list -N -v` JSON file,
#                       claim taken (again), QEMU layout probe cached
#   ..., static full hook  the same through nvdimm-hook-static (libxml2, ICU,
#                       Boost, libstdc++ linked in; -DNVDIMMHOOK_STATIC_FULL_HOOK=ON
#                       installs it)
#   floor: ...          what an annotated prepare cannot go below: a program
#                       that only loads the shared libxml2, and the entry
#                       exec'ing a static program that returns at once or that
#                       libxml2 loader (benchmarks/: two execs, no work)
#   floor: ... libndctl  the hook's libndctl inventory listing once (dlopen of
#                       libndctl and libdaxctl, sysfs walk) in a program that
#                       also loads libxml2: with no NVDIMM bus here, the least
#                       a real host's inventory adds
#   python+lxml         a Python hook that only reads stdin and parses it with
#                       lxml (what a scripted hook pays on every call), on both
#
#   fastpath_benchmark.sh BUILD_DIR [RUNS]      (RUNS: default 500)
#
# Two measurements of the same commands:
#   - a bash loop: fork + exec + wait, stdin from the file, stdout to
#     /dev/null, timed with EPOCHREALTIME; the commands run in turn within each
#     round, so a change of machine load hits all alike; medians.
#   - hyperfine (Debian package `hyperfine`) through `sh -c`, shell start-up
#     subtracted by hyperfine; medians.
#   - valgrind --tool=callgrind: instructions executed, with the dynamic
#     loader: independent of the machine's load. Where the entry execs, the
#     count is the last image's (the entry's own 73 k before it are lost with
#     the exec).
# The machine's load average is printed before and after: a shared machine
# moves the absolute times, the ratios to `cat` much less.
set -euo pipefail

(($# >= 1 && $# <= 2)) || {
  echo "usage: $0 BUILD_DIR [RUNS]" >&2
  exit 2
}
build_dir=$(cd "$1" && pwd)
runs=${2:-500}
entry=$build_dir/nvdimm-hook-entry-uninstalled
hook=$build_dir/nvdimm-hook
static_entry=$build_dir/nvdimm-hook-entry-static-uninstalled
static_hook=$build_dir/nvdimm-hook-static
ctl=$build_dir/nvdimmctl
# The floors (benchmarks/CMakeLists.txt): two execs with no work, the second
# a static program that returns, or one that only loads the shared libxml2.
floor_libxml2=$build_dir/benchmarks/libxml2-load-floor
entry_floor_libxml2=$build_dir/benchmarks/entry-to-libxml2-load-floor
entry_floor_empty=$build_dir/benchmarks/entry-to-empty-floor
# What a real host adds (inventory = libndctl) on a machine without a bus:
floor_libndctl=$build_dir/benchmarks/libndctl-list-floor
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
for f in "$entry" "$hook" "$static_entry" "$static_hook" "$ctl" "$floor_libxml2" \
  "$entry_floor_libxml2" "$entry_floor_empty" "$floor_libndctl"; do
  [[ -x $f ]] || {
    echo "FAIL: $f is missing: build the project first" >&2
    exit 1
  }
done
for tool in python3 hyperfine valgrind; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool not found (scripts/install-deps installs it)" >&2
    exit 1
  }
done
/usr/bin/python3 -c 'import lxml.etree' 2>/dev/null || {
  echo "FAIL: python3-lxml is not installed for /usr/bin/python3 (the lxml hook's interpreter)" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/nvh-bench.XXXXXXXX")
chmod 0755 "$work"
# The run dir where a host has it: on a tmpfs (/run/nvdimm-hook), where the
# claim's fsync costs nothing; on this machine's disk it costs ~1 ms.
run_tmpfs=${NVH_BENCH_TMPFS:-/dev/shm}
[[ $(stat -f -c %T "$run_tmpfs" 2>/dev/null) == tmpfs ]] || {
  echo "FAIL: $run_tmpfs is not a tmpfs (set NVH_BENCH_TMPFS to one)" >&2
  exit 1
}
run_dir=$(mktemp -d "$run_tmpfs/nvh-bench-run.XXXXXXXX")
trap 'rm -rf -- "$work" "$run_dir"' EXIT
plain=$work/plain.xml

# A plausible 10 KiB domain: the example guest without its annotation, with
# disks and network interfaces until it reaches 10 KiB.
python3 - "$source_dir/examples/domain.xml" "$plain" <<'EOF'
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

# 16 namespaces: the example host's four plus twelve devdax namespaces in a
# second region, each with a (sparse) device node under $work/dev.
python3 - "$source_dir/examples/inventory.json" "$work/inventory.json" <<'EOF'
import copy, json, sys, uuid
namespaces = json.load(open(sys.argv[1]))
devdax = next(n for n in namespaces if n["mode"] == "devdax")
for i in range(12):
    n = copy.deepcopy(devdax)
    n["dev"] = "namespace1.%d" % i
    n["uuid"] = str(uuid.UUID(int=0x1000 + i))
    n["raw_uuid"] = str(uuid.UUID(int=0x2000 + i))
    n["name"] = "bench%d" % i
    n["daxregion"]["id"] = 1
    n["daxregion"]["devices"][0]["chardev"] = "dax1.%d" % i
    namespaces.append(n)
assert len(namespaces) == 16
json.dump(namespaces, open(sys.argv[2], "w"), indent=1)
EOF
mkdir -p "$work/dev" "$work/libvirt-run"
python3 - "$work/inventory.json" "$work/dev" <<'EOF'
import json, os, sys
for n in json.load(open(sys.argv[1])):
    names = [d["chardev"] for d in n.get("daxregion", {}).get("devices", [])]
    names += [n["blockdev"]] if "blockdev" in n else []
    for name in names:
        with open(os.path.join(sys.argv[2], name), "wb") as f:
            f.truncate(n["size"])
EOF
cat >"$work/hook.conf" <<EOF
inventory = $work/inventory.json
device-dir = $work/dev
run-dir = $run_dir/run
state-dir = $work/state
libvirt-run-dir = $work/libvirt-run
probe = auto
EOF
export NVDIMM_HOOK_CONFIG=$work/hook.conf
annotated=$work/annotated.xml
"$ctl" rewrite --inventory "$work/inventory.json" --device-dir "$work/dev" \
  "$source_dir/examples/domain.xml" >"$annotated" 2>"$work/rewrite.err" || {
  cat "$work/rewrite.err" >&2
  echo "FAIL: nvdimmctl rewrite failed" >&2
  exit 1
}

cat >"$work/lxml-hook" <<'EOF'
#!/usr/bin/python3
# A scripted hook at its cheapest: read the domain XML and parse it.
import sys
from lxml import etree
etree.fromstring(sys.stdin.buffer.read())
EOF
chmod 0755 "$work/lxml-hook"

# The first annotated prepare runs the QEMU probe and caches its answer; every
# one after that takes the cached path. Each must be allowed.
for xml in "$plain" "$annotated"; do
  for h in "$entry" "$hook" "$static_entry"; do
    "$h" bench-guest prepare begin - <"$xml" 2>"$work/first.err" || {
      cat "$work/first.err" >&2
      echo "FAIL: $h refused $xml" >&2
      exit 1
    }
  done
done
[[ -s $work/state/probe-cache.json ]] || {
  echo "FAIL: the probe cache was not written" >&2
  exit 1
}

# name|command|stdin
benches=(
  "cat, 10 KiB|cat|$plain"
  "entry, fast path|$entry bench-guest prepare begin -|$plain"
  "full hook, fast path|$hook bench-guest prepare begin -|$plain"
  "python+lxml, 10 KiB|$work/lxml-hook bench-guest prepare begin -|$plain"
  "cat, annotated|cat|$annotated"
  "floor: libxml2 load only|$floor_libxml2|$annotated"
  "floor: entry, then an empty static program|$entry_floor_empty bench-guest prepare begin -|$annotated"
  "floor: entry, then libxml2 load only|$entry_floor_libxml2 bench-guest prepare begin -|$annotated"
  "floor: libxml2 load + libndctl inventory, no bus|$floor_libndctl|$annotated"
  "entry, annotated prepare|$entry bench-guest prepare begin -|$annotated"
  "entry, annotated prepare, static full hook|$static_entry bench-guest prepare begin -|$annotated"
  "python+lxml, annotated|$work/lxml-hook bench-guest prepare begin -|$annotated"
)

echo "# nvdimm-hook: one hook call vs cat, $runs runs each"
echo "# plain: $(stat -c %s "$plain")-byte domain XML without NVDIMM; annotated: $(stat -c %s "$annotated") bytes, 16-namespace JSON inventory, probe cached"
echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A samples=()
for ((i = 0; i < 10; i++)); do # warm-up
  for b in "${benches[@]}"; do
    IFS='|' read -r name cmd input <<<"$b"
    $cmd <"$input" >/dev/null
  done
done
for ((i = 0; i < runs; i++)); do
  for b in "${benches[@]}"; do
    IFS='|' read -r name cmd input <<<"$b"
    t0=${EPOCHREALTIME/./}
    $cmd <"$input" >/dev/null
    t1=${EPOCHREALTIME/./}
    samples[$name]+="$((t1 - t0)) "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A loop_median=()
for b in "${benches[@]}"; do
  IFS='|' read -r name cmd input <<<"$b"
  loop_median[$name]=$(median <<<"${samples[$name]}")
done

echo "# hyperfine $(hyperfine --version | cut -d' ' -f2): sh -c, shell start-up subtracted"
hyper_args=()
for b in "${benches[@]}"; do
  IFS='|' read -r name cmd input <<<"$b"
  hyper_args+=(-n "$name" "$cmd <'$input' >/dev/null")
done
hyperfine --shell=sh --warmup 10 --runs "$runs" --style none \
  --export-json "$work/hyperfine.json" "${hyper_args[@]}" >"$work/hyperfine.out" 2>&1 || {
  cat "$work/hyperfine.out" >&2
  echo "FAIL: hyperfine failed" >&2
  exit 1
}
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

loop_args=()
# Instructions executed (valgrind --tool=callgrind, children followed through
# exec, dynamic loader included): the same on a busy machine as on a quiet one.
for b in "${benches[@]}"; do
  IFS='|' read -r name cmd input <<<"$b"
  dir=$work/callgrind.${#loop_args[@]}
  mkdir -p "$dir"
  # shellcheck disable=SC2086 # $cmd is a command line of plain words
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$dir/out.%p" \
    $cmd <"$input" >/dev/null 2>"$dir/log" || {
    cat "$dir/log" >&2
    echo "FAIL: callgrind of '$name' failed" >&2
    exit 1
  }
  loop_args+=("$name=${loop_median[$name]}=$(awk '/^summary:/ { s += $2 } END { print s }' "$dir"/out.*)")
  # Where the full hook's instructions go (exec keeps the pid: the last image
  # of the process, the full hook, wrote the file).
  if [[ $name == "entry, annotated prepare"* || $name == "full hook, fast path" ]]; then
    echo "## $name: inclusive instructions, dynamic loader (_dl_start) vs main"
    callgrind_annotate --inclusive=yes "$dir"/out.* 2>/dev/null |
      grep -E '(^| )(\?\?\?|[^ ]*):(_dl_start|_dl_relocate_object|main|_dl_init|exit) ' | head -n 8
  fi
done
python3 - "$work/hyperfine.json" "${loop_args[@]}" <<'EOF'
import json, sys
hyper = {r["command"]: r["median"] * 1e6 for r in json.load(open(sys.argv[1]))["results"]}
loop, instr = {}, {}
for a in sys.argv[2:]:
    name, us, ir = a.rsplit("=", 2)
    loop[name], instr[name] = float(us), int(ir)
print("| call | bash loop median | vs cat | hyperfine median | vs cat | instructions | vs cat |")
print("|---|---|---|---|---|---|---|")
for name in loop:
    cat = "cat, annotated" if "annotated" in name else "cat, 10 KiB"
    print("| %s | %.0f us | %.2fx | %.0f us | %.2fx | %d | %.2fx |" % (
        name, loop[name], loop[name] / loop[cat], hyper[name], hyper[name] / hyper[cat],
        instr[name], instr[name] / instr[cat]))
EOF
