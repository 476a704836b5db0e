// nvdimm-hook: the libvirt qemu hook (/etc/libvirt/hooks/qemu.d/50-nvdimm-hook).
// libvirt runs it as `HOOK DOMAIN OP SUBOP EXTRA` with the domain XML on
// stdin. Thin: the fast path, then config and state, then the Guard decides.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <string>
#include <string_view>

#include "config/hook_config.h"
#include "core/decision_log.h"
#include "guard/fast_path.h"
#include "guard/guard.h"
#include "guard/relevance.h"
#include "xml/domain_xml.h"

namespace {

using nvh::fast_path::MayRefuse;

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
  auto xml = nvh::DomainXml::Parse(call.xml, "stdin");
  auto domain = xml ? xml->Read() : nvh::Result<nvh::Domain>(std::unexpected(xml.error()));
  if (!domain) {
    // libvirt always sends its own valid XML; whatever this is, it is not
    // ours to block.
    log.Record(nvh::Severity::kWarning,
               "domain '" + call.domain_name + "' " + call.op + ": " + domain.error().message);
    // A broken annotation of ours must not switch the guard off.
    if (MayRefuse(call.op) && call.xml.find(nvh::kAnnotationUri) != std::string::npos) {
      std::cerr << "nvdimm-hook: " << domain.error().message << "\n";
      return kRefuse;
    }
    return kAllow;
  }

  if (!nvh::HasNvdimmWork(*domain)) return kAllow;  // "nvdimm" was only in some text
  auto config = nvh::LoadHookConfig();
  const std::string device_dir = config ? config->device_dir : "/dev";
  if (nvh::Classify(*domain, device_dir) == nvh::Relevance::kNone) return kAllow;
  if (!config) {
    log.Record(nvh::Severity::kError,
               "domain '" + domain->name + "' " + call.op + ": " + config.error().message);
    if (!MayRefuse(call.op)) return kAllow;
    std::cerr << "nvdimm-hook: domain '" << domain->name
              << "': cannot check its NVDIMMs: " << config.error().message << "\n";
    return kRefuse;
  }

  nvh::Guard guard(nvh::PartsFromConfig(*config, &log));
  const nvh::HookOutcome outcome = guard.Run(call, *domain);
  if (!outcome.user_message.empty()) std::cerr << outcome.user_message;
  return MayRefuse(call.op) ? outcome.exit_code : kAllow;
}
