#include "libvirt/connection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "util/libvirt_uri.h"

namespace nvh {
namespace {

// libvirt prints every error to stderr by default; ours go through Result.
void Silence(void*, virErrorPtr) {}

Error LastError(const std::string& what) {
  const char* message = virGetLastErrorMessage();
  return Error{ErrorKind::kSystem, what + ": " + (message ? message : "unknown libvirt error")};
}

struct DomainCloser {
  void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
using DomainHandle = std::unique_ptr<virDomain, DomainCloser>;

Result<DomainHandle> Lookup(virConnectPtr connection, const std::string& name) {
  DomainHandle domain(virDomainLookupByName(connection, name.c_str()));
  if (!domain) {
    Error error = LastError("domain '" + name + "'");
    error.kind = ErrorKind::kNotFound;
    return std::unexpected(error);
  }
  return domain;
}

}  // namespace

void LibvirtConnection::Closer::operator()(_virConnect* connection) const {
  virConnectClose(connection);
}

LibvirtConnection::LibvirtConnection(_virConnect* connection) : connection_(connection) {}
LibvirtConnection::LibvirtConnection(LibvirtConnection&&) noexcept = default;
LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&&) noexcept = default;
LibvirtConnection::~LibvirtConnection() = default;

Result<LibvirtConnection> LibvirtConnection::Open(const std::string& uri) {
  virSetErrorFunc(nullptr, Silence);
  // An explicit remote URI is refused before any connection is tried.
  if (auto local = RequireLocalUri(uri); !local) return std::unexpected(local.error());
  virConnectPtr raw = virConnectOpen(uri.empty() ? nullptr : uri.c_str());
  if (raw == nullptr) {
    return std::unexpected(
        LastError("cannot connect to libvirt" + (uri.empty() ? "" : " at " + uri)));
  }
  LibvirtConnection connection(raw);
  // The URI libvirt really used (LIBVIRT_DEFAULT_URI, uri_default, an alias)
  // and the daemon's own host name.
  std::unique_ptr<char, decltype(&std::free)> actual(virConnectGetURI(raw), &std::free);
  std::unique_ptr<char, decltype(&std::free)> daemon_host(virConnectGetHostname(raw), &std::free);
  if (!actual || !daemon_host) return std::unexpected(LastError("libvirt connection"));
  char local_host[HOST_NAME_MAX + 1] = {};
  if (gethostname(local_host, sizeof local_host - 1) != 0) {
    return Fail(ErrorKind::kSystem, "gethostname failed");
  }
  if (auto local = RequireLocalConnection(actual.get(), daemon_host.get(), local_host); !local) {
    return std::unexpected(local.error());
  }
  return connection;
}

Result<std::string> LibvirtConnection::PersistentXml(const std::string& name) const {
  auto domain = Lookup(connection_.get(), name);
  if (!domain) return std::unexpected(domain.error());
  char* xml = virDomainGetXMLDesc(domain->get(), VIR_DOMAIN_XML_INACTIVE);
  if (xml == nullptr) return std::unexpected(LastError("domain '" + name + "'"));
  std::string out(xml);
  std::free(xml);
  return out;
}

Result<bool> LibvirtConnection::IsActive(const std::string& name) const {
  auto domain = Lookup(connection_.get(), name);
  if (!domain) return std::unexpected(domain.error());
  const int active = virDomainIsActive(domain->get());
  if (active < 0) return std::unexpected(LastError("domain '" + name + "'"));
  return active == 1;
}

Result<void> LibvirtConnection::Define(const std::string& xml) const {
  virDomainPtr domain =
      virDomainDefineXMLFlags(connection_.get(), xml.c_str(), VIR_DOMAIN_DEFINE_VALIDATE);
  if (domain == nullptr) return std::unexpected(LastError("libvirt refused the definition"));
  virDomainFree(domain);
  return {};
}

}  // namespace nvh
