// The names state files are made of. Every file name under the run and state
// dirs is built from a value that passed one of these checks; domain names
// are data only.
#pragma once

#include <string>
#include <string_view>

namespace nvh {

// A namespace key (HostNamespace::IdentityKey(): a uuid or an ndctl device
// name) usable as a file name: 1 to 64 of [0-9A-Za-z.-], not starting with
// '.' (which also rules out "." and ".."; dot names are the writers' temp
// files).
bool IsValidNamespaceKey(std::string_view key);

// A libvirt domain UUID: 8-4-4-4-12 hex digits, either case.
bool IsValidUuid(std::string_view uuid);

// Lower case, as libvirt prints it: one domain, one file name.
std::string NormalizeUuid(std::string_view uuid);

}  // namespace nvh
