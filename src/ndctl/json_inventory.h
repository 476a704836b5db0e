// The inventory as a saved `ndctl list` output (DESIGN.md §6): the backend the
// libvirt tests use, pointed at regular files that stand in for device nodes,
// and a way to plan against a host's namespaces on another machine.
#pragma once

#include <cstdint>
#include <string>

#include "core/inventory.h"

namespace nvh {

class JsonInventory : public Inventory {
 public:
  // ndctl output is a few KiB per namespace; anything this big is not one.
  static constexpr std::uint64_t kMaxFileSize = 16ull << 20;

  // `device_dir` replaces /dev in every device path, so a real ndctl output
  // can name regular files in a test directory.
  explicit JsonInventory(std::string path, std::string device_dir = "/dev");

  // Reads the file on every call. Accepts what `ndctl list` prints with -N and
  // any of -B/-R/-D/-v/-i/-c: one namespace object or an array of them, region
  // or bus objects holding "namespaces"/"regions", or the {"regions": …} /
  // {"namespaces": …} object ndctl prints when it lists several kinds. An empty
  // file is a host without namespaces (ndctl then prints nothing). Sizes must
  // be plain numbers (no -u). Every error is kInvalidInput and names the file
  // and the namespace.
  Result<HostNamespaces> List() override;

 private:
  std::string path_;
  std::string device_dir_;
};

}  // namespace nvh
