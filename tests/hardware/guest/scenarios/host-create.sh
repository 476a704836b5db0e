# Issue 4 part 2, first boot of the emulated NVDIMM host: label the DIMM (v1.2),
# partition its one region into namespaces of every mode, record what ndctl,
# nvdimmctl and sysfs report, plan an annotated domain per namespace, and run
# QEMU inside this host with each planned device (and with devdax sizes one
# alignment step off). tests/hardware/check_host.py judges the records.
. /nvh/lib.sh
. /nvh/scenarios/host-common.inc

nvh_fact namespaces "$NVH_NAMESPACES"
nvh_wait_region || exit 1
nvh_data "ndctl-before" ndctl list -RDN -v

nvh_check "ndctl disable-region region0" ndctl disable-region region0 || exit 1
nvh_check "ndctl init-labels -f -V 1.2 nmem0" ndctl init-labels -f -V 1.2 nmem0 || exit 1
nvh_check "ndctl enable-region region0" ndctl enable-region region0 || exit 1

for entry in $NVH_NAMESPACES; do
  IFS=: read -r name mode size align _ <<EOT
$entry
EOT
  set -- ndctl create-namespace -r region0 -m "$mode" -s "$size" -n "$name"
  [ "$align" = - ] || set -- "$@" -a "$align"
  start=$(nvh_ms)
  if "$@" >"/run/nvh/create-$name.json" 2>"/run/nvh/create-$name.err"; then
    nvh_ok "$* ($(($(nvh_ms) - start)) ms)"
  else
    nvh_fail "$*: $(cat "/run/nvh/create-$name.err")"
  fi
  nvh_fact "create-ms $name $(($(nvh_ms) - start))"
done

nvh_data "ndctl-list" ndctl list -N -v -c
nvh_data "nvdimmctl-list" nvdimmctl list --json
nvh_data "devices" nvh_devices
nvh_data "iomem" grep -iE 'persistent|namespace|dax|pfn|btt' /proc/iomem

# Markers at offset 0 of the block-device namespaces, read back after the
# reboot (and after the nested QEMU runs below, which must not touch them).
for name in $(block_names); do
  dev=/dev/$(ns_field "$name" blockdev)
  printf 'NVH-MARK %s %s\n' "$name" "$(ns_field "$name" uuid)" >/run/nvh/mark
  if dd if=/run/nvh/mark of="$dev" bs=4096 count=1 conv=sync,fsync 2>/run/nvh/dd.err; then
    nvh_ok "marker written to $dev ($name)"
  else
    nvh_fail "writing a marker to $dev ($name): $(cat /run/nvh/dd.err)"
  fi
done

plan_all

# Nested QEMU: every planned device (raw0 also with libvirt's prealloc=on,
# to measure it), then devdax variants.
for entry in $NVH_NAMESPACES; do
  name=${entry%%:*}
  nested_planned "$name"
done
nested_planned raw0 prealloc

M=1048576
for name in $(devdax_names); do
  f=/run/nvh/plan-$name.json
  path=$(nvh_json_field path <"$f")
  S=$(nvh_json_field target_size <"$f")
  L=$(nvh_json_field label_size <"$f")
  A=$(nvh_json_field align_size <"$f")
  Adev=$(nvh_json_field device_align <"$f")
  D=$(nvh_json_field device_size <"$f")
  if [ -z "$S" ] || [ -z "$Adev" ]; then
    nvh_fail "no plan for $name: no nested QEMU variants"
    continue
  fi
  # One step of libvirt's 2 MiB grid below the plan (not an Adev multiple
  # when Adev > 2 MiB), one page below it, one device alignment above it.
  nested "$name" minus-2m "$path" $((S - 2 * M)) "$A" "$L" ,pmem=on
  nested "$name" minus-4k "$path" $((S - 4096)) "$A" "$L" ,pmem=on
  nested "$name" plus-adev "$path" $((S + Adev)) "$A" "$L" ,pmem=on
  # The whole device, whatever the plan says.
  nested "$name" whole-device "$path" "$D" "$A" "$L" ,pmem=on
  # A backend alignment below the device alignment.
  [ "$Adev" -gt $((2 * M)) ] && nested "$name" align-2m "$path" "$S" $((2 * M)) "$L" ,pmem=on
done

nvh_data "dmesg" dmesg
