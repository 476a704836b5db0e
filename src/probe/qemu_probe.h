// The QEMU launch wrapper (DESIGN.md §1 "qemu_probe"): starts an emulator
// binary paused (-S) with one NVDIMM of a planned geometry on a sparse scratch
// file, asks it over QMP what it made of that geometry, and quits it. This
// proves, per QEMU binary, that QEMU's own adjustments (the label carved off
// the end, the guest area aligned down: hw/mem/nvdimm.c
// nvdimm_prepare_memory_region) give the guest-visible size the plan expects.
//
// The child never runs as root (it drops to an unprivileged uid before exec),
// gets an empty environment but PATH and LC_ALL, no NIC, QEMU's seccomp
// sandbox where the build has it, and is killed and reaped on every path
// (timeout, QMP error, early exit); the scratch file is always removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/plan.h"
#include "util/error.h"

namespace nvh {

// A paused TCG machine answers QMP in ~0.1 s here; the bound is for a host
// under load, and it is what a hung or wrong "emulator" costs a start at most.
inline constexpr std::chrono::milliseconds kDefaultProbeTimeout{20000};

// The unprivileged identity a root caller's probe runs as ("nobody" on Debian
// and Fedora; numeric, so it needs no passwd lookup in the hook).
inline constexpr uid_t kProbeUid = 65534;
inline constexpr gid_t kProbeGid = 65534;

struct ProbeRequest {
  std::string emulator;           // absolute path of the QEMU binary (<devices><emulator>)
  std::string machine;            // -machine type ("pc", "pc-q35-7.2"); "" = the binary's default
  std::uint64_t target_size = 0;  // S: memory-backend-file size, label included
  std::uint64_t label_size = 0;   // L: nvdimm label-size
  std::uint64_t align_size = 0;   // A: memory-backend-file align; 0 = leave it out
  bool pmem = false;              // memory-backend-file pmem=on
  // The guest architecture: what the machine needs besides the NVDIMM
  // (pseries: RAM in 256 MiB steps and an nvdimm uuid; virt: a 64-bit CPU
  // and firmware, or it has no acpi-ged to plug the NVDIMM into).
  Arch arch = Arch::kX86_64;
  std::chrono::milliseconds timeout = kDefaultProbeTimeout;  // whole probe, spawn to reap
  std::string scratch_dir;  // parent of the private temp dir; "" = TMPDIR or /tmp
  // Ask QEMU for its seccomp sandbox (-sandbox on,…). A build without seccomp
  // rejects the option; the probe then runs once more without it and says so
  // in ProbeMeasurement::notes.
  bool sandbox = true;
  // Who the child runs as when the caller is root (ignored otherwise: a
  // non-root caller has nothing to drop).
  uid_t run_as_uid = kProbeUid;
  gid_t run_as_gid = kProbeGid;
};

struct ProbeMeasurement {
  std::uint64_t guest_size = 0;          // query-memory-devices: data.size of nvdimm0
  std::uint64_t label_size = 0;          // qom-get /machine/peripheral/nvdimm0 label-size
  std::uint64_t addr = 0;                // data.addr: guest-physical base of the device
  std::int64_t slot = -1;                // data.slot
  std::int64_t node = -1;                // data.node
  std::string qemu_version;              // query-version "7.2.22"
  std::string qemu_package;              // query-version "Debian 1:7.2+dfsg-7+deb12u18+b3"
  std::chrono::microseconds elapsed{0};  // spawn to reap
  // What QEMU printed on stderr (e.g. the pmem=on on a non-DAX file
  // warning) and what the probe had to work around; for logs.
  std::vector<std::string> notes;
};

// Launches `request.emulator` as described above and returns what it
// measured. Errors: kNotFound (no such binary / not executable),
// kInvalidInput (a machine type or geometry QEMU cannot even be asked about,
// or that QEMU refused: the message quotes QEMU's stderr), kSystem (spawn,
// QMP or timeout failures). Every message names the binary.
Result<ProbeMeasurement> ProbeQemu(const ProbeRequest& request);

// What libvirt will start for `device` of `domain`: the domain's emulator and
// machine type, the planned S, L, A and <pmem/>.
ProbeRequest ProbeRequestFor(const Domain& domain, const PlannedDevice& device);

// The command line ProbeQemu runs (argv[0] is the emulator), for tests and
// for the message of a failed probe. `backing_file` is the scratch file; on
// aarch64 `backing_file + ".firmware"` is the (never executed) firmware image.
std::vector<std::string> ProbeCommandLine(const ProbeRequest& request,
                                          const std::string& backing_file);

// The probe's -m size: 128 MiB, 256 MiB on pseries (hw/ppc/spapr.c
// spapr_machine_init: "Memory size … is not aligned to 256 MiB").
std::uint64_t ProbeRam(Arch arch);

// The -m maxmem the probe passes: the probe's RAM + S rounded up to 1 GiB +
// 1 GiB of headroom, so QEMU's device-memory region never is the limit
// (hw/mem/memory-device.c memory_device_check_addable).
std::uint64_t ProbeMaxMemory(std::uint64_t target_size, Arch arch = Arch::kX86_64);

}  // namespace nvh
