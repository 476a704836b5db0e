// nvdimmctl probe: launches a QEMU binary paused with the planned NVDIMM
// geometry and prints what it measured (issue 5; the hook runs the same check
// at `prepare`). Always probes afresh unless --state-dir names a probe cache.
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/plan.h"
#include "core/sizing.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "probe/layout_check.h"
#include "util/bytes.h"

namespace po = boost::program_options;

namespace nvh::cli {
namespace {

using Json = nlohmann::json;

constexpr char kDefaultEmulator[] = "/usr/bin/qemu-system-x86_64";

Result<std::uint64_t> SizeOption(const po::variables_map& vm, const char* name,
                                 std::uint64_t fallback) {
  if (!vm.count(name)) return fallback;
  auto size = ParseSize(vm[name].as<std::string>());
  if (!size) return std::unexpected(WithContext(size.error(), std::string("--") + name + ": "));
  return size;
}

Json CheckToJson(const DeviceLayoutCheck& c) {
  return {
      {"device", c.device},
      {"target_size", c.request.target_size},
      {"label_size", c.request.label_size},
      {"align_size", c.request.align_size},
      {"pmem", c.request.pmem},
      {"expected", {{"guest_size", c.expected.guest_size}, {"label_size", c.expected.label_size}}},
      {"measured",
       {{"guest_size", c.measured.guest_size},
        {"label_size", c.measured.label_size},
        {"addr", c.measured.addr},
        {"slot", c.measured.slot},
        {"node", c.measured.node}}},
      {"from_cache", c.from_cache},
      {"probe_ms", c.from_cache ? 0.0 : static_cast<double>(c.measured.elapsed.count()) / 1000.0},
      {"matches_plan", c.matches()}};
}

void PrintText(const std::vector<DeviceLayoutCheck>& checks) {
  for (const DeviceLayoutCheck& c : checks) {
    const ProbeRequest& r = c.request;
    std::cout << "QEMU " << r.emulator << " " << c.measured.qemu_version << " ("
              << c.measured.qemu_package << "), machine "
              << (r.machine.empty() ? std::string("default") : r.machine) << "\n"
              << "  " << (c.device.empty() ? std::string("geometry") : c.device) << ": target "
              << FormatSize(r.target_size) << "  label " << FormatSize(r.label_size)
              << "  alignsize " << (r.align_size ? FormatSize(r.align_size) : "none")
              << (r.pmem ? "  pmem" : "") << "\n"
              << "    measured: guest " << FormatSize(c.measured.guest_size) << " ("
              << c.measured.guest_size << ")  label " << FormatSize(c.measured.label_size) << " ("
              << c.measured.label_size << ")  slot " << c.measured.slot << "  "
              << (c.from_cache
                      ? std::string("[cached]")
                      : "[probed in " + std::to_string(c.measured.elapsed.count() / 1000) + " ms]")
              << "\n"
              << "    plan:     guest " << FormatSize(c.expected.guest_size) << " ("
              << c.expected.guest_size << ")  label " << FormatSize(c.expected.label_size) << " ("
              << c.expected.label_size << ")  " << (c.matches() ? "matches" : "MISMATCH") << "\n";
  }
}

}  // namespace

int RunProbe(const std::vector<std::string>& args) {
  InventoryOptions inventory;
  std::string emulator;
  std::string machine;
  std::string state_dir;
  long timeout_ms = kDefaultProbeTimeout.count();
  po::options_description options(
      "nvdimmctl probe [DOMAIN.xml | --target-size SIZE [--label-size L] [--align-size A]] "
      "[options]");
  options.add_options()("json", "print the measurements as JSON (sizes in bytes)")(
      "domain", po::value<std::string>(), "domain XML file, '-' for stdin")(
      "emulator", po::value(&emulator),
      "QEMU binary (default: the domain's <emulator>, else /usr/bin/qemu-system-x86_64)")(
      "machine", po::value(&machine),
      "machine type (default: the domain's, else the binary's default)")(
      "target-size", po::value<std::string>(), "without a domain: target size S (label included)")(
      "label-size", po::value<std::string>(), "without a domain: label size (default 128KiB)")(
      "align-size", po::value<std::string>(), "without a domain: alignsize (default 2MiB)")(
      "pmem", "without a domain: pmem=on")(
      "expect-guest-size", po::value<std::string>(),
      "without a domain: the guest size the plan expects (default: alignDown(S - L, A))")(
      "timeout", po::value(&timeout_ms)->default_value(timeout_ms), "per probe, milliseconds")(
      "state-dir", po::value(&state_dir),
      "use and update the probe cache in this directory, as the hook does (default: no cache)");
  inventory.AddTo(options);
  const auto vm = ParseCommand(args, options, "domain", 1);
  const bool geometry_given = vm.count("target-size") || vm.count("label-size") ||
                              vm.count("align-size") || vm.count("pmem") ||
                              vm.count("expect-guest-size");
  if (vm.count("domain") && geometry_given) {
    throw po::error("give either DOMAIN.xml or --target-size/--label-size/--align-size, not both");
  }
  if (!vm.count("domain") && !vm.count("target-size")) {
    throw po::error("a DOMAIN.xml argument or --target-size is required");
  }
  if (timeout_ms <= 0) throw po::error("--timeout must be positive");

  LayoutCheckOptions check_options;
  check_options.state_dir = state_dir;
  check_options.emulator = emulator;
  check_options.machine = machine;
  check_options.timeout = std::chrono::milliseconds(timeout_ms);
  std::vector<std::string> warnings;
  std::vector<DeviceLayoutCheck> checks;

  if (vm.count("domain")) {
    auto xml = LoadDomainXml(vm["domain"].as<std::string>());
    if (!xml) return Refuse(xml.error());
    auto domain = xml->Read();
    if (!domain) return Refuse(domain.error());
    auto namespaces = inventory.Open()->List();
    if (!namespaces) return Refuse(namespaces.error());
    auto plan = MakePlan(*domain, *namespaces);
    if (!plan) return Refuse(plan.error());
    auto report = MeasurePlanLayout(*domain, *plan, check_options, warnings);
    for (const std::string& w : warnings) std::cerr << "note: " << w << "\n";
    if (!report) return Refuse(report.error());
    checks = std::move(report->devices);
    if (checks.empty() && !vm.count("json")) {
      std::cout << "domain " << domain->name << ": no NVDIMM devices planned, nothing to probe\n";
    }
  } else {
    auto target = SizeOption(vm, "target-size", 0);
    auto label = SizeOption(vm, "label-size", kMinLabelSize);
    auto align = SizeOption(vm, "align-size", 2 * MiB);
    if (!target) throw po::error(target.error().message);
    if (!label) throw po::error(label.error().message);
    if (!align) throw po::error(align.error().message);
    ProbeRequest request;
    request.emulator = emulator.empty() ? kDefaultEmulator : emulator;
    request.machine = machine;
    request.target_size = *target;
    request.label_size = *label;
    request.align_size = *align;
    request.pmem = vm.count("pmem") > 0;
    request.timeout = check_options.timeout;
    // Without a plan, what sizing.h says QEMU computes is the expectation.
    auto expected_guest =
        SizeOption(vm, "expect-guest-size", QemuGuestSize(*target, *label, *align));
    if (!expected_guest) throw po::error(expected_guest.error().message);
    auto check =
        MeasureLayout(request, ExpectedLayout{*expected_guest, *label}, state_dir, warnings);
    for (const std::string& w : warnings) std::cerr << "note: " << w << "\n";
    if (!check) return Refuse(check.error());
    checks.push_back(std::move(*check));
  }

  bool all_match = true;
  for (const DeviceLayoutCheck& c : checks) all_match = all_match && c.matches();
  if (vm.count("json")) {
    Json devices = Json::array();
    for (const DeviceLayoutCheck& c : checks) devices.push_back(CheckToJson(c));
    Json out = {{"matches_plan", all_match}, {"devices", devices}, {"warnings", warnings}};
    if (!checks.empty()) {
      out["emulator"] = checks.front().request.emulator;
      out["machine"] = checks.front().request.machine;
      out["qemu_version"] = checks.front().measured.qemu_version;
      out["qemu_package"] = checks.front().measured.qemu_package;
    }
    std::cout << out.dump(2) << "\n";
  } else {
    PrintText(checks);
  }
  for (const DeviceLayoutCheck& c : checks) {
    if (!c.matches()) std::cerr << "nvdimmctl: " << c.Mismatch() << "\n";
  }
  return all_match ? kExitOk : kExitRefused;
}

}  // namespace nvh::cli
