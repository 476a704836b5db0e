// Sizes as people and libvirt write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.h"

namespace nvh {

// value * unit, with libvirt's unit names (src/util/virutil.c virScaleInteger):
// "b", "byte", "bytes"; "KB" = 1000, "k"/"KiB" = 1024, likewise M, G, T, P, E.
// An empty unit means `default_unit` bytes. Overflow and junk are errors.
Result<std::uint64_t> ScaleSize(std::string_view value, std::string_view unit,
                                std::uint64_t default_unit);

// "131072", "128KiB", "128k", "2MiB", "1G": a number with an optional libvirt
// unit suffix; bytes when there is none.
Result<std::uint64_t> ParseSize(std::string_view text);

// Exact and short: "512 MiB", "130 KiB", "12345 B" (the largest binary unit
// that divides the value).
std::string FormatSize(std::uint64_t bytes);

}  // namespace nvh
