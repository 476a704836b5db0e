// The hook's first decisions, before anything is parsed: which operations
// are guarded, which may refuse, and whether the raw XML can concern us at
// all. Header-only and libc-free on purpose: hooks/entry.cc (the small entry
// point libvirt executes, linked with nothing but libc) and the full hook
// (src/guard/relevance.cc, src/hook/main.cc) share this one definition, so
// the entry's fast path cannot drift from the full hook's.
#pragma once

#include <cstddef>
#include <string_view>

#include "xml/xml_limits.h"

namespace nvh::fast_path {

// The full hook keeps this many bytes of stdin (one more than the limit, so
// that the parser can say the input is too large); the entry keeps the same
// prefix, searches it and hands exactly it over.
inline constexpr std::size_t kKeptXmlBytes = kMaxDomainXmlBytes + 1;

// The libvirt qemu hook operations the guard acts on (DESIGN.md §4).
// `started` is not here: its guest already runs and a refusal would only
// kill it; there is nothing to decide.
constexpr bool IsGuardedOperation(std::string_view op) {
  return op == "prepare" || op == "start" || op == "migrate" || op == "restore" ||
         op == "reconnect" || op == "stopped" || op == "release";
}

// Operations whose failure stops something (a start, a migration, a
// restore). For the others a non-zero exit would only do harm (reconnect:
// libvirt kills the running QEMU).
constexpr bool MayRefuse(std::string_view op) {
  return op == "prepare" || op == "start" || op == "migrate" || op == "restore";
}

// A domain whose definition never says "nvdimm" has neither our annotation
// (urn:nvdimm-hook:1 contains the word) nor an nvdimm device.
constexpr bool MayConcernNvdimm(std::string_view domain_xml) {
  return domain_xml.find("nvdimm") != std::string_view::npos;
}

enum class FirstDecision {
  kAllow,      // exit 0: not an operation we guard, or no "nvdimm"
  kFullCheck,  // the full hook decides (the entry execs it with argv and XML)
  kRefuse,     // exit 1: stdin could not be read, so NVDIMMs cannot be checked
};

// The first decision on `argc` arguments, operation `op` and the kept prefix
// of stdin, the same in the entry and in the full hook; `read_failed` when
// reading stdin ended in an error rather than at end of file.
constexpr FirstDecision Decide(int argc, std::string_view op, std::string_view kept_xml,
                               bool read_failed) {
  if (argc != 5) return FirstDecision::kFullCheck;  // the full hook prints its usage
  if (!IsGuardedOperation(op)) return FirstDecision::kAllow;
  // Part of the XML is missing: the missing part may hold an nvdimm. Where a
  // refusal stops the start, refuse; elsewhere a non-zero exit only does
  // harm, so the full hook gets what was read, as it always did.
  if (read_failed) return MayRefuse(op) ? FirstDecision::kRefuse : FirstDecision::kFullCheck;
  return MayConcernNvdimm(kept_xml) ? FirstDecision::kFullCheck : FirstDecision::kAllow;
}

// The exit status when the full hook cannot be run (no memfd, short write,
// exec failed): as a refusal where one stops the start, never elsewhere.
constexpr int HandOverFailedExit(std::string_view op) {
  return MayRefuse(op) ? 1 : 0;
}

}  // namespace nvh::fast_path
