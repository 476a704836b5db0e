#include "config/hook_config.h"

#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace nvh {
namespace {

// Boost.Program_options 1.74 builds its error text by replacing placeholders
// such as "%value%" with the offending token until none is left
// (error_with_option_name::substitute_placeholders): a token that itself
// holds "%value%" never ends, and the hook would hang every start (found by
// tests/fuzz config_fuzz). No key takes a '%', so refuse it up front.
Result<void> RefusePlaceholders(const std::string& text, const std::string& path) {
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::string content = line.substr(0, line.find('#'));
    if (content.find('%') != std::string::npos) {
      return Fail(ErrorKind::kInvalidInput, path + ": line " + std::to_string(number) +
                                                ": '%' is not allowed in a key or value");
    }
  }
  return {};
}

Result<HookConfig> Parse(std::istream& raw, const std::string& path) {
  const std::string text{std::istreambuf_iterator<char>(raw), std::istreambuf_iterator<char>()};
  if (auto checked = RefusePlaceholders(text, path); !checked) {
    return std::unexpected(checked.error());
  }
  std::istringstream in(text);
  HookConfig config;
  config.source = path;
  std::string probe = "auto";
  long long grace = config.claim_grace.count();
  long long probe_timeout = config.probe_timeout.count();
  std::vector<std::string> run_dirs;
  std::vector<std::string> snapshot_dirs;
  po::options_description options;
  options.add_options()("inventory", po::value(&config.inventory))(
      "device-dir", po::value(&config.device_dir))("run-dir", po::value(&config.run_dir))(
      "state-dir", po::value(&config.state_dir))(
      "libvirt-run-dir", po::value(&run_dirs)->composing())("claim-grace", po::value(&grace))(
      "probe", po::value(&probe))("probe-timeout", po::value(&probe_timeout));
  options.add_options()("libvirt-snapshot-dir", po::value(&snapshot_dirs)->composing());
  try {
    po::variables_map vm;
    po::store(po::parse_config_file(in, options, /*allow_unregistered=*/false), vm);
    po::notify(vm);
  } catch (const po::error& error) {
    return Fail(ErrorKind::kInvalidInput, path + ": " + error.what());
  }
  if (!run_dirs.empty()) config.libvirt_run_dirs = run_dirs;
  if (!snapshot_dirs.empty()) config.libvirt_snapshot_dirs = snapshot_dirs;
  if (grace < 0) {
    return Fail(ErrorKind::kInvalidInput,
                path + ": claim-grace " + std::to_string(grace) + " is negative");
  }
  config.claim_grace = std::chrono::seconds(grace);
  if (probe_timeout <= 0 || probe_timeout > 3600) {
    return Fail(ErrorKind::kInvalidInput, path + ": probe-timeout " +
                                              std::to_string(probe_timeout) +
                                              " is not between 1 and 3600 seconds");
  }
  config.probe_timeout = std::chrono::seconds(probe_timeout);
  if (probe == "auto") {
    config.probe = ProbeMode::kAuto;
  } else if (probe == "off") {
    config.probe = ProbeMode::kOff;
  } else {
    return Fail(ErrorKind::kInvalidInput, path + ": probe '" + probe + "' is not auto or off");
  }
  std::vector<const std::string*> dirs{&config.run_dir, &config.state_dir};
  for (const std::string& dir : config.libvirt_snapshot_dirs) dirs.push_back(&dir);
  for (const std::string* dir : dirs) {
    if (dir->empty() || dir->front() != '/') {
      return Fail(ErrorKind::kInvalidInput, path + ": '" + *dir + "' is not an absolute path");
    }
  }
  return config;
}

}  // namespace

Result<HookConfig> LoadHookConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorKind::kNotFound, path + ": cannot open the config file");
  return Parse(in, path);
}

Result<HookConfig> LoadHookConfig() {
  if (const char* path = std::getenv(kConfigEnvironmentVariable); path && *path) {
    return LoadHookConfigFile(path);
  }
  std::ifstream in(kDefaultConfigPath);
  if (!in) return HookConfig{};
  return Parse(in, kDefaultConfigPath);
}

}  // namespace nvh
