# Issue 4 part 2, second boot of the emulated NVDIMM host with the same
# backing file: nothing is configured; the namespaces, their identities, the
# plans and the markers written by host-create.sh must all be back.
. /nvh/lib.sh
. /nvh/scenarios/host-common.inc

nvh_wait_region || exit 1
# The namespaces come up asynchronously after the region: wait for the last
# created one's device nodes.
all_devices() {
  [ "$(ls -d /sys/bus/dax/devices/dax* /sys/class/block/pmem* 2>/dev/null | wc -l)" -ge \
    "$(echo "$NVH_NAMESPACES" | wc -w)" ]
}
nvh_wait "every namespace's device is back" 60 all_devices

nvh_data "ndctl-list" ndctl list -N -v -c
nvh_data "nvdimmctl-list" nvdimmctl list --json
nvh_data "devices" nvh_devices

for name in $(block_names); do
  dev=/dev/$(ns_field "$name" blockdev)
  want="NVH-MARK $name $(ns_field "$name" uuid)"
  got=$(dd if="$dev" bs=4096 count=1 2>/dev/null | head -n 1)
  nvh_expect_eq "marker at offset 0 of $dev ($name) after the reboot" "$got" "$want"
done

plan_all
for name in $(devdax_names); do
  nested_planned "$name"
done
nvh_data "dmesg" dmesg
