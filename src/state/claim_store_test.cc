#include "state/claim_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "state/state_test_util.h"
#include "util/scoped_temp_dir.h"

extern char** environ;

namespace nvh {
namespace {

using std::chrono::seconds;
using testing_state::FakeClock;
using testing_state::FakeLiveness;
using testing_state::RawEntries;

constexpr char kNs1[] = "6e9c8a2f-1111-4c1e-9a55-0123456789ab";
constexpr char kNs2[] = "7f0d9b30-2222-4d2f-8b66-123456789abc";
constexpr char kNs3[] = "namespace1.0";
const ClaimOwner kVm1{"11111111-aaaa-4bbb-8ccc-000000000001", "vm1"};
const ClaimOwner kVm2{"22222222-aaaa-4bbb-8ccc-000000000002", "vm2"};
constexpr seconds kGrace{300};

class ClaimStoreTest : public ::testing::Test {
 protected:
  ClaimStore Store() const { return ClaimStore(run_dir_, kGrace, liveness_, clock_); }
  std::string ClaimsDir() const { return run_dir_ + "/claims"; }

  ScopedTempDir tmp_;
  std::string run_dir_ = tmp_.path() + "/run/nvdimm-hook";
  std::shared_ptr<FakeLiveness> liveness_ = std::make_shared<FakeLiveness>();
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(ClaimStoreTest, ClaimsEveryKeyWithPrivateFiles) {
  auto result = Store().ClaimAll(kVm1, {kNs1, kNs2});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->claimed, (std::vector<std::string>{kNs1, kNs2}));
  EXPECT_TRUE(result->renewed.empty());
  EXPECT_TRUE(result->taken_over.empty());
  EXPECT_EQ(RawEntries(ClaimsDir()), (std::vector<std::string>{kNs1, kNs2}));
  struct stat st {};
  ASSERT_EQ(stat((ClaimsDir() + "/" + kNs1).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(ClaimsDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat(run_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  std::ifstream in(ClaimsDir() + "/" + kNs1);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto claim = ClaimFromText(text, kNs1);
  ASSERT_TRUE(claim.has_value()) << claim.error().message << "\n" << text;
  EXPECT_EQ(claim->owner.uuid, kVm1.uuid);
  EXPECT_EQ(claim->owner.name, "vm1");
  EXPECT_EQ(claim->taken, clock_->now);
}

TEST_F(ClaimStoreTest, AllOrNoneOnConflictAndTheMessageNamesTheOwner) {
  liveness_->states["vm1"] = QemuState::kRunning;
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1}).has_value());
  auto result = Store().ClaimAll(kVm2, {kNs2, kNs1, kNs3});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kConflict);
  const std::string& message = result.error().message;
  EXPECT_NE(message.find(kNs1), std::string::npos) << message;
  EXPECT_NE(message.find("'vm1'"), std::string::npos) << message;
  EXPECT_NE(message.find(kVm1.uuid), std::string::npos) << message;
  EXPECT_NE(message.find("running"), std::string::npos) << message;
  EXPECT_EQ(message.find(kNs2), std::string::npos) << message;
  // Neither free namespace was taken.
  EXPECT_EQ(RawEntries(ClaimsDir()), std::vector<std::string>{kNs1});
}

TEST_F(ClaimStoreTest, ConflictListsEveryHeldNamespace) {
  liveness_->states["vm1"] = QemuState::kRunning;
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1, kNs2}).has_value());
  auto result = Store().ClaimAll(kVm2, {kNs1, kNs2});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find(kNs1), std::string::npos);
  EXPECT_NE(result.error().message.find(kNs2), std::string::npos);
}

TEST_F(ClaimStoreTest, SameOwnerMayClaimAgainAndRenewsTimeAndName) {
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1}).has_value());
  clock_->now += seconds(1000);
  ClaimOwner renamed = kVm1;
  renamed.name = "vm1-renamed";
  // Upper case is the same uuid.
  for (char& c : renamed.uuid) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto result = Store().ClaimAll(renamed, {kNs1, kNs2, kNs1});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->renewed, std::vector<std::string>{kNs1});
  EXPECT_EQ(result->claimed, std::vector<std::string>{kNs2});
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  for (const ClaimStatus& status : *list) {
    ASSERT_TRUE(status.claim.has_value()) << status.problem;
    EXPECT_EQ(status.claim->owner.uuid, kVm1.uuid);
    EXPECT_EQ(status.claim->owner.name, "vm1-renamed");
    EXPECT_EQ(status.age, seconds(0));
  }
}

