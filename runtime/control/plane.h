#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/control/control_service.h"
#include "runtime/control/health_publisher.h"
#include "runtime/control/server.h"
#include "runtime/control/stream_limit.h"

namespace tend::control {

// The bearer token for Control over TCP, from --control-token-file (surrounding white space
// dropped); empty when no file is given. An unreadable or empty file, or one over
// kMaxTokenBytes, is an error.
inline constexpr size_t kMaxTokenBytes = 4096;
absl::StatusOr<std::string> ReadToken(const std::string& path);

// Everything tend serves over gRPC, wired together: a Control service for each listener
// (the Unix socket's open to whoever may open it, TCP's only with the bearer token), the
// server, and gRPC health kept equal to /readyz.
class Plane {
 public:
  // `token`: the bearer token for Control over TCP; empty: no Control over TCP.
  static absl::StatusOr<std::unique_ptr<Plane>> Start(
      loop::EventLoop& loop, loop::CrossThread& bridge, supervise::Supervisor& supervisor,
      const v1::Config& config, std::function<bool()> stopping, const Listeners& listeners,
      const std::string& token);
  ~Plane();

  // Readiness may have changed without an event (tend began to stop). Loop's thread.
  void PublishHealth() { health_->Publish(); }
  int tcp_port() const { return server_->tcp_port(); }

 private:
  Plane(loop::CrossThread& bridge, supervise::Supervisor& supervisor, const v1::Config& config,
        const std::function<bool()>& stopping, const std::string& token);

  supervise::Supervisor& supervisor_;
  StreamLimits streams_;
  ControlService unix_control_;
  ControlService tcp_control_;
  ControlService plaintext_control_;  // with TLS on TCP: for plaintext clients, refusing all
  std::unique_ptr<Server> server_;    // ends before the services it calls
  std::unique_ptr<HealthPublisher> health_;
};

}  // namespace tend::control
