#!/bin/bash
# PID 1 of the emulated real host (issue 12), after tests/realhost/init
# switched to this machine's Debian userland (9p root, read-only, under an
# overlay whose upper layer is the ext4 disk that survives the reboot).
#
# nvh.scenario=boot1: installs the product as a package would, starts the
#   system virtlogd + libvirtd, makes namespaces with ndctl in all four modes,
#   and runs the admin workflow (realhost-steps.sh: step_boot1).
# nvh.scenario=boot2: the same machine after a reboot on the same NVDIMM
#   backing file and disk: services started again, the hook moved to the
#   classic /etc/libvirt/hooks/qemu path, the rest of the workflow.
# Reports over the serial console in tests/hardware/guest/init's format
# (NVH-RESULT, NVH-FACT, NVH-DONE); the first failed step ends the boot.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C HOME=/root TERM=dumb
umask 022
exec </dev/console >/dev/console 2>&1

# /run is empty at every boot (claims too, by design); /tmp stays the
# overlay's, so that a build or source dir under the machine's /tmp is seen.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /run/nvh /run/lock
mount -t devpts -o gid=5,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t securityfs securityfs /sys/kernel/security
# What udev (systemd-udevd's static nodes) gives every Debian host; bash's
# process substitution needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
dmesg -n 1

# src, build and tsc_khz are used by realhost-steps.sh.
scenario='' src='' build='' tsc_khz=''
# shellcheck disable=SC2034
for word in $(cat /proc/cmdline); do
  case $word in
    nvh.tsc_khz=*) tsc_khz=${word#nvh.tsc_khz=} ;;
    nvh.scenario=*) scenario=${word#nvh.scenario=} ;;
    nvh.src=*) src=${word#nvh.src=} ;;
    nvh.build=*) build=${word#nvh.build=} ;;
  esac
done

uptime_s() { cut -d' ' -f1 /proc/uptime; }

finished=
finish() {
  [[ -n $finished ]] && return
  finished=1
  local passed failed
  passed=$(grep -c '^ok' /run/nvh/results 2>/dev/null)
  failed=$(grep -c '^fail' /run/nvh/results 2>/dev/null)
  # What a shutdown would do: stop the daemons (guests keep running under a
  # real host's libvirt-guests; here none is left running on purpose).
  stop_daemons >/dev/null 2>&1
  echo "NVH-DONE passed=${passed:-0} failed=${failed:-0} uptime=$(uptime_s)"
  sync
  umount /var/log 2>/dev/null
  sync
  echo o >/proc/sysrq-trigger
  while :; do sleep 3600; done
}
trap finish EXIT

# shellcheck source=../hardware/guest/lib.sh
. "$src/tests/hardware/guest/lib.sh" || {
  echo "NVH-RESULT fail cannot source $src/tests/hardware/guest/lib.sh (nvh.src=$src)"
  exit 1
}
: >/run/nvh/results
echo "NVH-BOOT kernel=$(uname -r) scenario=$scenario uptime=$(uptime_s)"
# shellcheck source=realhost-steps.sh
. "$src/tests/realhost/realhost-steps.sh" || {
  nvh_fail "cannot source realhost-steps.sh"
  exit 1
}

case $scenario in
  boot1) step_boot1 ;;
  boot2) step_boot2 ;;
  *) nvh_fail "unknown nvh.scenario=$scenario" ;;
esac
exit 0
