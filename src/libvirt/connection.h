// The libvirt client API, for the nvdimmctl commands that change a domain's
// persistent definition. Never used by the hook: libvirtd waits for its hooks,
// and a hook that calls back into the daemon deadlocks it.
#pragma once

#include <memory>
#include <string>

#include "util/error.h"

struct _virConnect;

namespace nvh {

class LibvirtConnection {
 public:
  // `uri` as for `virsh -c`; empty means libvirt's default.
  static Result<LibvirtConnection> Open(const std::string& uri);

  LibvirtConnection(LibvirtConnection&&) noexcept;
  LibvirtConnection& operator=(LibvirtConnection&&) noexcept;
  ~LibvirtConnection();

  // The persistent (inactive) definition, as `virsh dumpxml --inactive`.
  Result<std::string> PersistentXml(const std::string& domain) const;
  Result<bool> IsActive(const std::string& domain) const;
  // Defines (replaces) the persistent definition; libvirt validates it
  // against its schema first.
  Result<void> Define(const std::string& xml) const;

 private:
  explicit LibvirtConnection(_virConnect* connection);
  struct Closer {
    void operator()(_virConnect* connection) const;
  };
  std::unique_ptr<_virConnect, Closer> connection_;
};

}  // namespace nvh
