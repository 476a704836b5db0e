// nvdimmctl: the admin's command. Thin: parse the command word, hand the rest
// to the command, turn usage errors into exit code 2.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: nvdimmctl COMMAND [options]\n"
    "\n"
    "  list [--json] [--arch ARCH]       host NVDIMM namespaces and the guest size each gives\n"
    "  plan DOMAIN.xml [--json]          the nvdimm devices the domain's annotation asks for\n"
    "  rewrite DOMAIN.xml                the domain XML with those devices (stdout), changes\n"
    "                                    on stderr\n"
    "  probe [DOMAIN.xml]                measure QEMU's NVDIMM layout for a plan\n"
    "  attach DOMAIN SELECTOR [--node N] [--label SIZE]\n"
    "                                    annotate a stopped domain and write its device\n"
    "  detach DOMAIN SELECTOR            remove the annotation entry and its device\n"
    "  sync DOMAIN [--relayout]          bring the definition in step without moving a layout;\n"
    "                                    --relayout moves it, saying first what the guest loses\n"
    "  check DOMAIN                      what the hook's prepare would decide, claiming nothing\n"
    "  status                            claims, layout records, live NVDIMM mappings, memory\n"
    "                                    snapshots (WARNING lines and exit 1 for trouble)\n"
    "\n"
    "SELECTOR: a namespace uuid, an ndctl name (namespace0.0) or a device path (/dev/dax0.0).\n"
    "Domain commands take -c URI as virsh does. Planning commands take --inventory\n"
    "libndctl|FILE and --device-dir DIR (default: the hook's config file).\n"
    "Exit status: 0 done, 1 refused or invalid input, 2 usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  namespace cli = nvh::cli;
  if (argc < 2) {
    std::cerr << kUsage;
    return cli::kExitUsage;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return cli::kExitOk;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "list") return cli::RunList(args);
    if (command == "plan") return cli::RunPlan(args);
    if (command == "rewrite") return cli::RunRewrite(args);
    if (command == "probe") return cli::RunProbe(args);
    if (command == "attach") return cli::RunAttach(args);
    if (command == "detach") return cli::RunDetach(args);
    if (command == "sync") return cli::RunSync(args);
    if (command == "check") return cli::RunCheck(args);
    if (command == "status") return cli::RunStatus(args);
  } catch (const boost::program_options::error& error) {
    std::cerr << "nvdimmctl " << command << ": " << error.what() << "\n";
    return cli::kExitUsage;
  }
  std::cerr << "nvdimmctl: unknown command '" << command << "'\n" << kUsage;
  return cli::kExitUsage;
}
