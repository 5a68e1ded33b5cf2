#include "runtime/net/listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/config/values.h"
#include "runtime/errors/errno_status.h"

namespace tend::net {
namespace {

// "ADDR:PORT" as a socket address.
absl::StatusOr<sockaddr_storage> SocketAddress(const std::string& text, socklen_t* length) {
  std::string host;
  uint32_t port;
  if (!config::ParseHostPort(text, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not [ADDR:]PORT"));
  }
  bool v6 = host.find(':') != std::string::npos;
  sockaddr_storage storage;
  if (!MakeSocketAddress(v6 ? AF_INET6 : AF_INET, host, port, &storage, length)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", host, "' is not an IPv", v6 ? "6" : "4", " address"));
  }
  return storage;
}

// A socket path that another process still serves is refused; one left by a dead process
// is removed.
absl::Status ClaimSocketPath(const std::string& path) {
  std::string dir = path.substr(0, std::max<size_t>(1, path.rfind('/')));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errors::FromErrno(absl::StrCat("cannot create ", dir));
  }
  struct stat folder;
  if (stat(dir.c_str(), &folder) != 0 || !S_ISDIR(folder.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": not a directory"));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return errors::FromErrno(absl::StrCat("cannot create a socket in ", dir));
  }
  struct stat existing;
  if (lstat(path.c_str(), &existing) != 0) return absl::OkStatus();
  if (!S_ISSOCK(existing.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) {
    return errors::FromErrno(absl::StrCat("cannot check ", path, ": socket"));
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.c_str(), path.size());
  // Only a refused connection proves the socket stale. Anything else (accepted, a full
  // backlog's EAGAIN, EACCES) may be a live tend: never unlink its socket.
  bool accepted = connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (accepted || errno != ECONNREFUSED) {
    return absl::AlreadyExistsError(absl::StrCat(path, " is in use by another process (",
                                                 accepted ? "it accepts" : strerror(errno), ")"));
  }
  if (unlink(path.c_str()) != 0) {
    return errors::FromErrno(absl::StrCat("cannot remove stale ", path));
  }
  return absl::OkStatus();
}

}  // namespace

bool MakeSocketAddress(int family, const std::string& host, int port, sockaddr_storage* storage,
                       socklen_t* length) {
  *storage = sockaddr_storage{};
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_any;
    *length = sizeof *in6;
    return host.empty() || inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_ANY);
  *length = sizeof *in;
  return host.empty() || inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1;
}

absl::StatusOr<Listening> ListenTcp(const std::string& address, int backlog) {
  socklen_t length = 0;
  absl::StatusOr<sockaddr_storage> bind_to = SocketAddress(address, &length);
  if (!bind_to.ok()) return bind_to.status();
  Listening listening;
  listening.fd.reset(socket(bind_to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listening.fd) return errors::FromErrno("socket");
  int on = 1;
  int fd = listening.fd.get();
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&*bind_to), length) != 0 || listen(fd, backlog) != 0) {
    return errors::FromErrno(absl::StrCat("cannot listen on ", address));
  }
  std::optional<sockaddr_storage> bound = LocalAddress(fd);
  if (!bound) return errors::FromErrno("getsockname");
  listening.port = PortOf(*bound);
  return listening;
}

absl::StatusOr<Listening> ListenUnix(const std::string& path, int backlog) {
  sockaddr_un address{};
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': no path, or too long for a Unix socket"));
  }
  if (absl::Status claimed = ClaimSocketPath(path); !claimed.ok()) return claimed;
  Listening listening;
  listening.fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listening.fd) return errors::FromErrno("socket");
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.c_str(), path.size());
  mode_t previous = umask(0077);
  bool bound = bind(listening.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  int error = errno;
  umask(previous);
  if (bound && listen(listening.fd.get(), backlog) != 0) {
    error = errno;
    bound = false;
  }
  if (!bound) {
    return errors::FromErrno(absl::StrCat("cannot listen on unix:", path), error);
  }
  return listening;
}

std::string WithPort(const std::string& address, int port) {
  size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  return absl::StrCat(host.empty() ? "0.0.0.0" : host, ":", port);  // no ADDR: every IPv4 one
}

std::optional<sockaddr_storage> LocalAddress(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return std::nullopt;
  return bound;
}

int PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  if (address.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  return 0;
}

std::string LocalAddressText(int fd) {
  std::optional<sockaddr_storage> bound = LocalAddress(fd);
  if (!bound) return "?";
  std::string host = AddressOf(*bound);
  return bound->ss_family == AF_INET6 ? absl::StrCat("[", host, "]:", PortOf(*bound))
                                      : absl::StrCat(host, ":", PortOf(*bound));
}

std::string AddressOf(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  }
  return text;
}

std::string ClientOf(const sockaddr_storage& peer) {
  if (peer.ss_family != AF_INET6) return AddressOf(peer);
  const in6_addr& address = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b};  // 64:ff9b::/96 (RFC 6052)
  if (IN6_IS_ADDR_LOOPBACK(&address)) return "::1";
  if (IN6_IS_ADDR_V4MAPPED(&address) || std::memcmp(address.s6_addr, kNat64, 12) == 0) {
    sockaddr_storage v4{};
    auto& in = reinterpret_cast<sockaddr_in&>(v4);
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, &address.s6_addr[12], 4);
    return AddressOf(v4);
  }
  in6_addr prefix{};
  std::memcpy(prefix.s6_addr, address.s6_addr, 8);
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET6, &prefix, text, sizeof text);
  return absl::StrCat(text, "/64");
}

}  // namespace tend::net
