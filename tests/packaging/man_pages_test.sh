#!/usr/bin/env bash
# nvdimmctl(8) and nvdimm-hook(8) render without warnings (groff -ww, and
# man -l as a user would read them) and say what the issue asks: every
# libvirt operation, every nvdimmctl command (those `nvdimmctl --help` lists
# too), exit codes, the annotation, the files, every config key, and the
# SIGHUP reload.
# Usage: man_pages_test.sh BUILD_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
build=$1
src=$2
need groff groff-base
need man man-db
need col bsdextrautils
hook=$src/man/nvdimm-hook.8
ctl=$src/man/nvdimmctl.8

for page in "$hook" "$ctl"; do
  name=$(basename "$page")
  warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  check "$name: groff -ww reports nothing" test -z "$warnings"
  [ -z "$warnings" ] || echo "$warnings" >&2
  errs=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  check "$name: man -l renders without warnings" test -z "$errs"
  [ -z "$errs" ] || echo "$errs" >&2
  text=$(MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null | col -bx)
  check "$name: renders to text" test "$(wc -l <<<"$text")" -gt 50
  for section in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" FILES "SEE ALSO"; do
    check "$name: section $section" grep -q "^$section\$" <<<"$text"
  done
  wide=$(awk 'length > 80' <<<"$text")
  check "$name: fits 80 columns" test -z "$wide"
  eval "text_${name//[.-]/_}=\$text"
done
hook_text=$text_nvdimm_hook_8
ctl_text=$text_nvdimmctl_8

# nvdimm-hook(8): every op, exit codes, annotation, files, SIGHUP
for op in "prepare begin" "start begin" "started begin" "migrate begin" "restore begin" \
          "reconnect begin" "stopped end" "release end"; do
  check "nvdimm-hook.8: operation '$op'" grep -q "$op" <<<"$hook_text"
done
check "nvdimm-hook.8: exit 0 allow / 1 refuse" \
  bash -c 'grep -Eq "^ +0 +Allowed" <<<"$1" && grep -Eq "^ +1 +Refused" <<<"$1"' _ "$hook_text"
check "nvdimm-hook.8: annotation namespace and selectors" \
  bash -c 'grep -q "urn:nvdimm-hook:1" <<<"$1" && grep -q "uuid=UUID" <<<"$1" &&
           grep -q "namespace=NAME" <<<"$1" && grep -q "path=DEVICE" <<<"$1" &&
           grep -q "node=N" <<<"$1" && grep -q "label=SIZE" <<<"$1"' _ "$hook_text"
for f in /etc/libvirt/hooks/qemu.d/50-nvdimm-hook /usr/libexec/nvdimm-hook/nvdimm-hook \
         /etc/nvdimm-hook/nvdimm-hook.conf /run/nvdimm-hook /var/lib/nvdimm-hook; do
  check "nvdimm-hook.8: file $f" grep -q "$f" <<<"$hook_text"
done
check "nvdimm-hook.8: reload with SIGHUP, not restart" \
  bash -c 'grep -q "SIGHUP" <<<"$1" && grep -q "kill --kill-whom=main --signal=HUP libvirtd.service" <<<"$1" &&
           grep -q "kill --kill-whom=main --signal=HUP virtqemud.service" <<<"$1" && grep -q "do not restart it" <<<"$1"' _ "$hook_text"
# every config key the parser knows (src/config/hook_config.cc) is documented
keys=$(grep -o '"[a-z-]*", po::value' "$src/src/config/hook_config.cc" | cut -d'"' -f2)
[ -n "$keys" ] || die "no config keys found in src/config/hook_config.cc"
for key in $keys; do
  check "nvdimm-hook.8: config key $key" grep -Eq "^ +$key = " <<<"$hook_text"
done

# nvdimmctl(8): every command, options, exit codes
for cmd in list plan rewrite probe attach detach sync check status; do
  check "nvdimmctl.8: command $cmd (SYNOPSIS and COMMANDS)" \
    bash -c 'grep -Eq "^ +nvdimmctl $2( |\$)" <<<"$1" && grep -Eq "^ {7}$2( |\$)" <<<"$1"' _ "$ctl_text" "$cmd"
done
[ -x "$build/nvdimmctl" ] || die "$build/nvdimmctl not built"
help_cmds=$("$build/nvdimmctl" --help | awk '/^  [a-z]+ /{print $1}')
[ -n "$help_cmds" ] || die "nvdimmctl --help lists no commands"
for cmd in $help_cmds; do
  check "nvdimmctl.8 documents '$cmd' (from nvdimmctl --help)" grep -Eq "^ {7}$cmd( |\$)" <<<"$ctl_text"
done
for opt in --json --arch --inventory --device-dir "-c URI" --node --accept-layout-change; do
  check "nvdimmctl.8: option $opt" grep -q -- "$opt" <<<"$ctl_text"
done
check "nvdimmctl.8: exit 0 / 1 / 2" \
  bash -c 'grep -Eq "^ +0 +Done" <<<"$1" && grep -Eq "^ +1 +Refused" <<<"$1" &&
           grep -Eq "^ +2 +Usage" <<<"$1"' _ "$ctl_text"
check "nvdimmctl.8: points to SIGHUP reload" grep -q SIGHUP <<<"$ctl_text"
finish
