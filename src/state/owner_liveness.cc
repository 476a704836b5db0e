#include "state/owner_liveness.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>

#include "state/atomic_file.h"

namespace nvh {
namespace {

// QEMU command lines run to a few KiB; enough to see -name whatever follows.
constexpr std::size_t kMaxCmdline = 1 << 20;

// Reads up to `max` bytes; nullopt on error, with errno set.
std::optional<std::string> ReadUpTo(int fd, std::size_t max) {
  std::string data;
  char buffer[4096];
  while (data.size() < max) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

// QEMU option syntax (util/qemu-option.c): elements separated by ',', a
// literal comma written ",,". libvirt escapes commas in domain names that way.
std::vector<std::string> SplitOptionElements(std::string_view value) {
  std::vector<std::string> elements(1);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != ',') {
      elements.back() += value[i];
    } else if (i + 1 < value.size() && value[i + 1] == ',') {
      elements.back() += ',';
      ++i;
    } else {
      elements.emplace_back();
    }
  }
  return elements;
}

bool NameValueIs(std::string_view value, std::string_view domain_name) {
  const auto elements = SplitOptionElements(value);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::string_view element = elements[i];
    const auto equals = element.find('=');
    // -name's implied key is "guest" (qemu-options.hx: -name [guest=]name).
    if (i == 0 && equals == std::string_view::npos) {
      if (element == domain_name) return true;
      continue;
    }
    if (equals != std::string_view::npos && element.substr(0, equals) == "guest" &&
        element.substr(equals + 1) == domain_name) {
      return true;
    }
  }
  return false;
}

std::optional<pid_t> ParsePid(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  // Linux pids are at most 2^22 (PID_MAX_LIMIT); 0 and negatives would make
  // /proc/<pid> mean something else entirely.
  if (value <= 0 || value > (1LL << 22)) return std::nullopt;
  return static_cast<pid_t>(value);
}

// /proc/<pid>/stat: "pid (comm) S ...", where comm may hold ')' itself.
bool IsZombie(int proc_fd) {
  const int stat_fd = openat(proc_fd, "stat", O_RDONLY | O_CLOEXEC);
  if (stat_fd < 0) return errno == ESRCH || errno == ENOENT;
  const UniqueFd stat_owner(stat_fd);
  const auto stat = ReadUpTo(stat_fd, 4096);
  if (!stat) return errno == ESRCH;
  const auto paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  const char state = (*stat)[paren + 2];
  return state == 'Z' || state == 'X';
}

// The state of `domain_name`'s QEMU as seen from one run dir.
QemuState QemuInRunDir(const std::string& run_dir, const std::string& domain_name) {
  const int dir_fd = open(run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    // No run dir: that daemon has never run a domain since boot.
    return errno == ENOENT ? QemuState::kNotRunning : QemuState::kUnknown;
  }
  const UniqueFd dir_owner(dir_fd);
  const int list_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return QemuState::kUnknown;
  DIR* dir = fdopendir(list_fd);
  if (dir == nullptr) {
    close(list_fd);
    return QemuState::kUnknown;
  }
  const std::string wanted = domain_name + ".pid";
  bool found = false;
  bool listed = true;
  while (true) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) {
      listed = errno == 0;
      break;
    }
    if (wanted == entry->d_name) {
      found = true;
      break;
    }
  }
  closedir(dir);
  if (!found) return listed ? QemuState::kNotRunning : QemuState::kUnknown;

  // The name came from the directory, so this opens exactly that entry.
  const int pid_fd =
      openat(dir_fd, wanted.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (pid_fd < 0) return errno == ENOENT ? QemuState::kNotRunning : QemuState::kUnknown;
  const UniqueFd pid_owner(pid_fd);
  const auto text = ReadUpTo(pid_fd, 64);
  if (!text) return QemuState::kUnknown;
  const auto pid = ParsePid(*text);
  // libvirt truncates, then writes: an empty or partial file is a start in
  // progress, not a dead owner.
  if (!pid) return QemuState::kUnknown;
  return ProcessIsQemuOf(*pid, domain_name);
}

}  // namespace

std::string_view QemuStateName(QemuState state) {
  switch (state) {
    case QemuState::kRunning:
      return "running";
    case QemuState::kNotRunning:
      return "not running";
    case QemuState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

bool CmdlineNamesGuest(std::string_view cmdline, std::string_view domain_name) {
  std::vector<std::string_view> args;
  while (!cmdline.empty()) {
    const auto nul = cmdline.find('\0');
    args.push_back(cmdline.substr(0, nul));
    if (nul == std::string_view::npos) break;
    cmdline.remove_prefix(nul + 1);
  }
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if ((args[i] == "-name" || args[i] == "--name") && NameValueIs(args[i + 1], domain_name)) {
      return true;
    }
  }
  return false;
}

QemuState ProcessIsQemuOf(pid_t pid, std::string_view domain_name) {
  const std::string proc = "/proc/" + std::to_string(pid);
  // Reading cmdline through the /proc/<pid> directory fd pins that process:
  // if it exits meanwhile the read fails instead of reaching a successor.
  const int proc_fd = open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) return errno == ENOENT ? QemuState::kNotRunning : QemuState::kUnknown;
  const UniqueFd proc_owner(proc_fd);
  const int cmd_fd = openat(proc_fd, "cmdline", O_RDONLY | O_CLOEXEC);
  if (cmd_fd < 0)
    return errno == ESRCH || errno == ENOENT ? QemuState::kNotRunning : QemuState::kUnknown;
  const UniqueFd cmd_owner(cmd_fd);
  const auto cmdline = ReadUpTo(cmd_fd, kMaxCmdline);
  if (!cmdline) return errno == ESRCH ? QemuState::kNotRunning : QemuState::kUnknown;
  if (cmdline->empty()) {
    // Empty for a zombie (that QEMU is gone) but also for a process in the
    // middle of exec, which may be QEMU a moment later.
    return IsZombie(proc_fd) ? QemuState::kNotRunning : QemuState::kUnknown;
  }
  return CmdlineNamesGuest(*cmdline, domain_name) ? QemuState::kRunning : QemuState::kNotRunning;
}

QemuState LibvirtPidFileLiveness::QemuOf(const std::string& domain_name) const {
  // libvirt refuses such names, so no pid file can be theirs.
  if (domain_name.empty() || domain_name.find('/') != std::string::npos) {
    return QemuState::kNotRunning;
  }
  bool unknown = false;
  for (const std::string& run_dir : run_dirs_) {
    switch (QemuInRunDir(run_dir, domain_name)) {
      case QemuState::kRunning:
        return QemuState::kRunning;
      case QemuState::kUnknown:
        unknown = true;
        break;
      case QemuState::kNotRunning:
        break;
    }
  }
  return unknown ? QemuState::kUnknown : QemuState::kNotRunning;
}

}  // namespace nvh
