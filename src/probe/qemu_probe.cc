#include "probe/qemu_probe.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <utility>

#include "state/atomic_file.h"
#include "util/bytes.h"

namespace nvh {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// QMP replies are a few hundred bytes; a "line" this long is not QEMU.
constexpr std::size_t kMaxQmpLine = 1 << 20;
// Enough of QEMU's stderr to quote its refusal; the rest is drained, not kept.
constexpr std::size_t kMaxStderr = 16 << 10;
// Any valid uuid: pseries refuses an nvdimm without one
// (hw/ppc/spapr_nvdimm.c spapr_nvdimm_validate); libvirt generates one per
// device, the layout does not depend on it.
constexpr char kProbeNvdimmUuid[] = "4e56482d-7072-6f62-6500-000000000001";
// The aarch64 "firmware": virt creates its acpi-ged (and so accepts
// NVDIMMs) only when firmware is loaded (hw/arm/virt.c machvirt_init:
// firmware_loaded && virt_is_acpi_enabled). -S keeps it from ever running,
// so zeros do; the probe needs no firmware package.
constexpr std::size_t kProbeFirmwareSize = 4096;

// What QEMU says when the planned numbers themselves are wrong, as opposed
// to the probe's command line (QEMU 7.2: hw/mem/nvdimm.c
// nvdimm_prepare_memory_region and nvdimm_set_label_size, softmmu/physmem.c
// qemu_ram_alloc_from_fd and file_ram_alloc, hw/ppc/spapr_nvdimm.c
// spapr_nvdimm_validate, backends/hostmem.c).
constexpr std::array<std::string_view, 8> kGeometryRefusals = {
    "too small to contain nvdimm label",
    "backing store size",
    "alignment 0x",
    "backend memory size must be multiple",
    "unable to map backing store",
    "PAPR requires NVDIMM memory size",
    "PAPR requires NVDIMM devices to have label-size",
    "label size",
};

bool IsGeometryRefusal(const std::string& stderr_text) {
  return std::any_of(
      kGeometryRefusals.begin(), kGeometryRefusals.end(),
      [&](std::string_view phrase) { return stderr_text.find(phrase) != std::string::npos; });
}

std::string Errno(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// The private directory holding the sparse backing file; removed with it.
class ScratchDir {
 public:
  ScratchDir() = default;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  Result<std::string> Create(const std::string& parent) {
    std::error_code ec;
    std::string base = parent.empty() ? std::filesystem::temp_directory_path(ec).string() : parent;
    if (base.empty()) base = "/tmp";
    std::string pattern = base + "/nvdimm-probe.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return Fail(ErrorKind::kSystem,
                  "cannot create a scratch directory in " + base + ": " + Errno(errno));
    }
    path_ = pattern;
    return path_;
  }

 private:
  std::string path_;
};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(left.count(), std::numeric_limits<int>::max()));
}

