// The layout of each domain's NVDIMMs at its last successful start
// (DESIGN.md §5). A guest's persistent data sits at fixed offsets of the
// backing namespace; if the namespace or the computed layout changes, the
// data or the labels move under the guest. The record lets `prepare` notice
// that and `nvdimmctl sync` say what it means before the admin accepts it.
//
// Files: <state_dir>/layouts/<domain uuid>.json (lower-case uuid), written
// atomically (state/atomic_file.h), 0600 in 0700 directories; writers
// serialise on an flock of <state_dir>/layouts.lock so that one may clean up
// the temp files of a writer that died. Format:
//   {"version":1,"domain_uuid":…,"domain_name":…,"recorded":UNIX_SECONDS,
//    "devices":[{"key","uuid","raw_uuid","dev","mode","size","align","path",
//                "target_size","label_size","align_size","guest_size","pmem",
//                "node"}]}
// Sizes in bytes. The domain name is data only, never part of a path.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/host_namespace.h"
#include "core/plan.h"
#include "core/sizing.h"
#include "util/error.h"

namespace nvh {

struct LayoutDevice {
  // The namespace as the inventory reported it.
  std::string key;       // HostNamespace::IdentityKey()
  std::string uuid;      // may be empty (label-less)
  std::string raw_uuid;  // may be empty
  std::string dev;       // "namespace0.0"
  NamespaceMode mode = NamespaceMode::kRaw;
  std::uint64_t size = 0;   // backing size D
  std::uint64_t align = 0;  // device alignment, 0 when none
  std::string path;         // device node handed to QEMU
  // What was computed for it.
  Layout layout;
  int node = 0;  // guest NUMA node

  bool operator==(const LayoutDevice&) const = default;
};

struct LayoutRecord {
  std::string domain_uuid;
  std::string domain_name;
  std::chrono::system_clock::time_point recorded;  // whole seconds
  std::vector<LayoutDevice> devices;               // plan order
};

LayoutRecord RecordFromPlan(
    const Plan& plan, std::string_view domain_uuid, std::string_view domain_name,
    std::chrono::system_clock::time_point recorded = std::chrono::system_clock::now());

// One plain sentence per change, saying what happens to the guest's data;
// empty when nothing that matters changed (the times and the domain name do
// not matter). Devices are paired by namespace key, then ndctl name, then
// path, so a namespace re-created under the same name is reported as
// reconfigured rather than as one removed and one added.
std::vector<std::string> CompareLayouts(const LayoutRecord& old_record, const LayoutRecord& now);

// Only the changes that move or destroy the guest's data: a namespace
// re-created or reconfigured, a target/label/alignsize/guest size that is not
// the one the guest ran with. Renames, a new guest node or <pmem/> are not.
std::vector<std::string> DataMoves(const LayoutRecord& old_record, const LayoutRecord& now);

// What the guest sees when its layout changes from `old_layout` to
// `new_layout` (guest offset 0 is backing offset 0 in both): where its data
// ends, where its label area moves.
std::string DescribeLayoutMove(const Layout& old_layout, const Layout& new_layout);

// The record's layouts, as the planner takes them (PlanOptions::recorded).
std::vector<RecordedLayout> RecordedLayouts(const LayoutRecord& record);

nlohmann::ordered_json LayoutRecordToJson(const LayoutRecord& record);
// kInvalidInput naming the first field that is missing or wrong.
Result<LayoutRecord> LayoutRecordFromJson(std::string_view text);

// A file of the layouts dir as `nvdimmctl status` shows it.
struct LayoutEntry {
  std::string domain_uuid;             // from the file name
  std::optional<LayoutRecord> record;  // nullopt when the file does not parse
  std::string problem;                 // why it does not
};

class LayoutStore {
 public:
  explicit LayoutStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // Replaces the record of `domain_uuid`; record.domain_uuid must be empty
  // (it is filled in) or the same uuid.
  Result<void> Save(std::string_view domain_uuid, const LayoutRecord& record) const;
  // nullopt when the domain has no record (or the state dir does not exist:
  // reading creates nothing).
  Result<std::optional<LayoutRecord>> Load(std::string_view domain_uuid) const;
  // false when there was none.
  Result<bool> Remove(std::string_view domain_uuid) const;
  Result<std::vector<LayoutEntry>> List() const;

  const std::string& state_dir() const { return state_dir_; }

 private:
  std::string state_dir_;
};

}  // namespace nvh
