#pragma once

#include <functional>

#include "runtime/control/authorization.h"
#include "runtime/control/event_stream.h"
#include "runtime/control/stream_limit.h"
#include "runtime/loop/cross_thread.h"
#include "runtime/supervise/supervisor.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {

// The Control service, on gRPC's callback API: a call is checked on the gRPC thread it
// arrives on, then does its work on the event loop's thread and is answered from there.
// No call holds a thread while it waits, streams included. A unary call the loop does not
// come to in time gets UNAVAILABLE.
// The bounds on streams, shared by every Control service (each listener has its own).
struct StreamLimits {
  static constexpr int kMaxEventStreams = 256;  // StreamEvents and Reload
  static constexpr int kMaxLogStreams = 64;
  // A log stream's backlog comes from the bounded buffer; what follows waits for a slow
  // reader up to this many lines and bytes, then is dropped and counted. All log streams
  // together hold at most kLogStreamsBytes, backlogs included.
  static constexpr size_t kMaxQueuedLogLines = 1024;
  static constexpr size_t kMaxQueuedLogBytes = 1 << 20;
  static constexpr size_t kLogStreamsBytes = 16 << 20;
  // Each stream's first bytes are its own, not the budget's: one that takes all of the
  // budget cannot starve the others.
  static constexpr size_t kOwnLogBytes = 64 << 10;
  StreamLimit events{kMaxEventStreams, "event streams (StreamEvents and Reload)"};
  StreamLimit logs{kMaxLogStreams, "log streams (Logs)"};
  std::shared_ptr<ByteBudget> log_bytes = std::make_shared<ByteBudget>(kLogStreamsBytes);
};

class ControlService final : public v1::Control::CallbackService {
 public:
  // `stopping` (on the loop's thread) tells whether tend is shutting down.
  ControlService(loop::CrossThread& bridge, supervise::Supervisor& supervisor,
                 const v1::Config& config, std::function<bool()> stopping,
                 Authorization authorization, StreamLimits& streams);

  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  grpc::ServerWriteReactor<v1::Event>* Reload(grpc::CallbackServerContext* context,
                                              const v1::ReloadRequest* request) override;
  grpc::ServerUnaryReactor* Restart(grpc::CallbackServerContext* context,
                                    const v1::RestartRequest* request,
                                    v1::RestartResponse* response) override;
  grpc::ServerUnaryReactor* Scale(grpc::CallbackServerContext* context,
                                  const v1::ScaleRequest* request,
                                  v1::ScaleResponse* response) override;
  grpc::ServerUnaryReactor* Signal(grpc::CallbackServerContext* context,
                                   const v1::SignalRequest* request,
                                   v1::SignalResponse* response) override;
  grpc::ServerWriteReactor<v1::Event>* StreamEvents(
      grpc::CallbackServerContext* context, const v1::StreamEventsRequest* request) override;
  grpc::ServerUnaryReactor* GetConfig(grpc::CallbackServerContext* context,
                                      const v1::GetConfigRequest* request,
                                      v1::Config* response) override;
  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* context,
                                  const v1::ProbeRequest* request,
                                  v1::ProbeResponse* response) override;
  grpc::ServerWriteReactor<v1::LogLine>* Logs(grpc::CallbackServerContext* context,
                                              const v1::LogsRequest* request) override;

 private:
  grpc::Status Authorize(grpc::CallbackServerContext* context) const;
  // Answers on the loop's thread with `task`'s status; UNAVAILABLE if the loop is stuck.
  grpc::ServerUnaryReactor* OnLoop(grpc::CallbackServerContext* context,
                                   std::function<absl::Status()> task);

  loop::CrossThread& bridge_;
  supervise::Supervisor& supervisor_;
  const v1::Config& config_;
  std::function<bool()> stopping_;
  Authorization authorization_;
  StreamLimits& streams_;
  Subscriptions subscriptions_;  // loop's thread only
};

}  // namespace tend::control
