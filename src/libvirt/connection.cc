#include "libvirt/connection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>

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
  virConnectPtr connection = virConnectOpen(uri.empty() ? nullptr : uri.c_str());
  if (connection == nullptr) {
    return std::unexpected(
        LastError("cannot connect to libvirt" + (uri.empty() ? "" : " at " + uri)));
  }
  return LibvirtConnection(connection);
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
