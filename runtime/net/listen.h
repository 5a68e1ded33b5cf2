#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"

namespace tend::net {

struct Listening {
  UniqueFd fd;   // non-blocking, close-on-exec
  int port = 0;  // TCP: the port bound (a free one for port 0)
};

// `host` (empty: any address) and `port` as a socket address of `family` (AF_INET or
// AF_INET6); false when `host` is not an address of that family.
bool MakeSocketAddress(int family, const std::string& host, int port, sockaddr_storage* storage,
                       socklen_t* length);

// Listens on "ADDR:PORT" ("[ADDR]:PORT" for IPv6; no ADDR: every IPv4 address).
absl::StatusOr<Listening> ListenTcp(const std::string& address, int backlog);

// Listens on a Unix socket at `path`, created 0600: only tend's user (and root) may connect.
// A socket file left by a dead process is replaced; one a live process serves is refused.
absl::StatusOr<Listening> ListenUnix(const std::string& path, int backlog);

// "ADDR:PORT" as asked, with the port bound instead ("0.0.0.0:0" and 40123 give
// "0.0.0.0:40123"), for the logs.
std::string WithPort(const std::string& address, int port);

// The address a socket is bound to (getsockname); nullopt if it cannot be had.
std::optional<sockaddr_storage> LocalAddress(int fd);

// An IP socket address's host as text ("?" for other families), and its port.
std::string AddressOf(const sockaddr_storage& peer);
int PortOf(const sockaddr_storage& address);
// Who a per-client bound counts a peer as: its IPv4 address (one mapped or NAT64-translated
// into IPv6 too), ::1, or its IPv6 /64, which one host may be given whole
// ("2001:db8:1:2::/64").
std::string ClientOf(const sockaddr_storage& peer);

// "host:port", IPv6 as "[host]:port": a bound socket's address for the logs ("?" if none).
std::string LocalAddressText(int fd);

}  // namespace tend::net
