#include "state/libvirt_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "state/atomic_file.h"
#include "state/state_names.h"
#include "xml/xml_safety.h"
#include "xml/xml_tree.h"

namespace nvh {
namespace {

// A snapshot file holds a whole domain definition; virsh reads at most
// 10 MiB of XML (VSH_MAX_XML_FILE).
constexpr std::size_t kMaxFile = 10 * 1024 * 1024;

std::string Join(const std::string& dir, const std::string& name) {
  return dir + (dir.ends_with('/') ? "" : "/") + name;
}

// Opens a directory entry by the name its listing gave, never following a
// symlink: libvirt's directories are not ours, and nothing in them may lead
// a root hook elsewhere.
Result<UniqueFd> OpenFileAt(int dir_fd, const std::string& name, const std::string& path) {
  // O_NONBLOCK: a FIFO under the name must not hang the hook.
  const int fd =
      openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return std::unexpected(SystemError("open " + path, errno));
  return UniqueFd(fd);
}

// A directory by name under `parent_fd`; nullopt when it does not exist, or,
// for an entry of libvirt's directories (`entry`), when it is not a
// directory or is a symlink: libvirt puts neither there.
Result<std::optional<UniqueFd>> OpenDir(int parent_fd, const std::string& name,
                                        const std::string& path, bool entry) {
  const int fd = openat(parent_fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC | (entry ? O_NOFOLLOW : 0));
  if (fd < 0) {
    if (errno == ENOENT || (entry && (errno == ENOTDIR || errno == ELOOP))) {
      return std::optional<UniqueFd>();
    }
    return std::unexpected(SystemError("open " + path, errno));
  }
  return std::optional<UniqueFd>(UniqueFd(fd));
}

// Opens and lists a directory; false when it does not exist (or is not one,
// see OpenDir), an unreadable one is noted in `unreadable`.
bool OpenAndList(int parent_fd, const std::string& name, const std::string& path, bool entry,
                 std::vector<std::string>& unreadable, UniqueFd& fd,
                 std::vector<std::string>& names) {
  auto opened = OpenDir(parent_fd, name, path, entry);
  if (!opened) {
    unreadable.push_back(opened.error().message);
    return false;
  }
  if (!*opened) return false;
  auto listed = DirectoryEntries((*opened)->get(), path);
  if (!listed) {
    unreadable.push_back(listed.error().message);
    return false;
  }
  fd = std::move(**opened);
  names = std::move(*listed);
  return true;
}

Result<std::string> ReadRegular(int dir_fd, const std::string& name, const std::string& path) {
  auto fd = OpenFileAt(dir_fd, name, path);
  if (!fd) return std::unexpected(fd.error());
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return std::unexpected(SystemError("stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return Fail(ErrorKind::kInvalidInput, path + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFile) {
    return Fail(ErrorKind::kInvalidInput, path + " is larger than 10 MiB");
  }
  std::string data;
  char buffer[16384];
  while (data.size() <= kMaxFile) {
    const ssize_t n = read(fd->get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SystemError("read " + path, errno));
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

std::string Lower(std::string text) {
  return NormalizeUuid(text);
}

// `only`: text every file of interest contains (a domain uuid); others are
// read but not parsed, which keeps the hook's start cheap on hosts with many
// snapshots.
template <typename T, typename Parse>
void ScanFiles(int dir_fd, const std::string& dir_path, const std::vector<std::string>& names,
               std::string_view only, Parse&& parse, Scan<T>& scan) {
  for (const std::string& name : names) {
    if (!name.ends_with(".xml") || name.starts_with(".")) continue;
    const std::string path = Join(dir_path, name);
    auto text = ReadRegular(dir_fd, name, path);
    if (!text) {
      scan.skipped.push_back(text.error().message);
      continue;
    }
    if (!only.empty() && text->find(only) == std::string::npos) continue;
    auto parsed = parse(*text, path);
    if (!parsed) {
      scan.skipped.push_back(parsed.error().message);
      continue;
    }
    parsed->file = path;
    scan.found.push_back(std::move(*parsed));
  }
}

template <typename T>
std::unexpected<Error> NotA(std::string_view origin, const char* what) {
  return Fail(ErrorKind::kInvalidInput, std::string(origin) + ": not " + what);
}

}  // namespace

bool SnapshotInfo::HasMemory() const {
  if (memory == "internal" || memory == "external") return true;
  if (!memory.empty()) return false;  // "no"
  // Without <memory> (libvirt before 1.0.1 wrote none): libvirt's parser
  // takes a snapshot of a running domain as one with memory
  // (virDomainSnapshotDefParse).
  return state != "shutoff" && state != "disk-snapshot" && !state.empty();
}

Result<SnapshotInfo> ParseSnapshotXml(std::string_view text, std::string_view origin) {
  auto doc = xml::SafeParse(text, origin, kMaxFile);
  if (!doc) return std::unexpected(doc.error());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!xml::IsElement(root, "domainsnapshot"))
    return NotA<SnapshotInfo>(origin, "a <domainsnapshot>");
  SnapshotInfo info;
  info.name = xml::Text(xml::Child(root, "name"));
  info.state = xml::Text(xml::Child(root, "state"));
  if (const xmlNode* memory = xml::Child(root, "memory")) {
    info.memory = xml::Attr(memory, "snapshot").value_or("");
  }
  const xmlNode* domain = xml::Child(root, "domain");
  info.domain_uuid = Lower(xml::Text(xml::Child(domain, "uuid")));
  info.domain_name = xml::Text(xml::Child(domain, "name"));
  if (info.name.empty() || !IsValidUuid(info.domain_uuid)) {
    return NotA<SnapshotInfo>(origin, "a snapshot with a <name> and a <domain><uuid>");
  }
  return info;
}

Result<LiveDomain> ParseStatusXml(std::string_view text, std::string_view origin) {
  auto doc = xml::SafeParse(text, origin, kMaxFile);
  if (!doc) return std::unexpected(doc.error());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!xml::IsElement(root, "domstatus")) return NotA<LiveDomain>(origin, "a <domstatus>");
  const xmlNode* domain = xml::Child(root, "domain");
  LiveDomain live;
  live.uuid = Lower(xml::Text(xml::Child(domain, "uuid")));
  live.name = xml::Text(xml::Child(domain, "name"));
  if (!IsValidUuid(live.uuid)) return NotA<LiveDomain>(origin, "a status with a <domain><uuid>");
  for (const xmlNode* memory : xml::Children(xml::Child(domain, "devices"), "memory")) {
    if (xml::Attr(memory, "model").value_or("") != "nvdimm") continue;
    const std::string path = xml::Text(xml::Descend(memory, {"source", "path"}));
    if (!path.empty()) live.nvdimm_paths.push_back(path);
  }
  return live;
}

Scan<SnapshotInfo> ScanSnapshots(const std::vector<std::string>& snapshot_dirs,
                                 std::string_view domain_uuid) {
  Scan<SnapshotInfo> scan;
  // libvirt writes uuids in lower case (virUUIDFormat).
  const std::string only = domain_uuid.empty() ? std::string() : NormalizeUuid(domain_uuid);
  for (const std::string& dir : snapshot_dirs) {
    UniqueFd top;
    std::vector<std::string> domains;
    if (!OpenAndList(AT_FDCWD, dir, dir, false, scan.unreadable, top, domains)) continue;
    // One subdirectory per domain, named by libvirt; its name is never used
    // to find a domain, only the uuid inside each file.
    for (const std::string& sub : domains) {
      const std::string sub_path = Join(dir, sub);
      UniqueFd sub_fd;
      std::vector<std::string> files;
      if (!OpenAndList(top.get(), sub, sub_path, true, scan.unreadable, sub_fd, files)) continue;
      ScanFiles(sub_fd.get(), sub_path, files, only, ParseSnapshotXml, scan);
    }
  }
  return scan;
}

Scan<LiveDomain> ScanLiveDomains(const std::vector<std::string>& run_dirs) {
  Scan<LiveDomain> scan;
  for (const std::string& dir : run_dirs) {
    UniqueFd fd;
    std::vector<std::string> names;
    if (!OpenAndList(AT_FDCWD, dir, dir, false, scan.unreadable, fd, names)) continue;
    ScanFiles(fd.get(), dir, names, {}, ParseStatusXml, scan);
  }
  return scan;
}

std::vector<SnapshotInfo> MemorySnapshotsOf(const Scan<SnapshotInfo>& scan,
                                            std::string_view domain_uuid) {
  std::vector<SnapshotInfo> out;
  const std::string uuid = NormalizeUuid(domain_uuid);
  for (const SnapshotInfo& s : scan.found) {
    if (s.domain_uuid == uuid && s.HasMemory()) out.push_back(s);
  }
  return out;
}

}  // namespace nvh
