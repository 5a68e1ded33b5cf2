#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::control {

struct Listeners {
  std::string unix_path;    // the control socket (mode 0600); empty: none
  std::string tcp_address;  // "ADDR:PORT" (port 0: a free one); empty: none
};

// tend's gRPC server: the Control service, grpc.health.v1.Health (what Kubernetes' gRPC
// probes call: SERVING while ready) and server reflection, on a Unix socket and optionally
// TCP. Calls run on gRPC's own threads, bounded in number and message size.
//
// tend listens on the Unix socket itself and starts gRPC on its first connection: an idle
// tend nobody asks pays nothing for gRPC (its threads, and megabytes of resident code).
class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(loop::EventLoop& loop,
                                                       const Listeners& listeners,
                                                       grpc::Service* control);
  ~Server();

  // Health's answer for every service name; any thread.
  void SetServing(bool serving);
  int tcp_port() const { return tcp_port_; }

 private:
  Server(loop::EventLoop& loop, grpc::Service* control) : loop_(loop), control_(control) {}
  absl::Status StartGrpc(const std::string& tcp_address);
  void OnUnixConnection();

  loop::EventLoop& loop_;
  grpc::Service* control_;
  std::mutex mutex_;  // serving_ and server_'s creation, against SetServing from any thread
  bool serving_ = false;
  std::unique_ptr<grpc::Server> server_;
  UniqueFd unix_fd_;
  std::unique_ptr<loop::Timer> accept_pause_;  // while descriptors have run out
  std::string unix_path_;
  int tcp_port_ = 0;
};

}  // namespace tend::control
