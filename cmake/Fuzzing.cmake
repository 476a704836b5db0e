# Coverage-guided fuzzing (tests/fuzz): part of the sanitizer build, so CI
# builds no third tree. GCC instruments the core library with trace-pc and
# trace-cmp; tests/fuzz/coverage_bridge.cc turns trace-pc into libFuzzer
# edge counters and Debian's libclang-rt-14-dev supplies libFuzzer itself
# (clang 14 cannot build this C++23 code: see coverage_bridge.cc).
option(NVDIMMHOOK_FUZZ "Build the libFuzzer targets (needs NVDIMMHOOK_SANITIZE)"
       ${NVDIMMHOOK_SANITIZE})
if(NVDIMMHOOK_FUZZ)
  if(NOT NVDIMMHOOK_SANITIZE)
    message(FATAL_ERROR "NVDIMMHOOK_FUZZ needs -DNVDIMMHOOK_SANITIZE=ON (fuzzing without "
                        "ASan/UBSan finds little)")
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "NVDIMMHOOK_FUZZ: the coverage bridge is for GCC's trace-pc")
  endif()
  file(GLOB libfuzzer_candidates
       /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-${CMAKE_SYSTEM_PROCESSOR}.a)
  set(NVDIMMHOOK_LIBFUZZER "")
  if(libfuzzer_candidates)
    list(SORT libfuzzer_candidates)
    list(POP_BACK libfuzzer_candidates NVDIMMHOOK_LIBFUZZER)
  endif()
  if(NOT NVDIMMHOOK_LIBFUZZER)
    message(FATAL_ERROR "libclang_rt.fuzzer not found: apt-get install libclang-rt-14-dev")
  endif()
  set(NVDIMMHOOK_COVERAGE_FLAGS -fsanitize-coverage=trace-pc,trace-cmp)
  add_library(nvdimmhook_coverage STATIC tests/fuzz/coverage_bridge.cc)
  target_link_libraries(nvdimmhook_coverage PRIVATE nvdimmhook_warnings)
  target_compile_options(nvdimmhook PRIVATE ${NVDIMMHOOK_COVERAGE_FLAGS})
  target_link_libraries(nvdimmhook PUBLIC nvdimmhook_coverage)
  target_link_options(nvdimmhook INTERFACE -Wl,--wrap=__sanitizer_cov_trace_pc)
endif()