TEST_F(ClaimStoreTest, ReleaseDropsOnlyThatOwnersClaims) {
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1, kNs3}).has_value());
  ASSERT_TRUE(Store().ClaimAll(kVm2, {kNs2}).has_value());
  auto released = Store().ReleaseAll(kVm1.uuid);
  ASSERT_TRUE(released.has_value()) << released.error().message;
  EXPECT_EQ(*released, (std::vector<std::string>{kNs1, kNs3}));
  EXPECT_EQ(RawEntries(ClaimsDir()), std::vector<std::string>{kNs2});
  // Releasing again (stopped, then release) is fine.
  auto again = Store().ReleaseAll(kVm1.uuid);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->empty());
  liveness_->states["vm1"] = QemuState::kRunning;
  EXPECT_TRUE(Store().ClaimAll(kVm2, {kNs1, kNs3}).has_value());
}

TEST_F(ClaimStoreTest, ReleaseAndListWithoutRunDirCreateNothing) {
  auto released = Store().ReleaseAll(kVm1.uuid);
  ASSERT_TRUE(released.has_value()) << released.error().message;
  EXPECT_TRUE(released->empty());
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
  auto nothing = Store().ClaimAll(kVm1, {});
  ASSERT_TRUE(nothing.has_value());
  EXPECT_TRUE(nothing->claimed.empty());
  EXPECT_FALSE(std::filesystem::exists(run_dir_));
}

TEST_F(ClaimStoreTest, InvalidKeysAndUuidsAreRefusedBeforeAnyFileExists) {
  for (const std::string& key :
       {std::string(), std::string("."), std::string(".."), std::string("../../etc/passwd"),
        std::string("a/b"), std::string(".hidden"), std::string(65, 'a'), std::string("a b"),
        std::string("a\nb"), std::string("name_with_underscore"), std::string("\xc3\xa9")}) {
    auto result = Store().ClaimAll(kVm1, {kNs1, key});
    ASSERT_FALSE(result.has_value()) << key;
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput) << key;
  }
  EXPECT_TRUE(Store().ClaimAll(kVm1, {std::string(64, 'a')}).has_value());
  for (const std::string uuid : {"", "vm1", "../11111111-aaaa-4bbb-8ccc-00000000000",
                                 "11111111-aaaa-4bbb-8ccc-00000000000g"}) {
    auto result = Store().ClaimAll({uuid, "vm"}, {kNs1});
    ASSERT_FALSE(result.has_value()) << uuid;
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
    EXPECT_FALSE(Store().ReleaseAll(uuid).has_value());
  }
  EXPECT_FALSE(Store().ClaimAll({kVm1.uuid, ""}, {kNs1}).has_value());
  EXPECT_EQ(RawEntries(ClaimsDir()), std::vector<std::string>{std::string(64, 'a')});
}

TEST_F(ClaimStoreTest, OwnerNamesAreDataNeverPaths) {
  const ClaimOwner odd{kVm1.uuid, "../../etc/x,y \"quoted\" \xff"};
  ASSERT_TRUE(Store().ClaimAll(odd, {kNs1}).has_value());
  EXPECT_EQ(RawEntries(ClaimsDir()), std::vector<std::string>{kNs1});
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  ASSERT_TRUE((*list)[0].claim.has_value()) << (*list)[0].problem;
  // Not UTF-8 is stored replaced, not refused.
  EXPECT_EQ((*list)[0].claim->owner.name.substr(0, 22), "../../etc/x,y \"quoted\"");
}

TEST_F(ClaimStoreTest, UnreadableClaimBlocksThatNamespaceAndIsListed) {
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs2}).has_value());
  std::ofstream(ClaimsDir() + "/" + kNs1) << "{not json";
  auto result = Store().ClaimAll(kVm2, {kNs1});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kSystem);
  EXPECT_NE(result.error().message.find("remove it"), std::string::npos);
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_FALSE((*list)[0].claim.has_value());
  EXPECT_FALSE((*list)[0].problem.empty());
  // Release of other owners still works around it.
  EXPECT_TRUE(Store().ReleaseAll(kVm1.uuid).has_value());
}

TEST_F(ClaimStoreTest, WriterRemovesTempFilesOfDeadWriters) {
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1}).has_value());
  std::ofstream(ClaimsDir() + "/." + kNs2 + ".tmp-999-abcd") << "{\"version\":1,";
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 1u);
  ASSERT_TRUE(Store().ClaimAll(kVm2, {kNs2}).has_value());
  EXPECT_EQ(RawEntries(ClaimsDir()), (std::vector<std::string>{kNs1, kNs2}));
}

// ---- staleness ----------------------------------------------------------

class ClaimStalenessTest : public ClaimStoreTest {};

