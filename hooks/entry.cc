// nvdimm-hook-entry: what libvirt executes from its hook directory
// (/etc/libvirt/hooks/qemu.d/50-nvdimm-hook links here) for every operation
// of every domain on the host, `reconnect` for each running domain at every
// daemon restart. Nearly all of those calls concern domains without NVDIMMs,
// so this program is linked with libc only (statically where the build
// allows): it drains stdin, takes the full hook's fast path
// (src/guard/fast_path.h) and otherwise execs the full hook, fixed at build
// time (NVH_FULL_HOOK_PATH, never looked up through PATH: libvirt hands
// hooks its own PATH), with the same argv, the same environment and the XML
// it read as stdin (a sealed memfd). exec keeps the pid, so libvirt waits for
// the full hook and gets its exit status and stderr unchanged.
//
// No libstdc++ here: <string_view> is used only for its inline, non-throwing
// parts, and the link uses -nostdlib++, so anything that would need the C++
// runtime fails to link instead of slipping in.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include <string_view>

#include "guard/fast_path.h"

#ifndef NVH_FULL_HOOK_PATH
#error "NVH_FULL_HOOK_PATH (the full hook's absolute path) must be defined by the build"
#endif

namespace {

namespace fp = nvh::fast_path;

constexpr std::string_view kFullHook = NVH_FULL_HOOK_PATH;
static_assert(kFullHook.starts_with('/'), "the full hook is run by absolute path only");

// The kept prefix of stdin. In .bss: pages a short XML never touches cost
// nothing.
char kept_xml[fp::kKeptXmlBytes];

struct Input {
  std::size_t kept = 0;  // bytes in kept_xml
  int error = 0;         // errno of the read that failed, 0 at end of file
};

// Reads stdin to its end (libvirt writes the whole XML and may block on a
// full pipe otherwise), keeping the first kKeptXmlBytes as the full hook
// does. A non-blocking stdin is waited for rather than taken as the end.
Input DrainStdin() {
  Input in;
  char scratch[65536];
  for (;;) {
    const bool keeping = in.kept < sizeof kept_xml;
    char* const into = keeping ? kept_xml + in.kept : scratch;
    const std::size_t room = keeping ? sizeof kept_xml - in.kept : sizeof scratch;
    const ssize_t n = read(STDIN_FILENO, into, room);
    if (n > 0) {
      if (keeping) in.kept += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return in;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd wait_for_input{STDIN_FILENO, POLLIN, 0};
      if (poll(&wait_for_input, 1, -1) >= 0 || errno == EINTR) continue;
    }
    in.error = errno;
    return in;
  }
}

// One line on stderr (libvirt shows it to the virsh user on a non-zero
// exit) and the same in syslog, as the full hook reports its decisions.
void Report(int priority, const char* domain, const char* op, const char* what, int error) {
  dprintf(STDERR_FILENO, "nvdimm-hook: domain '%s' %s: %s: %s\n", domain, op, what,
          strerror(error));
  openlog("nvdimm-hook", LOG_PID, LOG_DAEMON);
  syslog(priority, "domain '%s' %s: %s: %s", domain, op, what, strerror(error));
  closelog();
}

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Puts exactly the kept XML on stdin, read-only for anyone holding it, at
// offset 0. Returns the step that failed (errno set), or nullptr.
const char* XmlOnStdin(std::size_t size) {
  const int fd = memfd_create("nvdimm-hook-domain-xml", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return "memfd_create";
  if (!WriteAll(fd, kept_xml, size)) return "writing the domain XML to a memfd";
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return "sealing the memfd";
  }
  if (lseek(fd, 0, SEEK_SET) != 0) return "rewinding the memfd";
  if (dup2(fd, STDIN_FILENO) != STDIN_FILENO) return "dup2 of the memfd to stdin";
  return nullptr;  // fd itself closes at exec
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    // Not libvirt calling: the full hook prints its usage (stdin untouched).
    execv(kFullHook.data(), argv);
    dprintf(STDERR_FILENO, "nvdimm-hook: cannot run %s: %s\n", kFullHook.data(), strerror(errno));
    return 2;
  }
  const char* const domain = argv[1];
  const char* const op = argv[2];
  const Input in = DrainStdin();
  switch (fp::Decide(argc, op, std::string_view(kept_xml, in.kept), in.error != 0)) {
    case fp::FirstDecision::kAllow:
      return 0;
    case fp::FirstDecision::kRefuse:
      Report(LOG_ERR, domain, op,
             "reading the domain XML from stdin failed, so its NVDIMMs cannot be checked",
             in.error);
      return 1;
    case fp::FirstDecision::kFullCheck:
      break;
  }
  if (const char* failed = XmlOnStdin(in.kept)) {
    Report(LOG_ERR, domain, op, failed, errno);
    return fp::HandOverFailedExit(op);
  }
  execv(kFullHook.data(), argv);
  const int error = errno;
  char what[256];
  snprintf(what, sizeof what, "cannot run %s", kFullHook.data());
  Report(LOG_ERR, domain, op, what, error);
  return fp::HandOverFailedExit(op);
}
