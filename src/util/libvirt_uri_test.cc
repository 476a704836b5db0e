#include "util/libvirt_uri.h"

#include <gtest/gtest.h>

namespace nvh {
namespace {

TEST(LibvirtUri, LocalUrisHaveNoRemotePart) {
  for (const char* uri :
       {"", "qemu:///system", "qemu:///session", "qemu+unix:///system",
        "qemu+unix:///system?socket=/run/libvirt/libvirt-sock", "test:///default"}) {
    EXPECT_EQ(RemotePartOfUri(uri), "") << uri;
    EXPECT_TRUE(RequireLocalUri(uri)) << uri;
  }
}

TEST(LibvirtUri, HostOrTransportIsRemote) {
  EXPECT_EQ(RemotePartOfUri("qemu+ssh://otherhost/system"), "host 'otherhost'");
  EXPECT_EQ(RemotePartOfUri("qemu+ssh://root@otherhost:2222/system"), "host 'otherhost'");
  EXPECT_EQ(RemotePartOfUri("qemu+tcp://[fd00::1]:16509/system"), "host '[fd00::1]'");
  EXPECT_EQ(RemotePartOfUri("qemu://host.example.org/system"), "host 'host.example.org'");
  EXPECT_EQ(RemotePartOfUri("qemu+ext:///system?command=/bin/x"), "transport 'ext'");
  EXPECT_EQ(RemotePartOfUri("qemu+libssh2:///system"), "transport 'libssh2'");
}

TEST(LibvirtUri, RemoteRefusalSaysWhereToRun) {
  auto refused = RequireLocalUri("qemu+ssh://otherhost/system");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("'qemu+ssh://otherhost/system'"), std::string::npos);
  EXPECT_NE(refused.error().message.find("host 'otherhost'"), std::string::npos);
  EXPECT_NE(refused.error().message.find("run nvdimmctl on that host"), std::string::npos);
}

TEST(LibvirtUri, DaemonOnAnotherHostIsRefused) {
  EXPECT_TRUE(RequireLocalConnection("qemu:///system", "vmhost", "vmhost"));
  EXPECT_TRUE(RequireLocalConnection("qemu:///system", "vmhost.example.org", "vmhost"));
  EXPECT_TRUE(RequireLocalConnection("qemu:///system", "VMHOST", "vmhost"));
  auto refused = RequireLocalConnection("qemu:///system", "otherhost", "vmhost");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("host 'otherhost', this host is 'vmhost'"),
            std::string::npos);
  EXPECT_FALSE(RequireLocalConnection("qemu:///system", "a.example.org", "a.example.com"));
  EXPECT_FALSE(RequireLocalConnection("qemu+ssh://vmhost/system", "vmhost", "vmhost"));
}

TEST(LibvirtUri, SameHostName) {
  EXPECT_TRUE(SameHostName("a", "a.b.c"));
  EXPECT_FALSE(SameHostName("ab", "a.b"));
  EXPECT_FALSE(SameHostName("a.x", "a.y"));
}

}  // namespace
}  // namespace nvh
