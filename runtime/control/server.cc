#include "runtime/control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server_posix.h"
#include "runtime/control/reflection_service.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/net/listen.h"

namespace tend::control {
namespace {

constexpr int kBacklog = 64;

// gRPC's own log lines are multi-line dumps; tend reports what failed itself.
void DropGrpcLog(gpr_log_func_args*) {}

}  // namespace

struct Server::Undecided {
  UniqueFd fd;
  std::string address;
  std::unique_ptr<loop::Timer> deadline;
};

// A connection handed to gRPC: gRPC tells nobody when it closes one, and a descriptor number
// may be reused by another socket, so its inode tells it apart.
struct Server::Handed {
  int fd;
  ino_t inode;
  std::string address;
  uint64_t order;  // among all handed: the oldest is the lowest
};

struct Server::Endpoint {
  std::vector<grpc::Service*> services;
  std::unique_ptr<ReflectionService> reflection;
  std::unique_ptr<net::Acceptor> acceptor;
  std::unique_ptr<grpc::Server> grpc;  // from the first connection on, until idle
  std::vector<Handed> handed;
  size_t forget_at = GrpcLimits::kForgetClosedAt;  // a length of `handed` that prunes it
  std::unique_ptr<loop::Timer> idle_check;
  std::map<int, Undecided> undecided;  // by descriptor: yet to send their first byte
  std::deque<int> undecided_order;     // oldest first
};

Server::Server(loop::EventLoop& loop)
    : loop_(loop),
      reflection_streams_(GrpcLimits::kMaxReflectionStreams, "reflection streams"),
      tokens_at_(loop.Now()) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(loop::EventLoop& loop,
                                                      const Listeners& listeners,
                                                      grpc::Service* unix_control,
                                                      grpc::Service* tcp_control,
                                                      grpc::Service* plaintext_control) {
  std::unique_ptr<Server> server(new Server(loop));
  server->unix_http_ = listeners.unix_http;
  std::vector<std::string> names = {"tend.v1.Control", "grpc.health.v1.Health"};
  auto endpoint = [&](grpc::Service* control, bool reflection) {
    auto made = std::make_unique<Endpoint>();
    made->services.push_back(control);
    if (reflection) {
      std::vector<std::string> listed = names;
      listed.push_back("grpc.reflection.v1alpha.ServerReflection");
      made->reflection =
          std::make_unique<ReflectionService>(std::move(listed), server->reflection_streams_);
      made->services.push_back(made->reflection.get());
    }
    return made;
  };
  if (!listeners.unix_path.empty()) {
    absl::StatusOr<net::Listening> listening = net::ListenUnix(listeners.unix_path, kBacklog);
    if (!listening.ok()) return listening.status();
    server->unix_path_ = listeners.unix_path;
    server->unix_ = endpoint(unix_control, true);
    if (absl::Status served = server->Serve(*server->unix_, std::move(listening->fd));
        !served.ok()) {
      return served;
    }
  }
  if (!listeners.tcp_address.empty()) {
    absl::StatusOr<net::Listening> listening = net::ListenTcp(listeners.tcp_address, kBacklog);
    if (!listening.ok()) return listening.status();
    server->tcp_port_ = listening->port;
    server->tcp_ = endpoint(tcp_control, listeners.tcp_reflection);
    if (listeners.tls) {
      server->tls_ = listeners.tls;
      server->tcp_plaintext_ = endpoint(plaintext_control, false);
    }
    if (absl::Status served = server->Serve(*server->tcp_, std::move(listening->fd));
        !served.ok()) {
      return served;
    }
  }
  return server;
}

absl::Status Server::Serve(Endpoint& endpoint, UniqueFd listener) {
  auto acceptor =
      net::Acceptor::Start(loop_, std::move(listener),
                           [this, &endpoint](UniqueFd connection, const sockaddr_storage& peer) {
                             Sniff(endpoint, std::move(connection), net::ClientOf(peer));
                           });
  if (!acceptor.ok()) return acceptor.status();
  endpoint.acceptor = std::move(*acceptor);
  return absl::OkStatus();
}

std::vector<Server::Endpoint*> Server::ListenerOf(Endpoint& endpoint) {
  if (&endpoint == unix_.get()) return {unix_.get()};
  std::vector<Endpoint*> listener = {tcp_.get()};
  if (tcp_plaintext_) listener.push_back(tcp_plaintext_.get());
  return listener;
}

bool Server::MakeRoom(Endpoint& endpoint, const std::string& address) {
  const bool tcp = &endpoint != unix_.get();
  const std::vector<Endpoint*> listener = ListenerOf(endpoint);
  auto held = [&] {
    size_t all = 0;
    for (Endpoint* each : listener) all += each->handed.size();
    auto client = tcp_clients_.find(address);
    size_t from = tcp && client != tcp_clients_.end() ? client->second : 0;
    return std::make_pair(all, from);
  };
  auto [all, from] = held();
  auto full = [&] {
    return all >= GrpcLimits::kMaxConnections || from >= GrpcLimits::kMaxConnectionsPerAddress;
  };
  auto now = loop_.Now();
  auto& forgot_at = tcp ? forgot_tcp_at_ : forgot_unix_at_;
  if (full() && now - forgot_at >= GrpcLimits::kForgetAtBoundEvery) {
    forgot_at = now;
    for (Endpoint* each : listener) ForgetClosed(*each);
    std::tie(all, from) = held();
  }
  if (!full()) return true;
  if (!tcp) {  // local clients, all one: refused rather than cut (the oldest may be a reload)
    if (refused_unix_++ == 0) {
      logs::Warn(absl::StrCat("the control socket: gRPC holds ", GrpcLimits::kMaxConnections,
                              " connections: closing new ones until some end (said once)"));
    }
    return false;
  }
  // A client at its bound gives up its own oldest; at the listener's, the client that holds
  // the most gives up its oldest.
  std::string client = address;
  if (from < GrpcLimits::kMaxConnectionsPerAddress) {
    size_t most = 0;
    for (const auto& [each, count] : tcp_clients_) most = std::max(most, count);
    client.clear();
    uint64_t oldest = UINT64_MAX;
    for (Endpoint* each : listener) {
      for (const Handed& handed : each->handed) {
        if (handed.order < oldest && tcp_clients_.at(handed.address) == most) {
          oldest = handed.order;
          client = handed.address;
        }
      }
    }
  }
  Evict(listener, client);
  if (evicted_tcp_++ == 0) {
    logs::Warn(absl::StrCat("--grpc: gRPC holds ", GrpcLimits::kMaxConnections, " connections, or ",
                            GrpcLimits::kMaxConnectionsPerAddress,
                            " from one client: a new one takes the place of the oldest of its "
                            "client, or of the client that holds the most (said once)"));
  }
  return true;
}

void Server::Evict(const std::vector<Endpoint*>& listener, const std::string& client) {
  Endpoint* in = nullptr;
  size_t at = 0;
  for (Endpoint* each : listener) {
    for (size_t i = 0; i < each->handed.size(); ++i) {
      if (each->handed[i].address == client &&
          (!in || each->handed[i].order < in->handed[at].order)) {
        in = each;
        at = i;
      }
    }
  }
  if (!in) return;
  Handed victim = in->handed[at];
  in->handed.erase(in->handed.begin() + static_cast<std::ptrdiff_t>(at));
  Forgotten(victim);
  struct stat about {};
  // Still the socket it was (gRPC may have closed it, and the number gone to another): gRPC
  // reads the end of it, and closes its side (a TLS tunnel then closes the client's).
  if (fstat(victim.fd, &about) == 0 && about.st_ino == victim.inode) {
    shutdown(victim.fd, SHUT_RDWR);
  }
}

void Server::Forgotten(const Handed& handed) {
  auto client = tcp_clients_.find(handed.address);
  if (client == tcp_clients_.end()) return;  // the Unix socket's
  if (--client->second == 0) tcp_clients_.erase(client);
}

void Server::OnConnection(Endpoint& endpoint, UniqueFd connection, const std::string& address) {
  // What tells this connection apart once gRPC holds it (ForgetClosed); without it, the
  // connection closes: it could not be known to be gone.
  struct stat about {};
  if (fstat(connection.get(), &about) != 0) return;
  if (!endpoint.grpc) {
    gpr_set_log_function(DropGrpcLog);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    for (grpc::Service* service : endpoint.services) builder.RegisterService(service);
    builder.SetMaxReceiveMessageSize(GrpcLimits::kMaxMessageBytes);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, GrpcLimits::kStreamsPerConnection);
    grpc::ResourceQuota quota("tend-control");
    quota.Resize(GrpcLimits::kMemoryBytes);
    builder.SetResourceQuota(quota);
    endpoint.grpc = builder.BuildAndStart();
    if (!endpoint.grpc) return;  // the connection closes; the next one tries again
    endpoint.grpc->GetHealthCheckService()->SetServingStatus(serving_);
  }
  // Clients that connect and leave faster than the idle check come must not grow the list.
  if (endpoint.handed.size() >= endpoint.forget_at) ForgetClosed(endpoint);
  endpoint.handed.push_back({connection.get(), about.st_ino, address, handed_++});
  if (&endpoint != unix_.get()) ++tcp_clients_[address];
  grpc::AddInsecureChannelFromFd(endpoint.grpc.get(), connection.release());  // gRPC owns it
  if (!endpoint.idle_check) CheckIdle(endpoint);
}

