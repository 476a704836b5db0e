// The domain XML size limit, in a header of its own: hooks/entry.cc (the
// libc-only hook entry) keeps exactly as many bytes as the full hook reads.
#pragma once

#include <cstddef>

namespace nvh {

// Larger inputs are refused before libxml2 sees them, as virsh does:
// virsh reads at most 10 MiB of domain XML (VSH_MAX_XML_FILE, tools/vsh.h).
inline constexpr std::size_t kMaxDomainXmlBytes = 10 * 1024 * 1024;

}  // namespace nvh
