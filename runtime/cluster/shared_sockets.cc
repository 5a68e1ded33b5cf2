#include "runtime/cluster/shared_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tend::cluster {
namespace {

constexpr int kDefaultBacklog = 511;  // Node's

// A bound, listening TCP socket, or minus the errno.
int BindAndListen(const std::string& address, int port, int family, int backlog,
                  bool nonblocking) {
  sockaddr_storage storage{};
  socklen_t length;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_any;
    if (!address.empty() && inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) != 1) {
      return -EINVAL;
    }
    length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!address.empty() && inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) {
      return -EINVAL;
    }
    length = sizeof *in;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -errno;
  int on = 1, off = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (family == AF_INET6 && address.empty()) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(fd, backlog > 0 ? backlog : kDefaultBacklog) != 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

// Any address: IPv6 dual-stack where the kernel has IPv6, as Node does; else IPv4.
int BindAny(int port, int backlog, bool nonblocking) {
  int fd = BindAndListen("", port, AF_INET6, backlog, nonblocking);
  if (fd == -EAFNOSUPPORT) fd = BindAndListen("", port, AF_INET, backlog, nonblocking);
  return fd;
}

}  // namespace

SharedSockets::~SharedSockets() {
  for (const auto& [key, fd] : sockets_) close(fd);
}

SharedSockets::Listening SharedSockets::Listen(const std::string& address, int port,
                                               int address_type, int index, int backlog) {
  std::string key = absl::StrCat(address, ":", port, ":", address_type, ":", index);
  if (auto it = sockets_.find(key); it != sockets_.end()) return {it->second, 0, key};
  if (port < 0 || port > 65535) return {-1, -EINVAL, key};
  // Non-blocking, as Node's own primary makes it: the flag belongs to the socket that every
  // worker shares, and a worker that loses the race for a connection must get EAGAIN from
  // accept(), not block its event loop in it.
  int fd = address.empty() ? BindAny(port, backlog, true)
                           : BindAndListen(address, port, address_type == 6 ? AF_INET6 : AF_INET,
                                           backlog, true);
  if (fd < 0) return {-1, fd, key};
  sockets_[key] = fd;
  return {fd, 0, key};
}


absl::StatusOr<int> SharedSockets::ListenForActivation(const std::string& address, int port) {
  std::string key = absl::StrCat("activation:", address, ":", port);
  if (auto it = sockets_.find(key); it != sockets_.end()) return it->second;
  // Blocking, as systemd makes activated sockets: such programs may accept() in a loop.
  int fd = address.empty() ? BindAny(port, 0, false)
           : BindAndListen(address, port, address.find(':') == std::string::npos ? AF_INET : AF_INET6,
                           0, false);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(
                  "cannot listen on ", address.empty() ? "*" : address, ":", port, ": ",
                  strerror(-fd)));
  sockets_[key] = fd;
  return fd;
}

std::string LocalAddressOf(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  return absl::StrCat(host, ":", ntohs(in->sin_port));
}

}  // namespace tend::cluster