void Server::ForgetClosed(Endpoint& endpoint) {
  auto& handed = endpoint.handed;
  auto open = std::stable_partition(handed.begin(), handed.end(), [](const Handed& connection) {
    struct stat about {};
    return fstat(connection.fd, &about) == 0 && about.st_ino == connection.inode;
  });
  for (auto closed = open; closed != handed.end(); ++closed) Forgotten(*closed);
  handed.erase(open, handed.end());
  // Twice what is open: the scan costs once per as many new connections as it kept.
  endpoint.forget_at = std::max(GrpcLimits::kForgetClosedAt, 2 * handed.size());
}

// gRPC's own threads wake several times a second while a server exists: once its last
// client has gone, the server is shut down, and the next connection starts another.
void Server::CheckIdle(Endpoint& endpoint) {
  ForgetClosed(endpoint);
  if (endpoint.handed.empty() && endpoint.grpc) {
    endpoint.idle_check.reset();
    endpoint.grpc->Shutdown(std::chrono::system_clock::now());
    endpoint.grpc->Wait();
    endpoint.grpc.reset();
    return;
  }
  endpoint.idle_check =
      loop_.After(GrpcLimits::kIdleCheck, [this, &endpoint] { CheckIdle(endpoint); });
}

void Server::Sniff(Endpoint& endpoint, UniqueFd connection, std::string address) {
  if (endpoint.undecided.size() >= GrpcLimits::kMaxUndecided) {
    Forget(endpoint, endpoint.undecided_order.front());  // closes the oldest
  }
  int fd = connection.get();
  if (!loop_.Watch(fd, [this, &endpoint, fd] { Decide(endpoint, fd); }).ok()) return;
  Undecided& waiting = endpoint.undecided[fd];
  waiting.fd = std::move(connection);
  waiting.address = std::move(address);
  waiting.deadline =
      loop_.After(GrpcLimits::kFirstByteDeadline, [this, &endpoint, fd] { Forget(endpoint, fd); });
  endpoint.undecided_order.push_back(fd);
}

