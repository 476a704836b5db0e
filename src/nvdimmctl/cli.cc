#include "nvdimmctl/cli.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ndctl/inventory_source.h"

namespace po = boost::program_options;

namespace nvh::cli {

void InventoryOptions::AddTo(po::options_description& options) {
  options.add_options()("inventory", po::value(&source),
                        "host namespaces: 'libndctl' (this host) or a file of `ndctl list -N -v` "
                        "JSON (default: the hook's config, else libndctl)")(
      "device-dir", po::value(&device_dir),
      "directory holding the namespaces' device nodes (default /dev)");
}

std::unique_ptr<Inventory> InventoryOptions::Open() const {
  std::string chosen_source = source;
  std::string chosen_dir = device_dir;
  if (chosen_source.empty()) {
    auto config = LoadConfig();
    chosen_source = config ? config->inventory : std::string(kLiveInventory);
    if (chosen_dir.empty() && config) chosen_dir = config->device_dir;
  }
  return OpenInventory(chosen_source, chosen_dir.empty() ? "/dev" : chosen_dir);
}

Result<HookConfig> LoadConfig() {
  return LoadHookConfig();
}

int Refuse(const Error& error) {
  std::cerr << "nvdimmctl: " << error.message << "\n";
  return kExitRefused;
}

Result<DomainXml> LoadDomainXml(const std::string& path) {
  std::string text;
  if (path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    text = buffer.str();
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) return Fail(ErrorKind::kNotFound, path + ": cannot open the domain file");
    text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (file.bad()) return Fail(ErrorKind::kSystem, path + ": read error");
  }
  return DomainXml::Parse(text, path == "-" ? "stdin" : path);
}

po::variables_map ParseCommand(const std::vector<std::string>& args,
                               const po::options_description& options, const char* positional_name,
                               int positional_count) {
  po::positional_options_description positional;
  if (positional_name != nullptr) positional.add(positional_name, positional_count);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  po::notify(vm);
  return vm;
}

}  // namespace nvh::cli
