#include "nvdimmctl/cli.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ndctl/inventory_source.h"

namespace po = boost::program_options;

namespace nvh::cli {

void InventoryOptions::AddTo(po::options_description& options) {
  options.add_options()(
      "inventory", po::value(&source)->default_value(source),
      "host namespaces: 'libndctl' (this host) or a file of `ndctl list -N -v` JSON")(
      "device-dir", po::value(&device_dir)->default_value(device_dir),
      "directory holding the namespaces' device nodes (for --inventory FILE)");
}

std::unique_ptr<Inventory> InventoryOptions::Open() const {
  return OpenInventory(source, device_dir);
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