void Server::Forget(Endpoint& endpoint, int fd) {
  loop_.Unwatch(fd);
  endpoint.undecided.erase(fd);  // closes it, if it is still there
  auto& order = endpoint.undecided_order;
  order.erase(std::find(order.begin(), order.end(), fd));
}

void Server::Decide(Endpoint& endpoint, int fd) {
  char first;
  ssize_t n = recv(fd, &first, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  UniqueFd connection = std::move(endpoint.undecided.at(fd).fd);
  std::string address = std::move(endpoint.undecided.at(fd).address);
  Forget(endpoint, fd);
  if (n != 1) return;  // closed before a byte came: it closes here
  bool tcp = &endpoint == tcp_.get();
  if (first == 'P') {  // HTTP/2's connection preface: "PRI * HTTP/2.0"
    Endpoint& serving = tcp && tls_ ? *tcp_plaintext_ : endpoint;
    if (MakeRoom(serving, address)) OnConnection(serving, std::move(connection), address);
  } else if (first == 0x16 && tcp && tls_) {  // a TLS handshake record
    // The token first: a connection refused for want of one takes no other's place.
    if (TakeHandshakeToken() && MakeRoom(*tcp_, address)) Tunnel(std::move(connection), address);
  } else if (&endpoint == unix_.get() && unix_http_) {
    unix_http_(std::move(connection));
  }  // else no gRPC client: it closes here
}

bool Server::TakeHandshakeToken() {
  // A token bucket of handshakes: the loop's time for key work is bounded.
  auto now = loop_.Now();
  handshake_tokens_ =
      std::min<double>(GrpcLimits::kHandshakesPerSecond,
                       handshake_tokens_ + std::chrono::duration<double>(now - tokens_at_).count() *
                                               GrpcLimits::kHandshakesPerSecond);
  tokens_at_ = now;
  if (handshake_tokens_ < 1) return false;
  handshake_tokens_ -= 1;
  return true;
}

void Server::Tunnel(UniqueFd connection, const std::string& address) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) return;
  UniqueFd ours(pair[0]), grpcs(pair[1]);
  uint64_t id = next_tunnel_++;
  absl::StatusOr<std::unique_ptr<net::TlsTunnel>> tunnel =
      net::TlsTunnel::Start(loop_, tls_->Current(), std::move(connection), std::move(ours),
                            [this, id] { tunnels_.erase(id); });
  if (!tunnel.ok()) return;
  tunnels_.emplace(id, std::move(*tunnel));
  OnConnection(*tcp_, std::move(grpcs), address);
}

void Server::SetServing(bool serving) {
  serving_ = serving;
  for (Endpoint* endpoint : {unix_.get(), tcp_.get(), tcp_plaintext_.get()}) {
    if (endpoint && endpoint->grpc)
      endpoint->grpc->GetHealthCheckService()->SetServingStatus(serving);
  }
}

Server::~Server() {
  tunnels_.clear();  // their clients' connections close
  for (Endpoint* endpoint : {unix_.get(), tcp_.get(), tcp_plaintext_.get()}) {
    if (!endpoint) continue;
    for (const auto& [fd, waiting] : endpoint->undecided) loop_.Unwatch(fd);
    endpoint->acceptor.reset();
    endpoint->idle_check.reset();
    if (!endpoint->grpc) continue;
    endpoint->grpc->Shutdown(std::chrono::system_clock::now());  // every call ends now
    endpoint->grpc->Wait();
  }
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

}  // namespace tend::control
