// What libvirt keeps on disk that no hook is told about, read without ever
// calling libvirt (a hook that calls back into libvirtd deadlocks it):
//
//  * snapshot metadata: <snapshot dir>/<domain name>/<snapshot name>.xml
//    (libvirt qemuDomainSnapshotWriteMetadata; system daemon
//    /var/lib/libvirt/qemu/snapshot, session daemon
//    $XDG_CONFIG_HOME/libvirt/qemu/snapshot, seen with libvirt 9.0). A
//    snapshot with memory state makes `virsh snapshot-revert` restart QEMU
//    with -loadvm, which writes the NVDIMM content of snapshot time back
//    into the backing (FACTS.md "Memory snapshots").
//  * live status: <run dir>/<domain name>.xml, a <domstatus> holding the
//    running domain's live definition (libvirt virDomainObjSave), which names
//    every nvdimm it maps, also those plugged with `virsh attach-device
//    --live`, for which no hook runs.
//
// Directories are listed and every entry is opened by the name the listing
// gave, relative to the open directory (openat, O_NOFOLLOW): no path is ever
// built from a domain name. Files are matched to a domain by the uuid inside.
// Parsed with the safe libxml2 adapter (xml/xml_safety.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace nvh {

struct SnapshotInfo {
  std::string name;         // <domainsnapshot><name>
  std::string domain_uuid;  // <domainsnapshot><domain><uuid>, lower case
  std::string domain_name;  // <domainsnapshot><domain><name>
  std::string state;        // <state>: running, paused, shutoff, disk-snapshot, …
  std::string memory;       // <memory snapshot=…>: internal, external, no ("" when absent)
  std::string file;         // where it was read, for messages
  // A revert loads this snapshot's RAM, NVDIMMs included.
  bool HasMemory() const;
};

struct LiveDomain {
  std::string uuid;  // lower case
  std::string name;
  std::vector<std::string> nvdimm_paths;  // <memory model='nvdimm'><source><path>
  std::string file;
};

// Parses one snapshot metadata file; kInvalidInput naming `origin`.
Result<SnapshotInfo> ParseSnapshotXml(std::string_view text, std::string_view origin);
// Parses one <domstatus> file of libvirt's run dir.
Result<LiveDomain> ParseStatusXml(std::string_view text, std::string_view origin);

template <typename T>
struct Scan {
  std::vector<T> found;
  // Files that could not be read or parsed (libvirt cannot load them either;
  // reported, not fatal).
  std::vector<std::string> skipped;
  // Directories that exist but cannot be listed: what is in them is unknown.
  std::vector<std::string> unreadable;
};

// Every snapshot under each dir (<dir>/*/*.xml), or only those of
// `domain_uuid` when given. A dir that does not exist holds none.
Scan<SnapshotInfo> ScanSnapshots(const std::vector<std::string>& snapshot_dirs,
                                 std::string_view domain_uuid = {});
// Every running domain of each run dir (<dir>/*.xml).
Scan<LiveDomain> ScanLiveDomains(const std::vector<std::string>& run_dirs);

// The snapshots of `domain_uuid` that carry memory state.
std::vector<SnapshotInfo> MemorySnapshotsOf(const Scan<SnapshotInfo>& scan,
                                            std::string_view domain_uuid);

}  // namespace nvh
