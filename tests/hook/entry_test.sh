#!/bin/bash
# The hook entry (hooks/entry.cc), run as libvirt runs it (environment
# reduced to LC_ALL PATH HOME USER, XML on stdin): it needs no library beyond
# libc; the fast path never starts the full hook; everything else reaches the
# full hook with the same argv and exactly the prefix of stdin the full hook
# would have kept (it still reports "too large"); a read error or a short
# write refuses where a refusal stops the start and never allows it.
#   entry_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$2
entry=$build/nvdimm-hook-entry-uninstalled
full=$build/nvdimm-hook
for f in "$entry" "$full" "$build/nvdimm-hook-entry"; do
  [[ -x $f ]] || { echo "FAIL: $f not built" >&2; exit 1; }
done
for tool in strace readelf python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/install-deps)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
echo "this is = not a config" >"$work/broken.conf"
# shellcheck source=hook_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/hook_test_lib.sh"
# run OP XML [STDIN_REDIRECT_TARGET]: the entry as libvirt runs it, traced;
# sets rc, leaves stdout, stderr and the execve calls in $work/{out,err,exec}.
run() {
  rc=0
  env -i LC_ALL=C PATH=/usr/bin:/bin HOME=/root USER=root NVDIMM_HOOK_CONFIG="$work/broken.conf" \
    strace -f -qq -s 4096 -e trace=execve -e signal=none -o "$work/exec" \
    "$entry" vm "$1" begin - <"$2" >"$work/out" 2>"$work/err" || rc=$?
}
execs() { grep -c 'execve(' "$work/exec"; }
says() { grep -qF -- "$1" "$work/err"; }

for binary in "$entry" "$build/nvdimm-hook-entry"; do
  needed=$(readelf -d "$binary" | awk '/NEEDED/ { print $NF }' | tr -d '[]' | tr '\n' ' ')
  check "$(basename "$binary") needs no library beyond libc (NEEDED: ${needed:-none})" \
    test -z "${needed//libc.so.6 /}"
done
check "the installed entry names its full hook by absolute path ($(cat "$build/hooks/full-hook-path"))" \
  grep -qaF "$(cat "$build/hooks/full-hook-path")" "$build/nvdimm-hook-entry"

printf '<domain type="kvm"><name>vm</name><devices><disk/></devices></domain>\n' >"$work/plain.xml"
run prepare "$work/plain.xml"
check "no 'nvdimm': prepare allowed (exit $rc)" test "$rc" = 0
check "... without starting the full hook (execve calls: $(execs))" test "$(execs)" = 1
check "... nothing on stdout or stderr" test ! -s "$work/out" -a ! -s "$work/err"

cp "$src/examples/domain.xml" "$work/annotated.xml"
sed 's|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206"/>|<nvdimm:nvdimm uuid="c3ced113-e676-47b2-b173-b7f7d08b2206" label="64KiB"/>|' \
  "$src/examples/domain.xml" >"$work/bad-label.xml"
grep -q 'label="64KiB"' "$work/bad-label.xml" || { echo "FAIL: fixture not edited"; exit 1; }
run prepare "$work/bad-label.xml"
check "broken annotation: the full hook refuses (exit $rc)" test "$rc" = 1
check "... its own message on stderr" says "64 KiB"
check "... the full hook exec'd by absolute path with libvirt's argv" \
  grep -qF "execve(\"$full\", [\"$entry\", \"vm\", \"prepare\", \"begin\", \"-\"]" "$work/exec"
run started "$work/bad-label.xml"
check "'started' is not guarded: exit 0, no full hook (execve calls: $(execs))" test "$rc:$(execs)" = 0:1

# 10 MiB + 1 byte is the part the full hook keeps; it refuses what is larger.
python3 - "$work/bad-label.xml" "$work/large.xml" "$work/late.xml" <<'EOF'
import sys
limit = 10 * 1024 * 1024
xml = open(sys.argv[1]).read()
head, tail = xml.split("</domain>")
open(sys.argv[2], "w").write(head + " " * (limit + 4096) + "</domain>" + tail)
plain = "<domain><name>vm</name><description>" + " " * (limit + 1) + "nvdimm</description></domain>\n"
open(sys.argv[3], "w").write(plain)
EOF
run prepare "$work/large.xml"
check "annotated XML above 10 MiB: refused (exit $rc)" test "$rc" = 1
check "... the full hook saw exactly 10 MiB + 1 byte" \
  says "XML input is 10485761 bytes, more than the limit of 10485760 bytes"
run prepare "$work/late.xml"
check "'nvdimm' only after the kept 10 MiB + 1: allowed as the full hook would (exit $rc, execve calls: $(execs))" \
  test "$rc:$(execs)" = 0:1

# A read error: stdin is a directory (read fails with EISDIR).
mkdir "$work/dir"
run prepare "$work/dir"
check "read error at prepare: refused (exit $rc)" test "$rc" = 1
check "... saying why" says "reading the domain XML from stdin failed"
check "... without running the full hook (execve calls: $(execs))" test "$(execs)" = 1
run release "$work/dir"
check "read error at release: exit $rc (a refusal would only do harm)" test "$rc" = 0
rc=0
"$full" vm prepare begin - <"$work/dir" >"$work/out" 2>"$work/err" || rc=$?
check "the full hook alone: read error at prepare refused too (exit $rc)" test "$rc" = 1
check "... saying why" says "reading the domain XML from stdin failed"

# A short write into the memfd: RLIMIT_FSIZE below the XML size, SIGXFSZ
# ignored so that write() fails with EFBIG instead of killing the entry.
python3 - "$work/annotated.xml" "$work/padded.xml" <<'EOF'
import sys
xml = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(xml.replace("</domain>", " " * 65536 + "</domain>"))
EOF
short_write() {
  rc=0
  (trap '' XFSZ; ulimit -f 32; exec env -i LC_ALL=C PATH=/usr/bin:/bin "$entry" vm "$1" begin - \
    <"$work/padded.xml" >"$work/out" 2>"$work/err") || rc=$?
}
short_write prepare
check "short write at prepare: refused (exit $rc)" test "$rc" = 1
check "... naming the step" says "writing the domain XML to a memfd"
short_write reconnect
check "short write at reconnect: exit $rc (libvirt would kill QEMU otherwise)" test "$rc" = 0

rc=0
env -i LC_ALL=C "$entry" >"$work/out" 2>"$work/err" </dev/null || rc=$?
check "no arguments: the full hook's usage, exit $rc" test "$rc" = 2
check "... its usage line" says "usage: nvdimm-hook DOMAIN OP SUBOP EXTRA"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
