#pragma once

#include <functional>

#include "probes/health.h"
#include "runtime/control/server.h"
#include "runtime/supervise/supervisor.h"

namespace tend::control {

// Keeps grpc.health.v1's answer equal to /readyz's: recomputed on the loop's thread after
// everything that can change readiness (an app's event, the start of a stop).
class HealthPublisher : public supervise::EventListener {
 public:
  HealthPublisher(supervise::Supervisor& supervisor, std::function<bool()> stopping, Server& server)
      : supervisor_(supervisor), stopping_(std::move(stopping)), server_(server) {}

  void OnEvent(const supervise::Event&) override { Publish(); }

  void Publish() {
    bool ready = true;
    for (const probes::Check& check :
         probes::ReadinessChecks(supervisor_.Status(false), stopping_())) {
      ready &= check.ok;
    }
    server_.SetServing(ready);
  }

 private:
  supervise::Supervisor& supervisor_;
  std::function<bool()> stopping_;
  Server& server_;
};

}  // namespace tend::control
