#!/bin/bash
# Issue 3, concurrency: N different domains annotated with the SAME namespace
# run the real `nvdimm-hook DOMAIN prepare begin -` at the same moment; exactly
# one wins the claim, every other one is refused naming the winner. Then all
# of them run `release end -` at once, which must leave no claim and no held
# lock. ROUNDS rounds.
#
#   claim_race_test.sh BUILD_DIR SOURCE_DIR [DOMAINS [ROUNDS]]   (200, 20)
#
# No libvirtd: the hook is fed each domain's XML on stdin, as libvirt does.
# The domains' planned devices come from `nvdimmctl rewrite`. To start them
# together, each prepare waits on a shared flock of a gate file that this
# script holds exclusively; the gate opens once /proc/locks shows all N
# waiting. Prints one "ok: ..." line per assertion; exits non-zero with a
# "FAIL: ..." line on the first failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# shellcheck source-path=SCRIPTDIR source=hook_test_lib.sh
source "$here/hook_test_lib.sh"

(($# >= 2 && $# <= 4)) || fail "usage: $0 BUILD_DIR SOURCE_DIR [DOMAINS [ROUNDS]]"
build_dir=$(cd "$1" && pwd) || fail "BUILD_DIR $1 does not exist"
source_dir=$(cd "$2" && pwd) || fail "SOURCE_DIR $2 does not exist"
domains=${3:-200}
rounds=${4:-20}
hook=$build_dir/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $build_dir/nvdimm-hook
nvdimmctl=$build_dir/nvdimmctl
inventory=$source_dir/examples/inventory.json
example_domain=$source_dir/examples/domain.xml
ns_uuid=c3ced113-e676-47b2-b173-b7f7d08b2206 # the namespace examples/domain.xml asks for

for tool in python3 flock truncate stat; do
  command -v "$tool" >/dev/null || fail "required tool $tool not found"
done
for f in "$hook" "$nvdimmctl"; do
  [[ -x $f ]] || fail "$f is missing or not executable: build nvdimm-hook and nvdimmctl first"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nvh-claim-race.XXXXXXXX")
pids=()
cleanup() {
  local rc=$? pid
  set +e
  trap '' PIPE
  for pid in "${pids[@]}"; do
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    [[ -n $pid ]] && wait "$pid" 2>/dev/null
  done
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
test_start=$(now_ms)

# ---------------------------------------------------------------------------
# Config, device, run and state dirs (this user's, 0700).
mkdir -m 0700 "$work/run" "$work/state" "$work/libvirt-run"
mkdir "$work/dev" "$work/xml" "$work/out"
chardev_size=$(py '
import json, sys
for ns in json.load(open(sys.argv[1])):
    if ns.get("uuid") == sys.argv[2]:
        d = ns["daxregion"]["devices"][0]
        print(d["chardev"], d["size"])
' "$inventory" "$ns_uuid")
read -r chardev device_size <<<"$chardev_size"
truncate -s "$device_size" "$work/dev/$chardev"
conf=$work/nvdimm-hook.conf
cat >"$conf" <<EOF
inventory = $inventory
device-dir = $work/dev
run-dir = $work/run
state-dir = $work/state
libvirt-run-dir = $work/libvirt-run
claim-grace = 300
probe = off
EOF
export NVDIMM_HOOK_CONFIG=$conf

# N domains, each annotated with the namespace, devices by nvdimmctl rewrite.
py '
import sys, xml.etree.ElementTree as ET
ET.register_namespace("nvdimm", "urn:nvdimm-hook:1")
src, outdir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    tree = ET.parse(src)
    root = tree.getroot()
    root.find("name").text = "dom-%d" % i
    root.find("uuid").text = "00000000-0000-4000-8000-%012d" % i
    tree.write("%s/dom-%d.in.xml" % (outdir, i))
' "$example_domain" "$work/xml" "$domains"
t0=$(now_ms)
# shellcheck disable=SC2016 # $1, $2 expand in the inner sh
seq 0 $((domains - 1)) | xargs -P 4 -I{} sh -c \
  '"$1" rewrite "$2/xml/dom-{}.in.xml" >"$2/xml/dom-{}.xml" 2>"$2/out/rewrite-{}.err" ||
     { echo "nvdimmctl rewrite of dom-{} failed: $(cat "$2/out/rewrite-{}.err")" >&2; exit 255; }' \
  sh "$nvdimmctl" "$work" || fail "nvdimmctl rewrite failed"
grep -q "<memory model=.nvdimm." "$work/xml/dom-0.xml" || fail "rewrite added no nvdimm device: $(cat "$work/xml/dom-0.xml")"
[[ $(sha256sum <"$work/xml/dom-0.xml") != $(sha256sum <"$work/xml/dom-1.xml") ]] ||
  fail "dom-0 and dom-1 XML are identical"
ok "$domains domain XMLs for namespace $ns_uuid by nvdimmctl rewrite ($(($(now_ms) - t0)) ms)"

# One domain alone is allowed (sanity: a refusal in the race must be the
# claim, not a broken setup), and releases.
"$hook" dom-0 prepare begin - <"$work/xml/dom-0.xml" >"$work/out/solo.out" 2>&1 ||
  fail "prepare of dom-0 alone failed: $(cat "$work/out/solo.out")"
"$hook" dom-0 release end - <"$work/xml/dom-0.xml" >"$work/out/solo.out" 2>&1 ||
  fail "release of dom-0 failed: $(cat "$work/out/solo.out")"
ok "dom-0 alone: prepare allowed, release done"

claims_dir=$work/run/claims
gate=$work/gate
: >"$gate"
gate_inode=$(stat -c %i "$gate")

# waiting_on_gate: how many flock requests wait on the gate (/proc/locks
# lists a blocked request as "N: -> FLOCK ... MAJ:MIN:INODE ...").
waiting_on_gate() {
  awk -v ino="$gate_inode" '$2 == "->" { n = split($7, f, ":"); if (f[n] == ino) c++ } END { print c + 0 }' /proc/locks
}

# claim_files: the names in the claims dir (claims and anything else).
claim_files() { find "$claims_dir" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort; }

declare -A wins=()
total_prepare_ms=0
for ((round = 1; round <= rounds; round++)); do
  exec 8>"$gate"
  flock -x 8
  pids=()
  for ((i = 0; i < domains; i++)); do
    flock -s "$gate" "$hook" "dom-$i" prepare begin - \
      <"$work/xml/dom-$i.xml" >"$work/out/$i.out" 2>"$work/out/$i.err" 8>&- &
    pids[i]=$!
  done
  deadline=$((SECONDS + 60))
  while (($(waiting_on_gate) < domains)); do
    ((SECONDS < deadline)) || fail "round $round: only $(waiting_on_gate) of $domains prepares reached the gate within 60 s"
    sleep 0.05 # poll interval, not synchronisation
  done
  t0=$(now_ms)
  flock -u 8 # all N start now
  exec 8>&-
  winners=()
  for ((i = 0; i < domains; i++)); do
    set +e
    wait "${pids[i]}"
    rc=$?
    set -e
    case $rc in
      0) winners+=("dom-$i") ;;
      1) ;;
      *) fail "round $round: prepare of dom-$i exited $rc: $(cat "$work/out/$i.err")" ;;
    esac
  done
  pids=()
  prepare_ms=$(($(now_ms) - t0))
  total_prepare_ms=$((total_prepare_ms + prepare_ms))
  ((${#winners[@]} == 1)) ||
    fail "round $round: ${#winners[@]} prepares succeeded (${winners[*]:-none}), expected exactly 1"
  winner=${winners[0]}
  wins[$winner]=$((${wins[$winner]:-0} + 1))
  # Every loser was refused for the claim, naming the winner.
  for ((i = 0; i < domains; i++)); do
    [[ dom-$i == "$winner" ]] && continue
    grep -qF "is claimed by domain '$winner'" "$work/out/$i.err" ||
      fail "round $round: dom-$i was refused without naming the winner $winner: $(cat "$work/out/$i.err")"
  done
  files=$(claim_files | tr '\n' ' ')
  [[ $files == "$ns_uuid " ]] || fail "round $round: claims dir holds '$files', expected only $ns_uuid"
  owner=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["owner_name"])' "$claims_dir/$ns_uuid")
  [[ $owner == "$winner" ]] || fail "round $round: the claim file names $owner, the winner was $winner"

  # Everyone releases at once: the claim goes, the lock is free.
  t1=$(now_ms)
  for ((i = 0; i < domains; i++)); do
    "$hook" "dom-$i" release end - <"$work/xml/dom-$i.xml" >"$work/out/$i.rel" 2>&1 &
    pids[i]=$!
  done
  for ((i = 0; i < domains; i++)); do
    set +e
    wait "${pids[i]}"
    rc=$?
    set -e
    ((rc == 0)) || fail "round $round: release of dom-$i exited $rc: $(cat "$work/out/$i.rel")"
  done
  pids=()
  release_ms=$(($(now_ms) - t1))
  files=$(claim_files | tr '\n' ' ')
  [[ -z $files ]] || fail "round $round: claims dir holds '$files' after every domain released"
  flock -n -x "$work/run/claims.lock" true ||
    fail "round $round: $work/run/claims.lock is still locked after every hook exited"
  ok "round $round: 1 of $domains prepares won ($winner), $((domains - 1)) refused naming it; prepare ${prepare_ms} ms, release ${release_ms} ms, no claim and no lock left"
done

distinct=${#wins[@]}
echo "# winners: $(for w in "${!wins[@]}"; do printf '%s=%s ' "$w" "${wins[$w]}"; done)"
ok "$rounds rounds, exactly one winner each ($distinct distinct winners), $((rounds * domains)) prepares, mean $((total_prepare_ms / rounds)) ms per round of $domains"
echo "PASS: $checks checks in $(($(now_ms) - test_start)) ms"
