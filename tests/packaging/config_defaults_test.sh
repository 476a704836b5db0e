#!/usr/bin/env bash
# The shipped config (config/nvdimm-hook.conf) and the tmpfiles.d entry agree
# with the parser (src/config/hook_config.{h,cc}): every key is there,
# commented out, with the built-in default; the file parses as shipped and,
# with every key uncommented, still gives exactly the defaults; the
# tmpfiles.d and SELinux paths are the default run and state dirs.
# Uses the real parser: a tiny program linked against the built core library.
# Usage: config_defaults_test.sh BUILD_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
build=$1
src=$2
need g++
need pkg-config
conf=$src/config/nvdimm-hook.conf
lib=$build/libnvdimmhook.a
[ -f "$lib" ] || die "$lib not built"

keys=$(grep -o '"[a-z-]*", po::value' "$src/src/config/hook_config.cc" | cut -d'"' -f2)
[ -n "$keys" ] || die "no config keys found in src/config/hook_config.cc"
for key in $keys; do
  check "config lists '$key' (commented out)" grep -Eq "^#$key = " "$conf"
done
check "no key is set in the shipped config" bash -c '! grep -Ev "^[[:space:]]*(#|$)" "$1"' _ "$conf"
check "no unknown key in the shipped config" \
  bash -c 'for k in $(sed -n "s/^#\([a-z-]*\) = .*/\1/p" "$1"); do grep -qx "$k" <<<"$2" || exit 1; done' _ "$conf" "$keys"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/dump.cc" <<'CC'
// Prints the HookConfig a file gives, one "key = value" per line.
#include <iostream>
#include "config/hook_config.h"
int main(int argc, char** argv) {
  auto c = argc > 1 ? nvh::LoadHookConfigFile(argv[1]) : nvh::Result<nvh::HookConfig>(nvh::HookConfig{});
  if (!c) { std::cerr << c.error().message << "\n"; return 1; }
  std::cout << "inventory = " << c->inventory << "\n"
            << "device-dir = " << c->device_dir << "\n"
            << "run-dir = " << c->run_dir << "\n"
            << "state-dir = " << c->state_dir << "\n";
  for (const auto& d : c->libvirt_run_dirs) std::cout << "libvirt-run-dir = " << d << "\n";
  for (const auto& d : c->libvirt_snapshot_dirs) std::cout << "libvirt-snapshot-dir = " << d << "\n";
  std::cout << "claim-grace = " << c->claim_grace.count() << "\n"
            << "probe = " << (c->probe == nvh::ProbeMode::kAuto ? "auto" : "off") << "\n"
            << "probe-timeout = " << c->probe_timeout.count() << "\n";
}
CC
# shellcheck disable=SC2046
g++ -std=c++23 -I"$src/src" $(pkg-config --cflags libxml-2.0) "$tmp/dump.cc" "$lib" \
    -lboost_program_options $(pkg-config --libs libxml-2.0 libndctl libdaxctl) -o "$tmp/dump" ||
  die "cannot build the config dump program against $lib"

"$tmp/dump" >"$tmp/defaults"
echo "== built-in defaults"; cat "$tmp/defaults"
check "shipped config parses" "$tmp/dump" "$conf"
"$tmp/dump" "$conf" >"$tmp/shipped" 2>&1 || true
check "shipped config gives the defaults" cmp -s "$tmp/defaults" "$tmp/shipped"
sed -E 's/^#([a-z-]+ = )/\1/' "$conf" >"$tmp/uncommented.conf"
echo "== uncommented"; grep -Ev '^(#|$)' "$tmp/uncommented.conf"
"$tmp/dump" "$tmp/uncommented.conf" >"$tmp/uncommented" 2>&1 || true
check "every key uncommented parses and gives exactly the defaults" \
  cmp -s "$tmp/defaults" "$tmp/uncommented"
cat "$tmp/uncommented"
check "the documented defaults are the built-in ones" \
  cmp -s <(sort "$tmp/defaults") <(grep -Ev '^(#|$)' "$tmp/uncommented.conf" | sort)

run_dir=$(sed -n 's/^run-dir = //p' "$tmp/defaults")
state_dir=$(sed -n 's/^state-dir = //p' "$tmp/defaults")
tmpfiles=$src/packaging/nvdimm-hook.tmpfiles
check "tmpfiles.d creates the default run dir $run_dir 0700 root" \
  grep -Eq "^d[[:space:]]+$run_dir[[:space:]]+0700[[:space:]]+root[[:space:]]+root" "$tmpfiles"
check "tmpfiles.d creates the default state dir $state_dir 0700 root" \
  grep -Eq "^d[[:space:]]+$state_dir[[:space:]]+0700[[:space:]]+root[[:space:]]+root" "$tmpfiles"
check "cmake installs the default state dir" \
  grep -q "NVDIMMHOOK_STATE_DIR \"$state_dir\"" "$src/cmake/Install.cmake"
check "SELinux labels the default run dir" grep -q "^$run_dir(" "$src/selinux/nvdimm_hook.fc"
check "SELinux labels the default state dir" grep -q "^$state_dir(" "$src/selinux/nvdimm_hook.fc"
config_path=$(sed -n 's/.*kDefaultConfigPath\[\] = "\([^"]*\)".*/\1/p' "$src/src/config/hook_config.h")
check "cmake installs the config where the binaries read it ($config_path)" \
  test "$(dirname "$config_path")" = "$(sed -n 's/^set(NVDIMMHOOK_CONFIG_DIR "\([^"]*\)").*/\1/p' "$src/cmake/Install.cmake")"
check "SELinux labels the config dir" grep -q "^$(dirname "$config_path")(" "$src/selinux/nvdimm_hook.fc"
finish
