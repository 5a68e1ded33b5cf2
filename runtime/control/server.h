#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "runtime/control/stream_limit.h"
#include "runtime/loop/event_loop.h"
#include "runtime/net/acceptor.h"
#include "runtime/net/tls.h"

namespace tend::control {

struct Listeners {
  std::string unix_path;        // the control socket (mode 0600); empty: none
  std::string tcp_address;      // "ADDR:PORT" (port 0: a free one); empty: none
  bool tcp_reflection = false;  // reflection on TCP too (it is always on the Unix socket)
  // Takes the Unix socket's HTTP/1.1 connections (`tend probe`); null: gRPC only.
  std::function<void(UniqueFd)> unix_http;
  // TLS on TCP (--grpc-tls-cert); null: plaintext, Control with the token.
  std::shared_ptr<net::TlsContext> tls;
};

// What gRPC may hold for its clients, all listeners together, and what a client past a
// bound gets. Connections themselves are bounded by tend's descriptor limit.
struct GrpcLimits {
  static constexpr int kMaxMessageBytes = 64 * 1024;  // a larger request: RESOURCE_EXHAUSTED
  static constexpr int kStreamsPerConnection = 100;   // HTTP/2: more wait in the client
  static constexpr int kMaxReflectionStreams = 256;   // more: RESOURCE_EXHAUSTED
  static constexpr size_t kMemoryBytes = 64 << 20;    // gRPC's buffers, via its resource quota
  // Connections of one listener yet to send their first byte; past it the oldest is
  // closed, and one silent for kFirstByteDeadline is closed too.
  static constexpr size_t kMaxUndecided = 64;
  static constexpr std::chrono::seconds kFirstByteDeadline{5};
  // Connections of one listener held by gRPC (TLS and plaintext ones together), and on TCP
  // from one client (net::ClientOf). On TCP a new connection past the second takes the place
  // of its client's oldest, and past the first of the oldest of the client that holds the
  // most (gRPC's own idle timer, GRPC_ARG_MAX_CONNECTION_IDLE_MS, closed no connection added
  // from a descriptor in 1.51, so held ones never leave by themselves); on the Unix socket,
  // a new one past the first is closed.
  static constexpr size_t kMaxConnections = 512;
  static constexpr size_t kMaxConnectionsPerAddress = 32;
  // TLS handshakes (each costs the loop about a millisecond of key work): a burst of this
  // many, then this many a second; a connection past it is closed.
  static constexpr int kHandshakesPerSecond = 100;
  // How often a running gRPC server is checked for clients; with none, it is shut down.
  static constexpr std::chrono::seconds kIdleCheck{10};
  // Connections handed to gRPC are remembered for the idle check; from this many on, those
  // closed are forgotten as new ones come, not only at the check.
  static constexpr size_t kForgetClosedAt = 1024;
  // At a bound, those gRPC closed are looked for (an fstat each) at most this often, so
  // that connections arriving there cost the loop little more.
  static constexpr std::chrono::milliseconds kForgetAtBoundEvery{100};
};

// tend's gRPC servers: on each listener, Control, grpc.health.v1.Health (what Kubernetes'
// gRPC probes call: SERVING while ready) and reflection (on TCP only if asked). Each runs on
// gRPC's callback API, so no call holds a thread while it waits.
//
// tend accepts the connections itself, on its event loop, and hands each to the listener's
// gRPC server: running out of descriptors pauses accepting instead of spinning (gRPC 1.51
// stops listening for good on EMFILE), and each listener's server starts on its first
// gRPC connection, and stops once its last client has gone (checked every kIdleCheck), so
// a tend nobody asks pays nothing for gRPC. A connection reaches gRPC only once its first
// byte has come. On the Unix socket, one whose first byte is not HTTP/2's preface
// ("PRI * HTTP/2.0") is HTTP/1.1, handed to `unix_http`: `tend probe`, every 10 s in a
// HEALTHCHECK, never starts gRPC; on TCP it is closed. With TLS on TCP, a connection whose
// first byte begins a TLS handshake (0x16) is ended by tend (net::TlsTunnel) and its
// plaintext handed to a gRPC server with Control; a plaintext one gets a server whose Control
// refuses every call: health alone, for the kubelet's gRPC probe, which speaks no TLS.
class Server {
 public:
  // `unix_control` and `tcp_control`: the Control service for each listener, each with its
  // own authorization; `plaintext_control`: TCP's for plaintext clients once TLS is on.
  static absl::StatusOr<std::unique_ptr<Server>> Start(loop::EventLoop& loop,
                                                       const Listeners& listeners,
                                                       grpc::Service* unix_control,
                                                       grpc::Service* tcp_control,
                                                       grpc::Service* plaintext_control);
  ~Server();

  // Health's answer for every service name. Loop's thread.
  void SetServing(bool serving);
  int tcp_port() const { return tcp_port_; }

 private:
  struct Endpoint;
  struct Undecided;
  struct Handed;
  explicit Server(loop::EventLoop& loop);
  absl::Status Serve(Endpoint& endpoint, UniqueFd listener);
  // `address`: the client's, for the bound per address on TCP.
  void OnConnection(Endpoint& endpoint, UniqueFd connection, const std::string& address);
  // The endpoints that share `endpoint`'s bounds: on TCP, the TLS and plaintext ones.
  std::vector<Endpoint*> ListenerOf(Endpoint& endpoint);
  // Whether a connection from `address` may be handed to `endpoint`'s listener now; on TCP,
  // at a bound, it makes room.
  bool MakeRoom(Endpoint& endpoint, const std::string& address);
  // Ends the oldest connection `client` has in `listener`.
  void Evict(const std::vector<Endpoint*>& listener, const std::string& client);
  void Forgotten(const Handed& handed);
  bool TakeHandshakeToken();
  // A connection waits, bounded in number and time, for its first byte, before gRPC (or,
  // on the Unix socket, the HTTP server) gets it: a silent client holds nothing for long.
  void Sniff(Endpoint& endpoint, UniqueFd connection, std::string address);
  void Decide(Endpoint& endpoint, int fd);
  void Forget(Endpoint& endpoint, int fd);
  // A TLS connection on TCP: tend ends TLS, and the TLS endpoint's gRPC gets the plaintext.
  void Tunnel(UniqueFd connection, const std::string& address);
  void CheckIdle(Endpoint& endpoint);
  // Drops the handed connections gRPC has closed.
  void ForgetClosed(Endpoint& endpoint);

  loop::EventLoop& loop_;
  StreamLimit reflection_streams_;
  std::function<void(UniqueFd)> unix_http_;
  std::unique_ptr<Endpoint> unix_, tcp_;
  std::unique_ptr<Endpoint> tcp_plaintext_;    // with TLS: for plaintext clients, health alone
  uint64_t refused_unix_ = 0;                  // connections closed at the bound
  uint64_t evicted_tcp_ = 0;                   // held ones closed for a newcomer
  std::map<std::string, size_t> tcp_clients_;  // connections held on TCP, by client
  uint64_t handed_ = 0;                        // connections handed to gRPC so far: their order
  loop::EventLoop::Clock::time_point forgot_unix_at_{}, forgot_tcp_at_{};
  std::shared_ptr<net::TlsContext> tls_;
  std::map<uint64_t, std::unique_ptr<net::TlsTunnel>> tunnels_;
  uint64_t next_tunnel_ = 0;
  double handshake_tokens_ = GrpcLimits::kHandshakesPerSecond;
  loop::EventLoop::Clock::time_point tokens_at_;
  bool serving_ = false;
  std::string unix_path_;
  int tcp_port_ = 0;
};

}  // namespace tend::control