TEST_F(ClaimStalenessTest, TakenOverOnlyWithoutQemuAndAfterTheGrace) {
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1}).has_value());
  const auto taken = clock_->now;

  struct Case {
    QemuState qemu;
    seconds age;
    bool stale;
  };
  for (const Case& c : {Case{QemuState::kNotRunning, kGrace, false},
                        Case{QemuState::kRunning, kGrace + seconds(1), false},
                        Case{QemuState::kUnknown, kGrace * 100, false},
                        Case{QemuState::kRunning, seconds(0), false},
                        Case{QemuState::kNotRunning, seconds(-3600), false}}) {
    liveness_->states["vm1"] = c.qemu;
    clock_->now = taken + c.age;
    auto result = Store().ClaimAll(kVm2, {kNs1});
    ASSERT_FALSE(result.has_value()) << QemuStateName(c.qemu) << " " << c.age.count();
    EXPECT_EQ(result.error().kind, ErrorKind::kConflict);
    auto list = Store().List();
    ASSERT_TRUE(list.has_value());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_FALSE((*list)[0].stale);
    EXPECT_EQ((*list)[0].owner_qemu, c.qemu);
  }

  liveness_->states["vm1"] = QemuState::kNotRunning;
  clock_->now = taken + kGrace + seconds(1);
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].stale);
  EXPECT_EQ((*list)[0].age, kGrace + seconds(1));

  auto result = Store().ClaimAll(kVm2, {kNs1, kNs2});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->taken_over.size(), 1u);
  EXPECT_EQ(result->taken_over[0].previous.key, kNs1);
  EXPECT_EQ(result->taken_over[0].previous.owner.uuid, kVm1.uuid);
  EXPECT_EQ(result->taken_over[0].previous.owner.name, "vm1");
  EXPECT_EQ(result->taken_over[0].age, kGrace + seconds(1));
  EXPECT_EQ(result->claimed, std::vector<std::string>{kNs2});
  // vm1's release after the takeover must not drop vm2's claim.
  auto released = Store().ReleaseAll(kVm1.uuid);
  ASSERT_TRUE(released.has_value());
  EXPECT_TRUE(released->empty());
}

TEST_F(ClaimStalenessTest, OneLiveClaimBlocksTakingOverTheStaleOnes) {
  liveness_->states["vm1"] = QemuState::kRunning;
  ASSERT_TRUE(Store().ClaimAll(kVm1, {kNs1}).has_value());
  const ClaimOwner vm3{"33333333-aaaa-4bbb-8ccc-000000000003", "vm3"};
  ASSERT_TRUE(Store().ClaimAll(vm3, {kNs2}).has_value());
  clock_->now += kGrace * 2;
  auto result = Store().ClaimAll(kVm2, {kNs2, kNs1});
  ASSERT_FALSE(result.has_value());
  auto list = Store().List();
  ASSERT_TRUE(list.has_value());
  for (const auto& status : *list) {
    ASSERT_TRUE(status.claim.has_value());
    EXPECT_NE(status.claim->owner.uuid, kVm2.uuid) << status.key;
  }
}

// ---- real liveness --------------------------------------------------------

TEST(ClaimLivenessTest, CmdlineParsing) {
  const auto cmd = [](std::initializer_list<std::string> args) {
    std::string out;
    for (const auto& a : args) out += a + '\0';
    return out;
  };
  EXPECT_TRUE(CmdlineNamesGuest(
      cmd({"/usr/bin/qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on", "-S"}), "vm1"));
  EXPECT_TRUE(CmdlineNamesGuest(cmd({"qemu", "-name", "vm1"}), "vm1"));
  EXPECT_TRUE(CmdlineNamesGuest(cmd({"qemu", "-name", "debug-threads=on,guest=vm1"}), "vm1"));
  EXPECT_TRUE(CmdlineNamesGuest(cmd({"qemu", "-name", "guest=a,,b,debug-threads=on"}), "a,b"));
  EXPECT_FALSE(CmdlineNamesGuest(cmd({"qemu", "-name", "guest=a,,b,debug-threads=on"}), "a"));
  EXPECT_FALSE(CmdlineNamesGuest(cmd({"qemu", "-name", "guest=vm10"}), "vm1"));
  EXPECT_FALSE(CmdlineNamesGuest(cmd({"qemu", "guest=vm1"}), "vm1"));
  EXPECT_FALSE(CmdlineNamesGuest(cmd({"qemu", "-name"}), "vm1"));
  EXPECT_FALSE(CmdlineNamesGuest("", "vm1"));
}

