# Issue 4 part 3: runs inside a VM started by a real libvirtd, whose NVDIMM
# nvdimmctl planned. The same scenario runs at every start of the domain:
#   setup   (no namespace "graw" yet): label the NVDIMM (v1.2) and create
#           namespaces in modes the host did not use (raw first, at the start
#           of the region, then fsdax), write markers and a 1 MiB pattern;
#   verify  (they exist): read everything back.
# Everything is reported as facts; tests/hardware/check_guest.py compares them
# with the plan, the other start and the backing file's bytes.
. /nvh/lib.sh

MiB=1048576

nvh_wait "nmem0 and region0 appear in the guest" 60 \
  test -e /sys/bus/nd/devices/region0 -a -e /sys/bus/nd/devices/nmem0 || exit 1
region=/sys/bus/nd/devices/region0
nvh_fact region-size "$(cat $region/size)"
nvh_fact region-start "$(cat $region/resource)"
nvh_data "ndctl-dimms-regions" ndctl list -DR -v

# Namespaces are enabled asynchronously after the region appears: wait until
# the region has a seed, then look for ours.
nvh_wait "region0 is probed" 30 test -e $region/namespace_seed
if [ -n "$(ns_field graw uuid)" ]; then
  phase=verify
else
  phase=setup
fi
nvh_fact phase "$phase"

if [ "$phase" = setup ]; then
  nvh_check "ndctl disable-region region0" ndctl disable-region region0 || exit 1
  nvh_check "ndctl init-labels -f -V 1.2 nmem0" ndctl init-labels -f -V 1.2 nmem0 || exit 1
  nvh_check "ndctl enable-region region0" ndctl enable-region region0 || exit 1
  nvh_check "ndctl create-namespace -m raw -s 128M -n graw" \
    ndctl create-namespace -r region0 -m raw -s 128M -n graw || exit 1
  nvh_check "ndctl create-namespace -m fsdax -s 128M -n gfs0" \
    ndctl create-namespace -r region0 -m fsdax -s 128M -n gfs0 || exit 1
fi

nvh_data "ndctl-list" ndctl list -N -v

raw=/dev/$(ns_field graw blockdev)
fs=/dev/$(ns_field gfs0 blockdev)
[ -b "$raw" ] || nvh_fail "raw namespace graw has no block device ($raw)"
[ -b "$fs" ] || nvh_fail "fsdax namespace gfs0 has no block device ($fs)"
for name in graw gfs0; do
  nvh_fact "ns $name" "mode=$(ns_field $name mode) uuid=$(ns_field $name uuid) raw_uuid=$(ns_field $name raw_uuid) size=$(ns_field $name size)"
  # The namespace's physical start relative to the region's: its offset in
  # the guest's NVDIMM (raw namespaces map it 1:1 to their block device).
  dev=$(ns_field $name dev)
  nvh_fact "offset $name" "$(($(cat "/sys/bus/nd/devices/$dev/resource") - $(cat $region/resource)))"
done

if [ "$phase" = setup ]; then
  printf 'NVH-GUEST-MARK graw %s\n' "$(ns_field graw uuid)" >/run/nvh/mark-raw
  printf 'NVH-GUEST-MARK gfs0 %s\n' "$(ns_field gfs0 uuid)" >/run/nvh/mark-fs
  dd if=/dev/urandom of=/run/nvh/pattern bs=$MiB count=1 2>/dev/null
  nvh_check "marker at offset 0 of $raw" dd if=/run/nvh/mark-raw of="$raw" bs=4096 count=1 conv=sync,fsync
  nvh_check "1 MiB pattern at offset 1 MiB of $raw" dd if=/run/nvh/pattern of="$raw" bs=$MiB seek=1 count=1 conv=fsync
  nvh_check "marker at offset 0 of $fs" dd if=/run/nvh/mark-fs of="$fs" bs=4096 count=1 conv=sync,fsync
fi

nvh_fact "marker graw" "$(dd if="$raw" bs=4096 count=1 2>/dev/null | head -n 1)"
nvh_fact "marker gfs0" "$(dd if="$fs" bs=4096 count=1 2>/dev/null | head -n 1)"
nvh_fact "pattern graw" "$(dd if="$raw" bs=$MiB skip=1 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)"
