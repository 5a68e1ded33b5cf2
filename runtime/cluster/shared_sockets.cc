#include "runtime/cluster/shared_sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/net/listen.h"

namespace tend::cluster {
namespace {

constexpr int kDefaultBacklog = 511;  // Node's

// A bound, listening TCP socket, or minus the errno.
int BindAndListen(const std::string& address, int port, int family, int backlog, bool nonblocking) {
  sockaddr_storage storage;
  socklen_t length;
  if (!net::MakeSocketAddress(family, address, port, &storage, &length)) return -EINVAL;
  UniqueFd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return -errno;
  int on = 1, off = 0;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return -errno;
  if (family == AF_INET6 && address.empty() &&
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
    return -errno;
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(fd.get(), backlog > 0 ? backlog : kDefaultBacklog) != 0) {
    return -errno;
  }
  return fd.release();
}

// Any address: IPv6 dual-stack where the kernel has IPv6, as Node does; else IPv4.
int BindAny(int port, int backlog, bool nonblocking) {
  int fd = BindAndListen("", port, AF_INET6, backlog, nonblocking);
  if (fd == -EAFNOSUPPORT) fd = BindAndListen("", port, AF_INET, backlog, nonblocking);
  return fd;
}

// The lowest port an unprivileged process may bind (Linux's default: 1024).
int UnprivilegedPortStart() {
  std::ifstream file("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int start = 1024;
  if (!(file >> start)) start = 1024;
  return start;
}

}  // namespace

SharedSockets::SharedSockets(loop::EventLoop& loop, std::chrono::milliseconds release_grace)
    : loop_(loop),
      release_grace_(release_grace),
      unprivileged_port_start_(UnprivilegedPortStart()) {}

size_t SharedSockets::SocketsOfApp(const std::string& app) const {
  size_t count = 0;
  for (const auto& [key, shared] : sockets_) count += shared.app == app;
  return count;
}

SharedSockets::Listening SharedSockets::Acquire(const Holder& holder, const Request& request) {
  // Apps never share a socket: another app's worker asking for a port one app holds binds
  // its own, and the kernel says EADDRINUSE, as it would to the worker binding it itself.
  // The app's name goes first with its length, so no name or address can make another
  // app's key.
  std::string key = absl::StrCat(holder.app.size(), ":", holder.app, "/", request.address, ":",
                                 request.port, ":", request.address_type, ":", request.index);
  if (request.port < 0 || request.port > 65535) return {-1, -EINVAL, key};
  // What the kernel would say to the worker binding the port itself.
  if (request.port > 0 && request.port < unprivileged_port_start_ && !holder.may_bind_privileged) {
    return {-1, -EACCES, key};
  }
  auto it = sockets_.find(key);
  if (it == sockets_.end()) {
    if (SocketsOfApp(holder.app) >= kMaxSocketsPerApp) {
      logs::Warn(absl::StrCat(holder.app, ": a worker asked for more than ", kMaxSocketsPerApp,
                              " listening sockets: refused with EMFILE"));
      return {-1, -EMFILE, key};
    }
    // Non-blocking, as Node's own primary makes it: the flag belongs to the socket that
    // every worker shares, and a worker that loses the race for a connection must get
    // EAGAIN from accept(), not block its event loop in it.
    int fd = request.address.empty() ? BindAny(request.port, request.backlog, true)
                                     : BindAndListen(request.address, request.port,
                                                     request.address_type == 6 ? AF_INET6 : AF_INET,
                                                     request.backlog, true);
    if (fd < 0) return {-1, fd, key};
    it = sockets_.emplace(key, Shared{}).first;
    it->second.owned.reset(fd);
    it->second.app = holder.app;
  }
  it->second.holders.insert(holder.worker_id);
  it->second.close_timer.reset();
  return {it->second.fd(), 0, key};
}

void SharedSockets::Release(int worker_id, const std::string& key) {
  auto it = sockets_.find(key);
  if (it == sockets_.end() || it->second.holders.erase(worker_id) == 0) return;
  if (it->second.round_robin) it->second.round_robin->Remove(worker_id);
  if (it->second.holders.empty()) OnUnheld(key);
}

absl::Status SharedSockets::JoinRoundRobin(int worker_id, const std::string& key,
                                           RoundRobin::Send send) {
  auto it = sockets_.find(key);
  if (it == sockets_.end() || !it->second.holders.count(worker_id)) {
    return absl::NotFoundError(absl::StrCat("no socket ", key, " held by worker ", worker_id));
  }
  Shared& shared = it->second;
  if (!shared.round_robin) {
    absl::StatusOr<std::unique_ptr<RoundRobin>> started =
        RoundRobin::Start(loop_, std::move(shared.owned));
    if (!started.ok()) {  // the socket went with it: forgotten, and the worker refused
      sockets_.erase(it);
      return started.status();
    }
    shared.round_robin = std::move(*started);
  }
  shared.round_robin->Add(worker_id, std::move(send));
  // A second server of a worker already serving: its connections come at once.
  if (serving_.count(worker_id)) shared.round_robin->SetServing(worker_id, true);
  return absl::OkStatus();
}

void SharedSockets::SetServing(int worker_id, bool serving) {
  if (serving) {
    serving_.insert(worker_id);
  } else {
    serving_.erase(worker_id);
  }
  for (auto& [key, shared] : sockets_) {
    if (shared.round_robin) shared.round_robin->SetServing(worker_id, serving);
  }
}

bool SharedSockets::Answered(int worker_id, int seq, bool accepted) {
  for (auto& [key, shared] : sockets_) {
    if (shared.round_robin && shared.round_robin->Answered(worker_id, seq, accepted)) return true;
  }
  return false;
}

void SharedSockets::ReleaseAll(int worker_id) {
  serving_.erase(worker_id);
  std::vector<std::string> keys;
  for (const auto& [key, shared] : sockets_) {
    if (shared.holders.count(worker_id)) keys.push_back(key);
  }
  for (const std::string& key : keys) Release(worker_id, key);
}

void SharedSockets::OnUnheld(const std::string& key) {
  sockets_[key].close_timer = loop_.After(release_grace_, [this, key] {
    auto it = sockets_.find(key);
    if (it != sockets_.end() && it->second.holders.empty()) sockets_.erase(it);
  });
}

absl::StatusOr<int> SharedSockets::ListenForActivation(const std::string& address, int port) {
  std::string key = absl::StrCat("activation:", address, ":", port);
  if (auto it = sockets_.find(key); it != sockets_.end()) return it->second.fd();
  // Blocking, as systemd makes activated sockets: such programs may accept() in a loop.
  int fd =
      address.empty()
          ? BindAny(port, 0, false)
          : BindAndListen(address, port,
                          address.find(':') == std::string::npos ? AF_INET : AF_INET6, 0, false);
  if (fd < 0) {
    return errors::FromErrno(
        absl::StrCat("cannot listen on ", address.empty() ? "*" : address, ":", port), -fd);
  }
  sockets_[key].owned.reset(fd);
  return fd;
}

}  // namespace tend::cluster
