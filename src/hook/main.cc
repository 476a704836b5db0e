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
#include "guard/hook_entry.h"
#include "xml/domain_xml.h"

namespace {

constexpr int kUsage = 2;

// Drains stdin completely (libvirt writes the whole XML and may block on a
// full pipe otherwise), keeping at most the XML size limit plus one byte (so
// the parser can say the input is too large).
std::string ReadStdin() {
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const std::size_t room =
        nvh::kMaxDomainXmlBytes + 1 - std::min(text.size(), nvh::kMaxDomainXmlBytes + 1);
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
  const nvh::HookInvocation call{argv[1], argv[2], argv[3], ReadStdin()};
  nvh::SyslogDecisionLog log;
  const nvh::HookExit result = nvh::RunHookCall(
      call, log, [] { return nvh::LoadHookConfig(); },
      [&log](const nvh::HookConfig& config) { return nvh::PartsFromConfig(config, &log); });
  std::cerr << result.user_message;
  return result.exit_code;
}
