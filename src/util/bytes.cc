#include "util/bytes.h"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace nvh {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::uint64_t> UnitFactor(std::string_view unit, std::uint64_t default_unit) {
  if (unit.empty()) return default_unit;
  const std::string u = Lower(unit);
  if (u == "b" || u == "byte" || u == "bytes") return 1;
  static constexpr std::string_view kPrefixes = "kmgtpe";
  const std::size_t power = kPrefixes.find(u[0]);
  if (power == std::string_view::npos) {
    return Fail(ErrorKind::kInvalidInput, "unknown size unit '" + std::string(unit) + "'");
  }
  std::uint64_t base = 0;
  const std::string_view rest = std::string_view(u).substr(1);
  if (rest.empty() || rest == "ib") {
    base = 1024;
  } else if (rest == "b") {
    base = 1000;
  } else {
    return Fail(ErrorKind::kInvalidInput, "unknown size unit '" + std::string(unit) + "'");
  }
  std::uint64_t factor = 1;
  for (std::size_t i = 0; i <= power; ++i) factor *= base;
  return factor;
}

}  // namespace

Result<std::uint64_t> ScaleSize(std::string_view value, std::string_view unit,
                                std::uint64_t default_unit) {
  std::uint64_t number = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, number);
  if (value.empty() || ec != std::errc() || ptr != end) {
    return Fail(ErrorKind::kInvalidInput, "'" + std::string(value) + "' is not a whole number");
  }
  auto factor = UnitFactor(unit, default_unit);
  if (!factor) return std::unexpected(factor.error());
  if (number > std::numeric_limits<std::uint64_t>::max() / *factor) {
    return Fail(ErrorKind::kInvalidInput,
                "'" + std::string(value) + std::string(unit) + "' is too large");
  }
  return number * *factor;
}

Result<std::uint64_t> ParseSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  auto size = ScaleSize(text.substr(0, digits), text.substr(digits), 1);
  if (!size) {
    return Fail(ErrorKind::kInvalidInput,
                "'" + std::string(text) +
                    "' is not a size (a whole number, optionally with a unit such as KiB or MiB)");
  }
  return size;
}

std::string FormatSize(std::uint64_t bytes) {
  static constexpr std::array<std::pair<std::uint64_t, const char*>, 4> kUnits{
      {{1ULL << 40, "TiB"}, {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}}};
  if (bytes != 0) {
    for (const auto& [factor, name] : kUnits) {
      if (bytes % factor == 0) return std::to_string(bytes / factor) + " " + name;
    }
  }
  return std::to_string(bytes) + " B";
}

}  // namespace nvh
