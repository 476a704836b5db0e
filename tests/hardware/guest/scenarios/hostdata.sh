# tests/realhost (issue 12): a guest of the emulated real host with several
# NVDIMMs (nvh.regions=N on the kernel command line). It reports every
# region's size (the host compares them with the plan), and keeps its data
# in the region of its first NVDIMM (nmem0):
#   setup   (no namespace "graw" there yet): label nmem0 (v1.2), create a raw
#           namespace at the start of the region, write a marker at offset 0
#           and a 1 MiB pattern at 1 MiB;
#   verify  (it exists): read both back.
# Nested TCG makes every ndctl run cost about a minute: ndctl only where
# there is no other way (labels, namespace creation); everything else is
# read from sysfs.
. /nvh/lib.sh

MiB=1048576
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
data_region=
for r in /sys/bus/nd/devices/region*; do
  nvh_wait "${r##*/} is probed" 30 test -e "$r/namespace_seed"
  nvh_fact region "${r##*/} size=$(cat "$r/size")"
  case $(cat "$r/mapping0") in
    nmem0,*) data_region=$r ;;
  esac
done
nvh_expect_eq "regions seen" "$(count_regions)" "$want"
[ -n "$data_region" ] || {
  nvh_fail "no region maps nmem0"
  exit 1
}
region=${data_region##*/}
nvh_fact data-region "$region"
nvh_fact region-size "$(cat "$data_region/size")"

# graw_dev: the namespace of the data region named graw, from sysfs.
graw_dev() {
  for ns in "$data_region"/namespace*; do
    [ -r "$ns/alt_name" ] && [ "$(cat "$ns/alt_name")" = graw ] && {
      echo "${ns##*/}"
      return 0
    }
  done
  return 1
}
if graw_dev >/dev/null; then
  phase=verify
else
  phase=setup
fi
nvh_fact phase "$phase"

if [ "$phase" = setup ]; then
  nvh_check "ndctl disable-region $region" ndctl disable-region "$region" || exit 1
  nvh_check "ndctl init-labels -f -V 1.2 nmem0" ndctl init-labels -f -V 1.2 nmem0 || exit 1
  nvh_check "ndctl enable-region $region" ndctl enable-region "$region" || exit 1
  nvh_check "ndctl create-namespace -m raw -s 64M -n graw" \
    ndctl create-namespace -r "$region" -m raw -s 64M -n graw || exit 1
fi

dev=$(graw_dev) || {
  nvh_fail "no namespace graw in $region"
  exit 1
}
ns=/sys/bus/nd/devices/$dev
nvh_wait "$dev has a block device" 30 sh -c "ls $ns/block/ | grep -q pmem" || exit 1
raw=/dev/$(ls "$ns/block/")
[ -b "$raw" ] || nvh_fail "raw namespace graw has no block device ($raw)"
uuid=$(cat "$ns/uuid")
nvh_fact "ns graw" "mode=raw uuid=$uuid size=$(cat "$ns/size") dev=$dev"
nvh_fact "offset graw" "$(($(cat "$ns/resource") - $(cat "$data_region/resource")))"

if [ "$phase" = setup ]; then
  printf 'NVH-GUEST-MARK graw %s\n' "$uuid" >/run/nvh/mark-raw
  dd if=/dev/urandom of=/run/nvh/pattern bs=$MiB count=1 2>/dev/null
  nvh_check "marker at offset 0 of $raw" dd if=/run/nvh/mark-raw of="$raw" bs=4096 count=1 conv=sync,fsync
  nvh_check "1 MiB pattern at offset 1 MiB of $raw" dd if=/run/nvh/pattern of="$raw" bs=$MiB seek=1 count=1 conv=fsync
fi
nvh_fact "marker graw" "$(dd if="$raw" bs=4096 count=1 2>/dev/null | head -n 1)"
nvh_fact "pattern graw" "$(dd if="$raw" bs=$MiB skip=1 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)"
