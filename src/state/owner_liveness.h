// Is the owner of a claim still running? (DESIGN.md §5) A claim goes stale
// only when a start died between `prepare` and QEMU's fork, so the question
// is whether the owner domain has a QEMU. Behind interfaces so tests can fake
// the answer and the clock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nvh {

enum class QemuState {
  kRunning,
  kNotRunning,
  // Could not tell (a run dir or /proc entry unreadable, a pid file being
  // written): treated as running, because taking over a live guest's
  // namespace would let two guests write it.
  kUnknown,
};

std::string_view QemuStateName(QemuState state);  // "running", "not running", "unknown"

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

class OwnerLiveness {
 public:
  virtual ~OwnerLiveness() = default;
  // Whether domain `domain_name` has a running QEMU.
  virtual QemuState QemuOf(const std::string& domain_name) const = 0;
};

// libvirt's own record: while a domain runs, each daemon keeps
// `<domain name>.pid` (QEMU's pid) in its run dir. The file is found by
// comparing directory entries, never by building a path from the domain
// name, and the pid only counts when /proc/<pid>/cmdline has
// `-name guest=<name>,…` as libvirt starts QEMU: a pid file left by a crash
// may name a pid the kernel has given to another process since.
class LibvirtPidFileLiveness final : public OwnerLiveness {
 public:
  explicit LibvirtPidFileLiveness(std::vector<std::string> run_dirs)
      : run_dirs_(std::move(run_dirs)) {}
  QemuState QemuOf(const std::string& domain_name) const override;

 private:
  std::vector<std::string> run_dirs_;
};

// Whether `cmdline` (/proc/<pid>/cmdline: arguments separated by NULs) has
// `-name` followed by a value whose guest= (or implied first) element is
// `domain_name`, with QEMU's ",," escaping of commas undone.
bool CmdlineNamesGuest(std::string_view cmdline, std::string_view domain_name);

// Whether process `pid` exists and is QEMU of `domain_name`.
QemuState ProcessIsQemuOf(pid_t pid, std::string_view domain_name);

}  // namespace nvh
