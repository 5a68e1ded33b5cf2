#pragma once

#include <functional>

#include "runtime/control/authorization.h"
#include "runtime/loop/cross_thread.h"
#include "runtime/supervise/supervisor.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {

// The Control service. Calls arrive on gRPC's threads; each one does its work on the event
// loop's thread through CrossThread, and says UNAVAILABLE if the loop does not answer.
class ControlService final : public v1::Control::Service {
 public:
  // `stopping` (on the loop's thread) tells whether tend is shutting down.
  ControlService(loop::CrossThread& bridge, supervise::Supervisor& supervisor,
                 const v1::Config& config, std::function<bool()> stopping,
                 Authorization authorization);

  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status Reload(grpc::ServerContext* context, const v1::ReloadRequest* request,
                      grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status Restart(grpc::ServerContext* context, const v1::RestartRequest* request,
                       v1::RestartResponse* response) override;
  grpc::Status Scale(grpc::ServerContext* context, const v1::ScaleRequest* request,
                     v1::ScaleResponse* response) override;
  grpc::Status Signal(grpc::ServerContext* context, const v1::SignalRequest* request,
                      v1::SignalResponse* response) override;
  grpc::Status StreamEvents(grpc::ServerContext* context, const v1::StreamEventsRequest* request,
                            grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest* request,
                         v1::Config* response) override;
  grpc::Status Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                     v1::ProbeResponse* response) override;

 private:
  grpc::Status Authorize(grpc::ServerContext* context) const;
  // Runs `task` on the loop's thread and turns its absl::Status into a gRPC one.
  grpc::Status OnLoop(std::function<absl::Status()> task);

  loop::CrossThread& bridge_;
  supervise::Supervisor& supervisor_;
  const v1::Config& config_;
  std::function<bool()> stopping_;
  Authorization authorization_;
};

}  // namespace tend::control