// A process whose /proc/<pid>/cmdline looks like libvirt's QEMU for `name`:
// sh blocks in the `read` builtin (no exec, so its argv stays) until killed.
// It says "ready" first: posix_spawn returns once the child has left our
// memory, which is before exec has set up the new argv (cmdline reads empty
// until then).
class FakeQemu {
 public:
  explicit FakeQemu(const std::string& name) {
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return;
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return;
    }
    stdin_writer_ = in[1];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    // libvirt doubles commas in the name (virQEMUBuildBufferEscapeComma).
    std::string escaped;
    for (const char c : name) escaped += c == ',' ? std::string(",,") : std::string(1, c);
    const std::string guest = "guest=" + escaped + ",debug-threads=on";
    std::vector<std::string> args = {"sh", "-c", "echo ready; read -r line", "-name", guest};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, "/bin/sh", &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    char ready[6] = {};
    std::size_t got = 0;
    while (pid_ > 0 && got < sizeof ready) {
      const ssize_t n = read(out[0], ready + got, sizeof ready - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    close(out[0]);
    if (got != sizeof ready) Kill();
  }
  ~FakeQemu() {
    Kill();
    if (stdin_writer_ >= 0) close(stdin_writer_);
  }
  pid_t pid() const { return pid_; }
  // Ends sh (its read sees EOF) and waits until it is a zombie, unreaped.
  bool ExitAsZombie() {
    close(stdin_writer_);
    stdin_writer_ = -1;
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_writer_ = -1;
};

void WritePidFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir + "/" + name + ".pid") << text;
}

TEST(ClaimLivenessTest, RealPidFileAndProcess) {
  ScopedTempDir tmp;
  const std::string system_dir = tmp.path() + "/system";
  const std::string session_dir = tmp.path() + "/session";
  std::filesystem::create_directory(system_dir);
  std::filesystem::create_directory(session_dir);
  const LibvirtPidFileLiveness liveness({tmp.path() + "/absent", system_dir, session_dir});

  FakeQemu qemu("vm,1");
  ASSERT_GT(qemu.pid(), 0);
  EXPECT_EQ(liveness.QemuOf("vm,1"), QemuState::kNotRunning);  // no pid file yet
  WritePidFile(session_dir, "vm,1", std::to_string(qemu.pid()) + "\n");
  EXPECT_EQ(liveness.QemuOf("vm,1"), QemuState::kRunning);
  EXPECT_EQ(ProcessIsQemuOf(qemu.pid(), "vm,1"), QemuState::kRunning);
  EXPECT_EQ(ProcessIsQemuOf(qemu.pid(), "vm"), QemuState::kNotRunning);
  // Another domain naming the same pid (a recycled pid) is not alive.
  WritePidFile(system_dir, "vm2", std::to_string(qemu.pid()));
  EXPECT_EQ(liveness.QemuOf("vm2"), QemuState::kNotRunning);
  // A live process that is not this domain's QEMU: our own pid.
  WritePidFile(system_dir, "vm3", std::to_string(getpid()));
  EXPECT_EQ(liveness.QemuOf("vm3"), QemuState::kNotRunning);
  // A pid file being written says nothing yet.
  WritePidFile(system_dir, "vm4", "");
  EXPECT_EQ(liveness.QemuOf("vm4"), QemuState::kUnknown);
  WritePidFile(system_dir, "vm5", "-1");
  EXPECT_EQ(liveness.QemuOf("vm5"), QemuState::kUnknown);
  // Names are compared, never joined into a path.
  EXPECT_EQ(liveness.QemuOf("../session/vm,1"), QemuState::kNotRunning);

  // Exited, not yet reaped by libvirtd: gone all the same.
  ASSERT_TRUE(qemu.ExitAsZombie());
  EXPECT_EQ(liveness.QemuOf("vm,1"), QemuState::kNotRunning);
  qemu.Kill();
  EXPECT_EQ(liveness.QemuOf("vm,1"), QemuState::kNotRunning);
}

TEST(ClaimLivenessTest, StoreTakesOverOnlyAfterTheRealQemuIsGone) {
  ScopedTempDir tmp;
  const std::string libvirt_dir = tmp.path() + "/libvirt";
  std::filesystem::create_directory(libvirt_dir);
  auto clock = std::make_shared<FakeClock>();
  const ClaimStore store(
      tmp.path() + "/run", kGrace,
      std::make_shared<LibvirtPidFileLiveness>(std::vector<std::string>{libvirt_dir}), clock);
  FakeQemu qemu("vm1");
  ASSERT_GT(qemu.pid(), 0);
  WritePidFile(libvirt_dir, "vm1", std::to_string(qemu.pid()));
  ASSERT_TRUE(store.ClaimAll(kVm1, {kNs1}).has_value());
  clock->now += kGrace * 10;
  auto blocked = store.ClaimAll(kVm2, {kNs1});
  ASSERT_FALSE(blocked.has_value());
  EXPECT_NE(blocked.error().message.find("its QEMU is running"), std::string::npos)
      << blocked.error().message;
  qemu.Kill();  // the pid file stays, as after a crash of libvirtd and QEMU
  auto taken = store.ClaimAll(kVm2, {kNs1});
  ASSERT_TRUE(taken.has_value()) << taken.error().message;
  ASSERT_EQ(taken->taken_over.size(), 1u);
  EXPECT_EQ(taken->taken_over[0].previous.owner.name, "vm1");
}

}  // namespace
}  // namespace nvh
