# Every warning is an error: a warning in a root hook is a bug report we would
# rather read at build time.
add_library(nvdimmhook_warnings INTERFACE)
target_compile_options(nvdimmhook_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual
  -Wformat=2 -Wimplicit-fallthrough)
