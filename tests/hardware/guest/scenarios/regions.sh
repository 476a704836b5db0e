# tests/realhost (issue 12): a guest with several NVDIMMs (nvh.regions=N on
# the kernel command line) reports each region and its size; the host
# compares them with the plans.
. /nvh/lib.sh

want=
for word in $(cat /proc/cmdline); do
  case $word in
    nvh.regions=*) want=${word#nvh.regions=} ;;
  esac
done
[ -n "$want" ] || {
  nvh_fail "no nvh.regions=N on the kernel command line"
  exit 1
}
count_regions() { ls -d /sys/bus/nd/devices/region* 2>/dev/null | wc -l; }
nvh_wait "$want NVDIMM regions appear" 60 test "$(count_regions)" -ge "$want" || exit 1
for r in /sys/bus/nd/devices/region*; do
  nvh_wait "${r##*/} is probed" 30 test -e "$r/namespace_seed"
  nvh_fact region "${r##*/} size=$(cat "$r/size")"
done
nvh_expect_eq "regions seen" "$(count_regions)" "$want"
