// nvdimm-hook: the libvirt qemu hook (/etc/libvirt/hooks/qemu.d/50-nvdimm-hook).
// libvirt runs it as `HOOK DOMAIN OP SUBOP EXTRA` with the domain XML on
// stdin. Thin: reads stdin; guard/hook_entry.h decides.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <string>
#include <string_view>

#include "config/hook_config.h"
#include "core/decision_log.h"
#include "guard/fast_path.h"
#include "guard/hook_entry.h"
#include "xml/domain_xml.h"

namespace {

constexpr int kAllow = 0;
constexpr int kRefuse = 1;
constexpr int kUsage = 2;

// Drains stdin completely (libvirt writes the whole XML and may block on a
// full pipe otherwise), keeping at most the XML size limit plus one byte (so
// the parser can say the input is too large). `failed`: a read error ended it.
std::string ReadStdin(bool& failed) {
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      failed = true;
      break;
    }
    const std::size_t room =
        nvh::fast_path::kKeptXmlBytes - std::min(text.size(), nvh::fast_path::kKeptXmlBytes);
    text.append(buffer, std::min(room, static_cast<std::size_t>(n)));
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: nvdimm-hook DOMAIN OP SUBOP EXTRA  (run by libvirtd, XML on stdin)\n";
    return kUsage;
  }
  bool read_failed = false;
  const nvh::HookInvocation call{argv[1], argv[2], argv[3], ReadStdin(read_failed)};
  // The same first decision as the entry in front of us (hooks/entry.cc).
  switch (nvh::fast_path::Decide(argc, call.op, call.xml, read_failed)) {
    case nvh::fast_path::FirstDecision::kAllow:
      return kAllow;
    case nvh::fast_path::FirstDecision::kRefuse:
      std::cerr << "nvdimm-hook: domain '" << call.domain_name << "' " << call.op
                << ": reading the domain XML from stdin failed, so its NVDIMMs cannot be checked\n";
      return kRefuse;
    case nvh::fast_path::FirstDecision::kFullCheck:
      break;
  }

  nvh::SyslogDecisionLog log;
  const nvh::HookExit result = nvh::RunHookCall(
      call, log, [] { return nvh::LoadHookConfig(); },
      [&log](const nvh::HookConfig& config) { return nvh::PartsFromConfig(config, &log); });
  std::cerr << result.user_message;
  return result.exit_code;
}