// The child process: SIGKILLed and reaped on every path that does not reap
// it normally, so no probe leaves a QEMU (or a zombie) behind.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Kill(); }
  void Set(pid_t pid) { pid_ = pid; }
  // SIGKILL + blocking reap: a SIGKILLed process exits without our help.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    Reap(0);
  }
  // waitpid; true when the child is gone (status in status()).
  bool Reap(int flags) {
    if (pid_ <= 0) return true;
    int status = 0;
    pid_t got;
    do {
      got = waitpid(pid_, &status, flags);
    } while (got < 0 && errno == EINTR);
    if (got == 0) return false;  // WNOHANG, still running
    pid_ = -1;
    status_ = got > 0 ? status : -1;
    return true;
  }
  int status() const { return status_; }
  // Waits for the child to exit on its own until `deadline` (a pidfd polls
  // like any fd: no sleeping); false when it is still running then.
  bool WaitUntil(Clock::time_point deadline) {
    if (pid_ <= 0) return true;
    const UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
    if (pidfd.get() >= 0) {
      pollfd p{pidfd.get(), POLLIN, 0};
      int ready;
      do {
        ready = poll(&p, 1, RemainingMs(deadline));
      } while (ready < 0 && errno == EINTR);
      return ready > 0 && Reap(0);
    }
    // Kernels before 5.3: the caller saw EOF on the child's streams, which it
    // closes only when exiting.
    return Reap(WNOHANG);
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

std::string DescribeStatus(int status) {
  if (status < 0) return "an unknown status";
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// QEMU parses "key=value,key=value": a comma inside a value is written twice
// (util/qemu-option.c get_opt_value).
std::string EscapeOptionValue(std::string_view value) {
  std::string out;
  for (const char c : value) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

// A machine type is one word of QEMU's machine names ("pc-i440fx-7.2"); it
// goes into -machine unescaped, so it may not carry options of its own.
bool IsMachineName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(text.substr(start, end - start));
    if (!line.empty()) out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

// What the child reports through the exec-error pipe when it cannot exec.
struct ChildFailure {
  int step;  // index into kChildSteps
  int error;
};
constexpr std::array<const char*, 7> kChildSteps = {"dup2",  "setgroups", "setgid", "setuid",
                                                    "chdir", "execve",    "prctl"};

// Runs in the forked child: only async-signal-safe calls (the parent may have
// threads), everything it needs was built before fork().
[[noreturn]] void ExecChild(int qmp_fd, int stderr_fd, int error_fd, bool drop, uid_t uid,
                            gid_t gid, pid_t parent, const char* path, char* const argv[],
                            char* const envp[]) {
  auto fail = [error_fd](int step) {
    const ChildFailure failure{step, errno};
    [[maybe_unused]] const ssize_t ignored = write(error_fd, &failure, sizeof failure);
    _exit(127);
  };
  setsid();  // no controlling terminal, no signals meant for the caller's group
  if (dup2(qmp_fd, STDIN_FILENO) < 0 || dup2(qmp_fd, STDOUT_FILENO) < 0 ||
      dup2(stderr_fd, STDERR_FILENO) < 0) {
    fail(0);
  }
  // Dispositions set to "ignore" and blocked signals survive exec: give QEMU
  // the defaults it expects.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (drop) {
    // Supplementary groups first: after setuid we could no longer drop them.
    if (setgroups(0, nullptr) != 0) fail(1);
    if (setgid(gid) != 0) fail(2);
    if (setuid(uid) != 0) fail(3);
    if (getuid() != uid || geteuid() != uid) fail(3);
  }
  // If the caller dies, the probe dies with it instead of running on
  // unwatched. After the uid change: changing credentials clears it
  // (prctl(2) PR_SET_PDEATHSIG). The getppid() check covers a caller that
  // died before this line.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(6);
  if (getppid() != parent) _exit(127);
  if (chdir("/") != 0) fail(4);
  umask(077);
  // Whatever else the caller had open (libvirt hands hooks a few) stays out
  // of QEMU; the error pipe is already close-on-exec.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  fail(5);
  _exit(127);  // not reached
}

// One QMP conversation over the child's stdin/stdout socket, with QEMU's
// stderr collected alongside, all bounded by one deadline.
class Qmp {
 public:
  Qmp(int fd, int stderr_fd, Clock::time_point deadline)
      : fd_(fd), stderr_fd_(stderr_fd), deadline_(deadline) {}

  // The next message that is not an asynchronous event.
  Result<Json> Read() {
    for (;;) {
      auto line = ReadLine();
      if (!line) return std::unexpected(line.error());
      Json message = Json::parse(*line, nullptr, /*allow_exceptions=*/false);
      if (message.is_discarded() || !message.is_object()) {
        return Fail(ErrorKind::kSystem,
                    "QMP sent something that is not a JSON object: " + line->substr(0, 200));
      }
      if (message.contains("event")) continue;  // SHUTDOWN etc.: not an answer
      return message;
    }
  }

  // Runs `command` and returns its "return" value; a QMP error is an error.
  Result<Json> Execute(const std::string& command, const Json& arguments = nullptr) {
    Json request = {{"execute", command}, {"id", ++id_}};
    if (!arguments.is_null()) request["arguments"] = arguments;
    if (auto sent = Send(request.dump() + "\n"); !sent) return std::unexpected(sent.error());
    for (;;) {
      auto reply = Read();
      if (!reply) return std::unexpected(reply.error());
      if (!reply->contains("id") || (*reply)["id"] != id_) continue;
      if (reply->contains("error")) {
        return Fail(ErrorKind::kSystem, "QMP " + command + " failed: " + (*reply)["error"].dump());
      }
      if (!reply->contains("return")) {
        return Fail(ErrorKind::kSystem, "QMP " + command + ": reply without \"return\"");
      }
      return (*reply)["return"];
    }
  }

  // Reads both streams until QEMU closes them (it exits) or the deadline.
  bool DrainToEof() {
    while (!(eof_ && stderr_eof_)) {
      if (!PollOnce()) return false;
    }
    return true;
  }

  // After the child is dead: what it wrote before, without waiting for an
  // EOF that a leftover holder of the pipe could delay.
  void DrainAvailable() {
    const auto saved = deadline_;
    const bool was_timed_out = timed_out_;
    deadline_ = Clock::now();
    while (!(eof_ && stderr_eof_) && PollOnce()) {
    }
    deadline_ = saved;
    timed_out_ = was_timed_out;
  }

  bool qmp_closed() const { return eof_; }
  const std::string& stderr_text() const { return stderr_; }
  bool timed_out() const { return timed_out_; }

 private:
  Result<void> Send(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      pollfd p{fd_, POLLOUT, 0};
      const int ready = poll(&p, 1, RemainingMs(deadline_));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return TimedOut("writing to QMP");
      // MSG_NOSIGNAL: a QEMU that died must not take the hook down with SIGPIPE.
      const ssize_t n = send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Fail(ErrorKind::kSystem, "writing to QMP: " + Errno(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  Result<std::string> ReadLine() {
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      if (buffer_.size() > kMaxQmpLine) {
        return Fail(ErrorKind::kSystem, "QMP line longer than " + std::to_string(kMaxQmpLine));
      }
      if (eof_) return Fail(ErrorKind::kSystem, "QEMU closed QMP");
      if (!PollOnce()) return TimedOut("waiting for QMP");
    }
  }

  // One poll over both streams; false at the deadline.
  bool PollOnce() {
    std::array<pollfd, 2> fds{
        {{eof_ ? -1 : fd_, POLLIN, 0}, {stderr_eof_ ? -1 : stderr_fd_, POLLIN, 0}}};
    const int ready = poll(fds.data(), fds.size(), RemainingMs(deadline_));
    if (ready < 0) return errno == EINTR;
    if (ready == 0) {
      timed_out_ = true;
      return false;
    }
    std::array<char, 8192> chunk{};
    if (fds[0].revents != 0) {
      const ssize_t n = read(fd_, chunk.data(), chunk.size());
      if (n > 0) {
        buffer_.append(chunk.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        eof_ = true;
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t n = read(stderr_fd_, chunk.data(), chunk.size());
      if (n > 0) {
        const std::size_t keep = std::min(static_cast<std::size_t>(n),
                                          kMaxStderr - std::min(kMaxStderr, stderr_.size()));
        stderr_.append(chunk.data(), keep);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stderr_eof_ = true;
      }
    }
    return true;
  }

  std::unexpected<Error> TimedOut(const std::string& what) {
    timed_out_ = true;
    return Fail(ErrorKind::kSystem, "timed out " + what);
  }

  int fd_;
  int stderr_fd_;
  Clock::time_point deadline_;
  std::string buffer_;
  std::string stderr_;
  bool eof_ = false;
  bool stderr_eof_ = false;
  bool timed_out_ = false;
  int id_ = 0;
};

Result<std::uint64_t> Unsigned(const Json& value, const std::string& what) {
  if (!value.is_number_unsigned() &&
      !(value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    return Fail(ErrorKind::kSystem, what + " is not a non-negative integer: " + value.dump());
  }
  return value.get<std::uint64_t>();
}

std::string DescribeRequest(const ProbeRequest& r) {
  std::string text = "QEMU " + r.emulator + " (" + std::string(ArchName(r.arch)) + ", machine " +
                     (r.machine.empty() ? std::string("default") : r.machine) + ", target " +
                     FormatSize(r.target_size) + ", label " + FormatSize(r.label_size) +
                     ", alignsize " + (r.align_size ? FormatSize(r.align_size) : "none") +
                     (r.pmem ? ", pmem" : "") + ")";
  return text;
}

// Why one run failed. `refused`: QEMU exited on its own with something on
// stderr, i.e. it rejected its command line (a -sandbox the build lacks, a
// geometry hw/mem/nvdimm.c refuses), as opposed to a probe that broke.
struct RunFailure {
  Error error;
  bool refused = false;
  std::string stderr_text;
  std::string how;  // "QEMU ended with exit status 1 (…)": error.message without the stderr
};

using RunResult = std::expected<ProbeMeasurement, RunFailure>;

RunResult RunOnce(const ProbeRequest& request, const std::string& backing_file, bool drop,
                  Clock::time_point deadline) {
  const auto fail = [](ErrorKind kind, std::string message, bool refused = false,
                       std::string err = {}) {
    std::string how = message;
    if (!err.empty()) message += ": " + err;
    return std::unexpected<RunFailure>(
        RunFailure{Error{kind, std::move(message)}, refused, std::move(err), std::move(how)});
  };
  // Everything the child needs exists before fork().
  const std::vector<std::string> args = ProbeCommandLine(request, backing_file);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // libvirt gives hooks only LC_ALL, PATH and HOME; QEMU needs none of the
  // caller's environment, and the C locale keeps its messages quotable.
  std::string env_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::string env_lc = "LC_ALL=C";
  std::array<char*, 3> envp = {env_path.data(), env_lc.data(), nullptr};

  // stdin/stdout are one socket so that writes can use MSG_NOSIGNAL.
  std::array<int, 2> qmp_pair{};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_pair.data()) != 0) {
    return fail(ErrorKind::kSystem, "socketpair: " + Errno(errno));
  }
  UniqueFd qmp(qmp_pair[0]), qmp_child(qmp_pair[1]);
  std::array<int, 2> err_pipe{}, exec_pipe{};
  if (pipe2(err_pipe.data(), O_CLOEXEC) != 0)
    return fail(ErrorKind::kSystem, "pipe: " + Errno(errno));
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  if (pipe2(exec_pipe.data(), O_CLOEXEC) != 0) {
    return fail(ErrorKind::kSystem, "pipe: " + Errno(errno));
  }
  UniqueFd exec_read(exec_pipe[0]), exec_write(exec_pipe[1]);

  const auto started = Clock::now();
  const pid_t parent = getpid();
  Child child;
  const pid_t pid = fork();
  if (pid < 0) return fail(ErrorKind::kSystem, "fork: " + Errno(errno));
  if (pid == 0) {
    ExecChild(qmp_child.get(), err_write.get(), exec_write.get(), drop, request.run_as_uid,
              request.run_as_gid, parent, request.emulator.c_str(), argv.data(), envp.data());
  }
  child.Set(pid);
  // Only the child keeps its ends: EOF on ours then means the child is gone.
  qmp_child = UniqueFd();
  err_write = UniqueFd();
  exec_write = UniqueFd();

  // The child writes here only when it cannot exec; EOF means execve worked.
  // Bounded: between fork and exec the child makes only non-blocking calls.
  ChildFailure failure{};
  ssize_t got;
  do {
    got = read(exec_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    child.Kill();
    const std::size_t step =
        std::min(static_cast<std::size_t>(std::max(failure.step, 0)), kChildSteps.size() - 1);
    return fail(failure.error == ENOENT || failure.error == EACCES ? ErrorKind::kNotFound
                                                                   : ErrorKind::kSystem,
                std::string("cannot start it: ") + kChildSteps[step] + ": " + Errno(failure.error) +
                    (drop ? " (as uid " + std::to_string(request.run_as_uid) + ")" : ""));
  }

  Qmp session(qmp.get(), err_read.get(), deadline);
  // Whatever went wrong, QEMU's own words are the best explanation: collect
  // its stderr to the end (it exits after a refusal), then reap it.
  const auto qemu_failed = [&](const Error& error) {
    // QEMU that closed QMP is on its way out: let it finish and say why. One
    // that is still talking (a QMP error, a reply we cannot use) is killed.
    bool exited = false;
    if (session.qmp_closed() && !session.timed_out() && session.DrainToEof()) {
      exited = child.WaitUntil(deadline);
    }
    if (!exited) {
      child.Kill();
      session.DrainAvailable();
    }
    std::string message;
    if (session.timed_out()) {
      message = "timed out after " + std::to_string(request.timeout.count()) + " ms (" +
                error.message + "); killed it";
    } else if (exited) {
      message = "QEMU ended with " + DescribeStatus(child.status()) + " (" + error.message + ")";
    } else {
      message = error.message + "; killed it";
    }
    const std::string err = Trim(session.stderr_text());
    return fail(ErrorKind::kSystem, message, exited && !err.empty(), err);
  };

  auto greeting = session.Read();
  if (!greeting) return qemu_failed(greeting.error());
  if (!greeting->contains("QMP")) {
    return qemu_failed(Error{ErrorKind::kSystem, "no QMP greeting: " + greeting->dump()});
  }
  if (auto ok = session.Execute("qmp_capabilities"); !ok) return qemu_failed(ok.error());

  ProbeMeasurement m;
  auto version = session.Execute("query-version");
  if (!version) return qemu_failed(version.error());
  try {
    const Json& q = version->at("qemu");
    m.qemu_version = std::to_string(q.at("major").get<int>()) + "." +
                     std::to_string(q.at("minor").get<int>()) + "." +
                     std::to_string(q.at("micro").get<int>());
    m.qemu_package = version->value("package", "");
  } catch (const Json::exception& e) {
    return qemu_failed(Error{ErrorKind::kSystem, "query-version: " + std::string(e.what())});
  }

  auto devices = session.Execute("query-memory-devices");
  if (!devices) return qemu_failed(devices.error());
  const Json* nvdimm = nullptr;
  if (devices->is_array()) {
    for (const Json& d : *devices) {
      if (d.is_object() && d.value("type", "") == "nvdimm" && d.contains("data") &&
          d["data"].is_object() && d["data"].value("id", "") == "nvdimm0") {
        nvdimm = &d["data"];
      }
    }
  }
  if (nvdimm == nullptr) {
    return qemu_failed(
        Error{ErrorKind::kSystem, "query-memory-devices has no nvdimm0: " + devices->dump()});
  }
  auto size = Unsigned(nvdimm->value("size", Json()), "query-memory-devices size");
  if (!size) return qemu_failed(size.error());
  m.guest_size = *size;
  if (auto addr = Unsigned(nvdimm->value("addr", Json()), "addr")) m.addr = *addr;
  if (nvdimm->contains("slot") && (*nvdimm)["slot"].is_number_integer()) {
    m.slot = (*nvdimm)["slot"].get<std::int64_t>();
  }
  if (nvdimm->contains("node") && (*nvdimm)["node"].is_number_integer()) {
    m.node = (*nvdimm)["node"].get<std::int64_t>();
  }

  // QEMU could in principle adjust the label like it adjusts the guest area;
  // read back what the device really uses (hw/mem/nvdimm.c
  // nvdimm_get_label_size).
  auto label = session.Execute(
      "qom-get", {{"path", "/machine/peripheral/nvdimm0"}, {"property", "label-size"}});
  if (!label) return qemu_failed(label.error());
  auto label_size = Unsigned(*label, "qom-get label-size");
  if (!label_size) return qemu_failed(label_size.error());
  m.label_size = *label_size;

  if (auto quit = session.Execute("quit"); !quit) return qemu_failed(quit.error());
  // After "quit" QEMU closes both streams and exits; EOF and then the
  // pidfd are the synchronisation (no sleeping).
  if (!session.DrainToEof() || !child.WaitUntil(deadline)) {
    child.Kill();
    m.notes.push_back("QEMU did not exit after quit within the timeout; killed it");
  } else if (child.status() != 0) {
    m.notes.push_back("QEMU ended with " + DescribeStatus(child.status()) + " after quit");
  }
  m.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  for (std::string& line : Lines(session.stderr_text())) m.notes.push_back(std::move(line));
  return m;
}

}  // namespace

std::uint64_t ProbeRam(Arch arch) {
  return arch == Arch::kPpc64 ? 256 * MiB : 128 * MiB;
}

std::uint64_t ProbeMaxMemory(std::uint64_t target_size, Arch arch) {
  const std::uint64_t rounded = (target_size + GiB - 1) / GiB * GiB;
  return ProbeRam(arch) + rounded + GiB;
}

std::vector<std::string> ProbeCommandLine(const ProbeRequest& request,
                                          const std::string& backing_file) {
  std::vector<std::string> args = {
      request.emulator,
      "-S",  // paused: no guest code runs, nothing touches the backing pages
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-nic",
      "none",
  };
  if (request.sandbox) {
    // QEMU's seccomp filter (softmmu/qemu-seccomp.c): no setuid, no fork/exec,
    // no obsolete or resource-control syscalls.
    args.insert(
        args.end(),
        {"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  }
  // TCG always: KVM hangs on some hosts, and the layout does not depend on
  // the accelerator (the NVDIMM region is built before any vCPU runs).
  // virt has no default machine type; the others default to what libvirt
  // would pick too (pc, pseries).
  std::string machine = !request.machine.empty()         ? request.machine + ","
                        : request.arch == Arch::kAarch64 ? "virt,"
                                                         : "";
  machine += "nvdimm=on,accel=tcg";
  std::string object = "memory-backend-file,id=mem0,mem-path=" + EscapeOptionValue(backing_file) +
                       ",share=on,size=" + std::to_string(request.target_size);
  if (request.align_size != 0) object += ",align=" + std::to_string(request.align_size);
  if (request.pmem) object += ",pmem=on";
  std::string device = "nvdimm,id=nvdimm0,memdev=mem0";
  // QEMU has no "label-size=0": an unset label-size is the label-less NVDIMM.
  if (request.label_size != 0) device += ",label-size=" + std::to_string(request.label_size);
  if (request.arch == Arch::kPpc64) device += std::string(",uuid=") + kProbeNvdimmUuid;
  if (request.arch == Arch::kAarch64) {
    // A 64-bit CPU: acpi-ged exists only for aarch64 guests; TCG's "max"
    // is what libvirt's <cpu mode='maximum'/> gives.
    args.insert(args.end(),
                {"-cpu", "max", "-bios", EscapeOptionValue(backing_file + ".firmware")});
  }
  args.insert(args.end(),
              {"-machine", machine, "-m",
               std::to_string(ProbeRam(request.arch) / MiB) + "M,slots=1,maxmem=" +
                   std::to_string(ProbeMaxMemory(request.target_size, request.arch) / MiB) + "M",
               "-object", object, "-device", device, "-qmp", "stdio"});
  return args;
}

ProbeRequest ProbeRequestFor(const Domain& domain, const PlannedDevice& device) {
  ProbeRequest request;
  request.emulator = domain.emulator;
  request.machine = domain.machine;
  request.target_size = device.layout.target_size;
  request.label_size = device.layout.label_size;
  request.align_size = device.layout.align_size;
  request.pmem = device.layout.pmem;
  request.arch = domain.arch;
  return request;
}

Result<ProbeMeasurement> ProbeQemu(const ProbeRequest& request) {
  const std::string what = DescribeRequest(request) + ": ";
  const auto deadline = Clock::now() + request.timeout;
  if (request.emulator.empty() || request.emulator.front() != '/') {
    return Fail(ErrorKind::kInvalidInput,
                what + "the emulator must be an absolute path (the domain's <emulator>)");
  }
  struct stat st {};
  if (stat(request.emulator.c_str(), &st) != 0) {
    return Fail(ErrorKind::kNotFound, what + "cannot run the probe: " + Errno(errno));
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return Fail(ErrorKind::kNotFound, what + "cannot run the probe: not an executable file");
  }
  if (!IsMachineName(request.machine)) {
    return Fail(ErrorKind::kInvalidInput,
                what + "machine type '" + request.machine + "' is not a QEMU machine name");
  }
  if (request.target_size == 0 ||
      request.target_size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) ||
      request.target_size > std::numeric_limits<std::uint64_t>::max() - 2 * GiB) {
    return Fail(ErrorKind::kInvalidInput, what + "target size out of range");
  }

  // Root hands the probe to an unprivileged uid: QEMU parses our options and
  // maps a file, it needs no privilege for that.
  const bool drop = geteuid() == 0;
  ScratchDir scratch;
  auto dir = scratch.Create(request.scratch_dir);
  if (!dir) return std::unexpected(WithContext(dir.error(), what));
  const std::string file = *dir + "/backing";
  {
    const UniqueFd fd(open(file.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
      return Fail(ErrorKind::kSystem, what + "cannot create " + file + ": " + Errno(errno));
    }
    // Sparse: ftruncate allocates nothing, and a paused QEMU without
    // prealloc touches no page of it, so a probe of a 1 TiB device is free.
    if (ftruncate(fd.get(), static_cast<off_t>(request.target_size)) != 0) {
      return Fail(ErrorKind::kSystem, what + "cannot size " + file + ": " + Errno(errno));
    }
    if (drop && (fchown(fd.get(), request.run_as_uid, request.run_as_gid) != 0 ||
                 chown(dir->c_str(), request.run_as_uid, request.run_as_gid) != 0)) {
      return Fail(ErrorKind::kSystem, what + "cannot hand " + *dir + " to uid " +
                                          std::to_string(request.run_as_uid) + ": " + Errno(errno));
    }
  }
  if (request.arch == Arch::kAarch64) {
    const std::string firmware = file + ".firmware";
    const UniqueFd fd(
        open(firmware.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (fd.get() < 0 || ftruncate(fd.get(), kProbeFirmwareSize) != 0) {
      return Fail(ErrorKind::kSystem, what + "cannot create " + firmware + ": " + Errno(errno));
    }
  }

  ProbeRequest attempt = request;
  std::vector<std::string> notes;
  for (;;) {
    auto run = RunOnce(attempt, file, drop, deadline);
    if (run) {
      notes.insert(notes.end(), run->notes.begin(), run->notes.end());
      run->notes = std::move(notes);
      return std::move(*run);
    }
    // A QEMU built without seccomp rejects -sandbox while parsing options
    // (softmmu/vl.c qemu_init: "-sandbox support is not enabled in this QEMU
    // binary"). The probe is still worth having without it.
    if (attempt.sandbox && run.error().refused &&
        run.error().stderr_text.find("-sandbox") != std::string::npos && Clock::now() < deadline) {
      attempt.sandbox = false;
      notes.push_back("ran without -sandbox: " + run.error().stderr_text);
      continue;
    }
    Error error = run.error().error;
    // QEMU rejecting the geometry (too small for the label, an alignment
    // that is no power of two, a backing store smaller than the size) is a
    // fact about the plan, not a broken probe. Anything else it refuses is
    // the probe's own command line for this machine: say so, in QEMU's words.
    if (run.error().refused) {
      error.kind = ErrorKind::kInvalidInput;
      error.message = IsGeometryRefusal(run.error().stderr_text)
                          ? "QEMU refused the planned geometry: " + error.message
                          : "probe failed: QEMU said: " + run.error().stderr_text + " (" +
                                run.error().how + ")";
    }
    return std::unexpected(WithContext(std::move(error), what));
  }
}

}  // namespace nvh
