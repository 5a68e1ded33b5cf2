#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace tend::control {

struct Listeners {
  std::string unix_path;    // the control socket (mode 0600); empty: none
  std::string tcp_address;  // "ADDR:PORT" (port 0: a free one); empty: none
};

// tend's gRPC server: the Control service, grpc.health.v1.Health (what Kubernetes' gRPC
// probes call: SERVING while ready) and server reflection, on a Unix socket and optionally
// TCP. Calls run on gRPC's own threads, bounded in number and message size.
class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Listeners& listeners,
                                                       grpc::Service* control);
  ~Server();

  // Health's answer for every service name; any thread.
  void SetServing(bool serving);
  int tcp_port() const { return tcp_port_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string unix_path_;
  int tcp_port_ = 0;
};

}  // namespace tend::control
