#include "state/state_names.h"

namespace nvh {
namespace {

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool IsValidNamespaceKey(std::string_view key) {
  if (key.empty() || key.size() > 64 || key.front() == '.') return false;
  for (const char c : key) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidUuid(std::string_view uuid) {
  if (uuid.size() != 36) return false;
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? uuid[i] != '-' : !IsHex(uuid[i])) return false;
  }
  return true;
}

std::string NormalizeUuid(std::string_view uuid) {
  std::string out(uuid);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace nvh
