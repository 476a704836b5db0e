#include "util/libvirt_uri.h"

namespace nvh {
namespace {

std::string RefusalFor(std::string_view uri, const std::string& what) {
  return "libvirt URI '" + std::string(uri) + "' " + what +
         ": nvdimmctl plans against this host's NVDIMM namespaces and must not change a "
         "domain on another host; run nvdimmctl on that host";
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool SameHostName(std::string_view a, std::string_view b) {
  const std::string x = Lower(a);
  const std::string y = Lower(b);
  if (x == y) return true;
  // libvirt's virGetHostname returns the canonical (fully qualified) name
  // when gethostname gives a short one: "vmhost" is "vmhost.example.org".
  const auto first_label = [](const std::string& name) { return name.substr(0, name.find('.')); };
  const bool x_short = x.find('.') == std::string::npos;
  const bool y_short = y.find('.') == std::string::npos;
  return (x_short != y_short) && first_label(x) == first_label(y);
}

std::string RemotePartOfUri(std::string_view uri) {
  // libvirt's own split (virURIParse + the driver's "+transport" suffix,
  // src/remote/remote_driver.c doRemoteOpen).
  const std::size_t colon = uri.find("://");
  if (colon == std::string_view::npos) return {};  // "qemu:///…" has it; an alias has none
  const std::string_view scheme = uri.substr(0, colon);
  const std::size_t plus = scheme.find('+');
  const std::string_view transport =
      plus == std::string_view::npos ? std::string_view() : scheme.substr(plus + 1);
  std::string_view authority = uri.substr(colon + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);  // [::1]:16509
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (!host.empty()) return "host '" + std::string(host) + "'";
  if (!transport.empty() && transport != "unix") {
    return "transport '" + std::string(transport) + "'";
  }
  return {};
}

Result<void> RequireLocalUri(std::string_view uri) {
  const std::string remote = RemotePartOfUri(uri);
  if (remote.empty()) return {};
  return Fail(ErrorKind::kInvalidInput, RefusalFor(uri, "names " + remote));
}

Result<void> RequireLocalConnection(std::string_view uri, std::string_view daemon_hostname,
                                    std::string_view local_hostname) {
  if (auto local = RequireLocalUri(uri); !local) return local;
  if (!SameHostName(daemon_hostname, local_hostname)) {
    return Fail(ErrorKind::kInvalidInput,
                RefusalFor(uri.empty() ? std::string_view("(default)") : uri,
                           "reaches a daemon on host '" + std::string(daemon_hostname) +
                               "', this host is '" + std::string(local_hostname) + "'"));
  }
  return {};
}

}  // namespace nvh
