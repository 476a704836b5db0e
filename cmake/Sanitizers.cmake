# -DNVDIMMHOOK_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer; CI runs the unit tests that way.
option(NVDIMMHOOK_SANITIZE "Build with ASan and UBSan" OFF)
if(NVDIMMHOOK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
