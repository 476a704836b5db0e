// What every nvdimmctl command shares: exit codes, the inventory options, and
// reading a domain file. Errors become messages and exit codes only here and
// in the commands, never in the core.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/hook_config.h"
#include "core/inventory.h"
#include "util/error.h"
#include "xml/domain_xml.h"

namespace nvh::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;  // invalid input, or a plan that cannot be met
inline constexpr int kExitUsage = 2;

// --inventory/--device-dir; when not given, the hook's config file decides
// (so nvdimmctl plans exactly what the hook will check), else libndctl.
struct InventoryOptions {
  std::string source;
  std::string device_dir;
  void AddTo(boost::program_options::options_description& options);
  std::unique_ptr<Inventory> Open() const;
};

// The hook's config ($NVDIMM_HOOK_CONFIG or /etc/nvdimm-hook/nvdimm-hook.conf).
Result<HookConfig> LoadConfig();

// Prints "nvdimmctl: <message>" on stderr and returns kExitRefused.
int Refuse(const Error& error);

// Reads and parses a domain file ("-" for stdin), within the size limit.
Result<DomainXml> LoadDomainXml(const std::string& path);

// Parses `args` (the words after the command) with `options` and one optional
// positional argument; throws boost::program_options::error on bad usage.
boost::program_options::variables_map ParseCommand(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options, const char* positional_name,
    int positional_count);

}  // namespace nvh::cli
