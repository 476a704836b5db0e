#!/usr/bin/env bash
# Every bad input nvdimmctl can meet gets exit 1, a message on stderr that
# names the problem (and the domain/element/value where there is one), and
# nothing on stdout: a refused rewrite changes nothing.
# Usage: bad_inputs_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
ctl="$build/nvdimmctl"
[ -x "$ctl" ] || { echo "FAIL: $ctl not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inventory="$src/examples/inventory.json"
passed=0
failed=0

# domain NAME ANNOTATION_BODY [EXTRA_TOP_LEVEL_XML]: an otherwise valid domain.
domain() {
  local file="$work/$1.xml"
  cat >"$file" <<XML
<domain type='qemu'>
  <name>vm-$1</name>
  <uuid>5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e01</uuid>
  <metadata>
    <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">
      $2
    </nvdimm:nvdimms>
  </metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  ${3:-}
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>
XML
  echo "$file"
}

# raw NAME CONTENT: a file with exactly this content.
raw() {
  printf '%s' "$2" >"$work/$1"
  echo "$work/$1"
}

# expect_refusal CASE FRAGMENT... -- NVDIMMCTL ARGS: exit 1, every FRAGMENT in
# stderr, empty stdout.
expect_refusal() {
  local name=$1
  shift
  local fragments=()
  while [ "$1" != "--" ]; do fragments+=("$1"); shift; done
  shift
  local status=0
  "$ctl" "$@" >"$work/out" 2>"$work/err" || status=$?
  local why=""
  [ "$status" -eq 1 ] || why="exit status $status, expected 1"
  [ -s "$work/out" ] && why="${why:+$why; }stdout not empty"
  for fragment in "${fragments[@]}"; do
    grep -qF -- "$fragment" "$work/err" || why="${why:+$why; }stderr lacks '$fragment'"
  done
  if [ -z "$why" ]; then
    passed=$((passed + 1))
    echo "ok: $name: $(head -c 200 "$work/err" | tr '\n' ' ')"
  else
    failed=$((failed + 1))
    echo "FAIL: $name: $why; stderr: $(head -c 400 "$work/err")"
  fi
}

plan() { expect_refusal "$@"; }
uuid_dd0=c3ced113-e676-47b2-b173-b7f7d08b2206

# --- XML that is not a domain, or not safe to read
f=$(raw malformed.xml "<domain><name>x</name>")
plan "malformed XML" "malformed XML" "malformed.xml" -- plan "$f" --inventory "$inventory"
f=$(raw empty.xml "")
plan "empty file" "empty.xml" -- plan "$f" --inventory "$inventory"
f=$(raw network.xml "<network><name>n</name></network>")
plan "root is not <domain>" "<network>" -- plan "$f" --inventory "$inventory"
f=$(raw xxe.xml '<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY secret SYSTEM "file:///etc/shadow">]>
<domain type="qemu"><name>&secret;</name></domain>')
plan "XXE external entity" "DOCTYPE" -- rewrite "$f" --inventory "$inventory"
f=$(raw laughs.xml '<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<domain type="qemu"><name>&d;&d;&d;&d;&d;&d;&d;&d;</name></domain>')
plan "billion laughs" "DOCTYPE" -- plan "$f" --inventory "$inventory"
f=$(raw dtd.xml '<?xml version="1.0"?>
<!DOCTYPE domain SYSTEM "http://127.0.0.1:9/domain.dtd">
<domain type="qemu"><name>vm</name></domain>')
plan "external DTD" "DOCTYPE" -- plan "$f" --inventory "$inventory"
f=$(raw param.xml '<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<domain type="qemu"><name>vm</name></domain>')
plan "parameter entity" "DOCTYPE" -- plan "$f" --inventory "$inventory"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$work/huge.xml"
plan "oversized input" "huge.xml" "10485760" -- plan "$work/huge.xml" --inventory "$inventory"
plan "domain file missing" "nonexistent.xml" -- plan "$work/nonexistent.xml" --inventory "$inventory"

# --- the annotation
f=$(domain unknown-attr "<nvdimm:nvdimm uuid='$uuid_dd0' device='x'/>")
plan "unknown attribute" "vm-unknown-attr" "device" -- plan "$f" --inventory "$inventory"
f=$(domain two-selectors "<nvdimm:nvdimm uuid='$uuid_dd0' path='/dev/dax0.0'/>")
plan "two selectors" "vm-two-selectors" "/dev/dax0.0" -- plan "$f" --inventory "$inventory"
f=$(domain no-selector "<nvdimm:nvdimm node='0'/>")
plan "no selector" "vm-no-selector" "selector" -- plan "$f" --inventory "$inventory"
f=$(domain duplicate "<nvdimm:nvdimm uuid='$uuid_dd0'/><nvdimm:nvdimm uuid='$uuid_dd0'/>")
plan "duplicate entry" "vm-duplicate" "$uuid_dd0" -- plan "$f" --inventory "$inventory"
f=$(domain same-namespace "<nvdimm:nvdimm uuid='$uuid_dd0'/><nvdimm:nvdimm namespace='namespace0.0'/>")
plan "one namespace named twice" "vm-same-namespace" "namespace0.0" -- rewrite "$f" --inventory "$inventory"
f=$(domain unknown-uuid "<nvdimm:nvdimm uuid='00000000-1111-2222-3333-444444444444'/>")
plan "uuid not on host" "vm-unknown-uuid" "00000000-1111-2222-3333-444444444444" "no NVDIMM namespace" -- rewrite "$f" --inventory "$inventory"
f=$(domain bad-uuid "<nvdimm:nvdimm uuid='xyz'/>")
plan "malformed uuid" "vm-bad-uuid" "xyz" -- plan "$f" --inventory "$inventory"
f=$(domain shadow "<nvdimm:nvdimm path='/etc/shadow'/>")
plan "path outside /dev" "vm-shadow" "/etc/shadow" -- rewrite "$f" --inventory "$inventory"
f=$(domain sda "<nvdimm:nvdimm path='/dev/sda'/>")
plan "path is not a namespace" "vm-sda" "/dev/sda" "no NVDIMM namespace" -- rewrite "$f" --inventory "$inventory"
# Data first: an existing device whose layout cannot work is never moved by
# rewrite (only sync --relayout moves a layout, saying what the guest loses).
f=$(raw unusable.xml "<domain type='qemu'><name>vm-unusable</name>
  <uuid>5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e01</uuid><memory unit='MiB'>768</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
  <memory model='nvdimm' access='shared'><source><path>/dev/dax0.0</path>
  <alignsize unit='KiB'>2048</alignsize><pmem/></source><target><size unit='MiB'>512</size>
  <node>0</node><label><size unit='KiB'>128</size></label></target></memory></devices></domain>")
plan "existing layout does not fit" "vm-unusable" "cannot be kept" \
  "target size 512 MiB exceeds the backing size 502 MiB" "--relayout" -- rewrite "$f" --inventory "$inventory"
f=$(domain relative "<nvdimm:nvdimm path='dax0.0'/>")
plan "relative path" "vm-relative" "dax0.0" -- plan "$f" --inventory "$inventory"
f=$(domain dotdot "<nvdimm:nvdimm path='/dev/../etc/shadow'/>")
plan "path with .." "vm-dotdot" "/dev/../etc/shadow" -- plan "$f" --inventory "$inventory"
f=$(domain namespace-missing "<nvdimm:nvdimm namespace='namespace9.9'/>")
plan "namespace not on host" "vm-namespace-missing" "namespace9.9" -- plan "$f" --inventory "$inventory"
f=$(domain small-label "<nvdimm:nvdimm uuid='$uuid_dd0' label='64KiB'/>")
plan "label below 128 KiB" "vm-small-label" "64" "128 KiB" -- rewrite "$f" --inventory "$inventory"
f=$(domain odd-label "<nvdimm:nvdimm uuid='$uuid_dd0' label='130KiB'/>")
plan "label not a page multiple" "vm-odd-label" "130" -- plan "$f" --inventory "$inventory"
f=$(domain word-label "<nvdimm:nvdimm uuid='$uuid_dd0' label='big'/>")
plan "label not a size" "vm-word-label" "big" -- plan "$f" --inventory "$inventory"
f=$(domain negative-node "<nvdimm:nvdimm uuid='$uuid_dd0' node='-1'/>")
plan "negative node" "vm-negative-node" "-1" -- plan "$f" --inventory "$inventory"
f=$(domain word-node "<nvdimm:nvdimm uuid='$uuid_dd0' node='abc'/>")
plan "node not a number" "vm-word-node" "abc" -- plan "$f" --inventory "$inventory"
f=$(domain missing-node "<nvdimm:nvdimm uuid='$uuid_dd0' node='3'/>")
plan "guest node does not exist" "vm-missing-node" "node 3" -- rewrite "$f" --inventory "$inventory"
f=$(domain child "<nvdimm:nvdimm uuid='$uuid_dd0'><nvdimm:extra/></nvdimm:nvdimm>")
plan "unknown child element" "vm-child" "extra" -- plan "$f" --inventory "$inventory"
f=$(domain two-blocks "<nvdimm:nvdimm uuid='$uuid_dd0'/>" \
  "<metadata2/>")
sed -i 's|</metadata>|<n2:nvdimms xmlns:n2="urn:nvdimm-hook:1"/></metadata>|; s|<metadata2/>||' "$f"
plan "two annotation elements" "vm-two-blocks" "nvdimms" -- plan "$f" --inventory "$inventory"
f=$(domain sparc "<nvdimm:nvdimm uuid='$uuid_dd0'/>")
sed -i "s|arch='x86_64'|arch='sparc64'|" "$f"
plan "unknown architecture" "vm-sparc" "sparc64" -- plan "$f" --inventory "$inventory"
f=$(domain bad-memory "<nvdimm:nvdimm uuid='$uuid_dd0'/>")
sed -i "s|<memory unit='MiB'>256</memory>|<memory unit='MiB'>lots</memory>|" "$f"
plan "memory not a number" "vm-bad-memory" "lots" -- plan "$f" --inventory "$inventory"

# --- the inventory
ok_domain=$(domain fine "<nvdimm:nvdimm uuid='$uuid_dd0'/>")
f=$(raw tiny.json '[{"dev":"namespace0.0","mode":"devdax","map":"dev","size":65011712,"uuid":"c3ced113-e676-47b2-b173-b7f7d08b2206","daxregion":{"id":0,"size":65011712,"align":2097152,"devices":[{"chardev":"dax0.0","size":65011712,"target_node":0,"align":2097152,"mode":"devdax"}]},"align":2097152,"numa_node":0}]')
plan "namespace too small" "vm-fine" "namespace0.0" "needs at least 130 MiB" -- rewrite "$ok_domain" --inventory "$f"
f=$(raw broken.json '[{"dev":"namespace0.0",')
plan "malformed inventory JSON" "broken.json" -- plan "$ok_domain" --inventory "$f"
plan "inventory file missing" "nope.json" -- plan "$ok_domain" --inventory "$work/nope.json"
f=$(raw string-size.json '[{"dev":"namespace0.0","mode":"raw","size":"big","uuid":"15606a6f-9d79-4624-be77-f4b5741b8f4f","blockdev":"pmem0"}]')
plan "size is a string" "string-size.json" "namespace0.0" "size" -- plan "$ok_domain" --inventory "$f"
f=$(raw mode.json '[{"dev":"namespace0.0","mode":"turbo","size":268435456,"blockdev":"pmem0"}]')
plan "unknown mode" "mode.json" "turbo" -- plan "$ok_domain" --inventory "$f"
f=$(raw nodev.json '[{"mode":"raw","size":268435456,"blockdev":"pmem0"}]')
plan "namespace without dev" "nodev.json" "dev" -- list --inventory "$f"
f=$(raw dupuuid.json '[{"dev":"namespace0.0","mode":"raw","size":268435456,"uuid":"15606a6f-9d79-4624-be77-f4b5741b8f4f","blockdev":"pmem0"},{"dev":"namespace0.1","mode":"raw","size":268435456,"uuid":"15606a6f-9d79-4624-be77-f4b5741b8f4f","blockdev":"pmem1"}]')
plan "duplicate uuid in inventory" "dupuuid.json" "15606a6f-9d79-4624-be77-f4b5741b8f4f" -- plan "$ok_domain" --inventory "$f"

# --- domain commands never reach another host's libvirt (issue 10); the
# inventory is valid, so only the URI is refused, before any connection.
for cmd in "attach pmem-guest $uuid_dd0" "detach pmem-guest $uuid_dd0" "sync pmem-guest" "check pmem-guest"; do
  for uri in qemu+ssh://otherhost.invalid/system qemu+tcp://192.0.2.1/system qemu+ext:///system; do
    # shellcheck disable=SC2086
    plan "${cmd%% *} -c $uri" "libvirt URI '$uri'" "run nvdimmctl on that host" -- $cmd -c "$uri" --inventory "$inventory"
  done
done

# --- usage errors are exit 2, not 1
for usage in "frobnicate" "plan" "plan --no-such-option $ok_domain" "list --arch sparc"; do
  status=0
  # shellcheck disable=SC2086
  "$ctl" $usage >/dev/null 2>"$work/err" || status=$?
  if [ "$status" -eq 2 ] && [ -s "$work/err" ]; then
    passed=$((passed + 1)); echo "ok: usage '$usage' -> exit 2"
  else
    failed=$((failed + 1)); echo "FAIL: usage '$usage' -> exit $status"
  fi
done

# The good domain really is good: the refusals above are about what changed.
if "$ctl" rewrite "$ok_domain" --inventory "$inventory" >/dev/null 2>&1; then
  passed=$((passed + 1)); echo "ok: control domain is accepted"
else
  failed=$((failed + 1)); echo "FAIL: control domain refused"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
