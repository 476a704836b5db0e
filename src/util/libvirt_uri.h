// Whether a libvirt connection URI reaches the daemon of THIS host. The
// domain commands plan against this host's namespaces, so a definition on
// another host must never be written from here.
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace nvh {

// The remote part of a libvirt URI ("driver[+transport]://[user@]host[:port]/path"):
// the host name, or the transport when it is not the local unix socket;
// empty for a local URI (qemu:///system, qemu+unix:///session, "").
std::string RemotePartOfUri(std::string_view uri);

// Host names equal ignoring case, or a short name and the fully qualified
// name it starts.
bool SameHostName(std::string_view a, std::string_view b);

// Refuses (naming `uri` and what is remote about it) unless the connection is
// local and the daemon's host name (virConnectGetHostname) is this host's
// (gethostname).
Result<void> RequireLocalConnection(std::string_view uri, std::string_view daemon_hostname,
                                    std::string_view local_hostname);

// The URI alone, before connecting: refuses a remote one.
Result<void> RequireLocalUri(std::string_view uri);

}  // namespace nvh
