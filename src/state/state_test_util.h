// Helpers shared by the state tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "state/atomic_file.h"
#include "state/owner_liveness.h"

namespace nvh::testing_state {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now; }
  std::chrono::system_clock::time_point now =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
};

// Domains not listed have no QEMU.
class FakeLiveness final : public OwnerLiveness {
 public:
  QemuState QemuOf(const std::string& domain_name) const override {
    const auto it = states.find(domain_name);
    return it == states.end() ? QemuState::kNotRunning : it->second;
  }
  std::map<std::string, QemuState> states;
};

// Every entry of `dir`, temp files included, sorted.
inline std::vector<std::string> RawEntries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::size_t CountTempFiles(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& name : RawEntries(dir))
    if (IsTempFileName(name)) ++n;
  return n;
}

}  // namespace nvh::testing_state
