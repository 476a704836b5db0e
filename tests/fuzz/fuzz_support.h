// Shared by the fuzz targets: inputs that the code under test reads from a
// path get an anonymous in-memory file (memfd), so nothing touches the disk.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace nvh::fuzz {

// A memfd holding `data`; Path() is /proc/self/fd/N. Aborts when the kernel
// refuses one: a fuzz run without it would test nothing.
class MemoryFile {
 public:
  explicit MemoryFile(std::string_view data) : fd_(memfd_create("nvh-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd_, data.data() + done, data.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string Path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property the code promises broke: a crash libFuzzer records.
[[noreturn]] inline void Broken() {
  std::abort();
}

}  // namespace nvh::fuzz
