#!/bin/bash
# The hook's first decisions, before any state: a broken annotation of ours
# refuses (it must not switch the guard off); a domain that only mentions
# "nvdimm" in its text, or has an nvdimm backed by a file in /dev/shm, is
# never blocked, even with a broken config; migrate/restore filters print
# nothing (libvirt would take stdout as a replacement XML).
#   fastpath_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
hook=$1/nvdimm-hook-entry-uninstalled # what libvirt runs; execs $1/nvdimm-hook
src=$2
[[ -x $hook ]] || { echo "FAIL: $hook not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
echo "this is = not a config" >"$work/broken.conf"
export NVDIMM_HOOK_CONFIG=$work/broken.conf
passed=0
failed=0
# expect NAME STATUS XMLFILE OP [STDERR_FRAGMENT]
expect() {
  local rc=0
  "$hook" vm "$4" begin - <"$3" >"$work/out" 2>"$work/err" || rc=$?
  local why=""
  [[ $rc -eq $2 ]] || why="exit $rc, expected $2"
  [[ -s $work/out ]] && why="${why:+$why; }stdout not empty"
  if [[ -n ${5:-} ]] && ! grep -qF -- "$5" "$work/err"; then why="${why:+$why; }stderr lacks '$5'"; fi
  if [[ -z $why ]]; then
    passed=$((passed + 1)); echo "ok: $1"
  else
    failed=$((failed + 1)); echo "FAIL: $1: $why; stderr: $(head -c 300 "$work/err")"
  fi
}
sed 's|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206"/>|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206" label="64KiB"/>|' \
  "$src/examples/domain.xml" >"$work/bad-label.xml"
grep -q 'label="64KiB"' "$work/bad-label.xml" || { echo "FAIL: fixture not edited"; exit 1; }
expect "broken annotation refused at prepare" 1 "$work/bad-label.xml" prepare "64 KiB"
expect "broken annotation refused at migrate" 1 "$work/bad-label.xml" migrate "64 KiB"
expect "broken annotation: release still exits 0" 0 "$work/bad-label.xml" release

cat >"$work/mentions.xml" <<'XML'
<domain type='qemu'><name>vm</name><description>no nvdimm here</description>
<memory unit='MiB'>256</memory><os><type arch='x86_64'>hvm</type></os><devices/></domain>
XML
expect "'nvdimm' in a description, broken config: prepare allowed" 0 "$work/mentions.xml" prepare
expect "... restore allowed, nothing on stdout" 0 "$work/mentions.xml" restore

cat >"$work/shm.xml" <<'XML'
<domain type='qemu'><name>vm</name><memory unit='MiB'>512</memory>
<maxMemory slots='1' unit='MiB'>1024</maxMemory><os><type arch='x86_64'>hvm</type></os>
<devices><memory model='nvdimm'><source><path>/dev/shm/nv.img</path></source>
<target><size unit='MiB'>256</size><node>0</node></target></memory></devices></domain>
XML
expect "file-backed nvdimm in /dev/shm, broken config: prepare allowed" 0 "$work/shm.xml" prepare
sed 's|/dev/shm/nv.img|/dev/pmem0|' "$work/shm.xml" >"$work/pmem.xml"
expect "nvdimm on /dev/pmem0, broken config: prepare refused" 1 "$work/pmem.xml" prepare "broken.conf"
expect "unknown op is ignored" 0 "$work/bad-label.xml" attach
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
