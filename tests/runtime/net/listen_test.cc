#include "runtime/net/listen.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace tend::net {
namespace {

TEST(ListenTest, TcpOnPortZeroGetsAFreePort) {
  absl::StatusOr<Listening> listening = ListenTcp("127.0.0.1:0", 16);
  ASSERT_TRUE(listening.ok()) << listening.status();
  EXPECT_GT(listening->port, 0);
  EXPECT_EQ(LocalAddressText(listening->fd.get()), "127.0.0.1:" + std::to_string(listening->port));
  EXPECT_EQ(ListenTcp("127.0.0.1:x", 16).status().message(), "'127.0.0.1:x' is not [ADDR:]PORT");
  EXPECT_EQ(ListenTcp("300.0.0.1:0", 16).status().message(), "'300.0.0.1' is not an IPv4 address");
}

TEST(ListenTest, TheLogShowsTheAddressWithThePortBound) {
  EXPECT_EQ(WithPort("127.0.0.1:0", 40123), "127.0.0.1:40123");
  EXPECT_EQ(WithPort("[::1]:0", 40123), "[::1]:40123");
  EXPECT_EQ(WithPort("9615", 9615), "0.0.0.0:9615");
}

sockaddr_storage Peer(int family, const char* text) {
  sockaddr_storage peer{};
  peer.ss_family = family;
  void* address = family == AF_INET6
                      ? static_cast<void*>(&reinterpret_cast<sockaddr_in6&>(peer).sin6_addr)
                      : static_cast<void*>(&reinterpret_cast<sockaddr_in&>(peer).sin_addr);
  EXPECT_EQ(inet_pton(family, text, address), 1) << text;
  return peer;
}

// One host may have a whole IPv6 /64: per-client bounds count the /64, or any address of it
// would be a new client.
TEST(ListenTest, APerClientBoundCountsAnIpv6HostByItsSlash64) {
  EXPECT_EQ(ClientOf(Peer(AF_INET, "10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(ClientOf(Peer(AF_INET6, "::ffff:10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(ClientOf(Peer(AF_INET6, "2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientOf(Peer(AF_INET6, "2001:db8:1:2:bbbb::7")), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientOf(Peer(AF_INET6, "64:ff9b::10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(ClientOf(Peer(AF_INET6, "::1")), "::1");
}

TEST(ListenTest, AUnixSocketIsPrivateAndAStaleOneIsReplaced) {
  // A short folder of its own: a Unix socket's path must fit in 108 bytes.
  char folder[] = "/tmp/tend-listen-XXXXXX";
  ASSERT_NE(mkdtemp(folder), nullptr);
  std::string path = std::string(folder) + "/control.sock";
  {
    absl::StatusOr<Listening> first = ListenUnix(path, 16);
    ASSERT_TRUE(first.ok()) << first.status();
    struct stat info;
    ASSERT_EQ(stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 077, 0u);
    // Served by a live listener: refused, and left alone.
    EXPECT_FALSE(ListenUnix(path, 16).ok());
  }
  // Left behind by a listener that is gone: taken over.
  EXPECT_TRUE(ListenUnix(path, 16).ok());
  unlink(path.c_str());
  rmdir(folder);
}

}  // namespace
}  // namespace tend::net
