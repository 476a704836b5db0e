// Edge coverage for libFuzzer from GCC's -fsanitize-coverage=trace-pc.
//
// Why: the project needs std::expected (C++23), which Debian 12's clang 14
// cannot compile with libstdc++ 12 (no P0848 conditionally trivial special
// members), so -fsanitize=fuzzer is out. GCC instruments every basic block
// with a call to __sanitizer_cov_trace_pc; libFuzzer 14 refuses that hook
// ("-fsanitize-coverage=trace-pc is no longer supported"), so the link maps
// it (-Wl,--wrap) to this function, which hashes (previous block, this
// block) into libFuzzer's "extra counters" section, the AFL edge scheme.
// GCC's integer trace-cmp calls go straight to libFuzzer's own handlers.
#include <cstddef>
#include <cstdint>

namespace {
constexpr std::size_t kCounters = 1 << 16;
thread_local std::uintptr_t previous_block = 0;
}  // namespace

extern "C" {
// libFuzzer reads __start_/__stop___libfuzzer_extra_counters as coverage.
__attribute__((section("__libfuzzer_extra_counters"), used))
std::uint8_t nvh_fuzz_edge_counters[kCounters];

__attribute__((no_sanitize("address", "undefined"))) void __wrap___sanitizer_cov_trace_pc() {
  const auto block = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  const std::uintptr_t hashed = (block >> 4) ^ (block << 8);
  ++nvh_fuzz_edge_counters[(hashed ^ previous_block) & (kCounters - 1)];
  previous_block = hashed >> 1;
}

// GCC's trace-cmp also reports float and double comparisons (nlohmann-json
// has some); neither libFuzzer 14 nor libasan defines these hooks.
__attribute__((weak)) void __sanitizer_cov_trace_cmpf(float, float) {}
__attribute__((weak)) void __sanitizer_cov_trace_cmpd(double, double) {}
}
