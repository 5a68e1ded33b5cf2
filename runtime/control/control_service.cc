#include "runtime/control/control_service.h"

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "probes/health.h"
#include "runtime/control/unary_call.h"
#include "runtime/signals/signals.h"

namespace tend::control {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kLoopDeadline = 5s;
constexpr std::chrono::milliseconds kProbeDeadline = 900ms;

const char kUnresponsive[] = "tend's event loop did not answer";

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnresponsive); }

v1::AppState ToProto(const supervise::AppStatus& app, int64_t now_ms) {
  v1::AppState state;
  state.set_name(app.name);
  state.set_desired(app.desired);
  state.set_ready(app.ready);
  state.set_reloading(app.reloading);
  state.set_errored(app.errored);
  if (app.last_reload) {
    state.set_last_reload_unix_ms(app.last_reload->unix_ms);
    state.set_last_reload_ok(app.last_reload->ok);
  }
  for (const supervise::InstanceStatus& instance : app.instances) {
    v1::WorkerState* worker = state.add_workers();
    worker->set_instance(instance.instance);
    worker->set_pid(instance.pid);
    worker->set_state(instance.state);
    uint64_t restarts = 0;
    for (uint64_t count : instance.restarts) restarts += count;
    worker->set_restarts(restarts);
    if (instance.pid > 0) worker->set_uptime_seconds((now_ms - instance.started_unix_ms) / 1000.0);
    if (instance.usage) {
      worker->set_memory_bytes(instance.usage->resident_bytes);
      worker->set_cpu_seconds(instance.usage->cpu_seconds);
    }
  }
  return state;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reload's stream: this reload's events, from its start (a reload already running
// finishes first) to the end of every app it covers. On the loop's thread.
class ReloadProgress {
 public:
  void Cover(const std::string& app) { apps_.insert(app); }

  Pick operator()(const v1::Event& event) {
    if (!apps_.count(event.app())) return Pick::kSkip;
    if (event.kind() == v1::Event::RELOAD_STARTED &&
        event.reason() == supervise::RestartReasonName(supervise::RestartReason::kReload)) {
      started_.insert(event.app());
    }
    bool of_reload = event.kind() == v1::Event::RELOAD_STARTED ||
                     event.kind() == v1::Event::RELOAD_PROGRESS ||
                     event.kind() == v1::Event::RELOAD_FINISHED;
    if (!of_reload || !started_.count(event.app())) return Pick::kSkip;
    if (event.kind() != v1::Event::RELOAD_FINISHED) return Pick::kSend;
    finished_.insert(event.app());
    return finished_.size() == apps_.size() ? Pick::kSendLast : Pick::kSend;
  }

 private:
  std::set<std::string> apps_, started_, finished_;
};

}  // namespace

ControlService::ControlService(loop::CrossThread& bridge, supervise::Supervisor& supervisor,
                               const v1::Config& config, std::function<bool()> stopping,
                               Authorization authorization, StreamLimits& streams)
    : bridge_(bridge),
      supervisor_(supervisor),
      config_(config),
      stopping_(std::move(stopping)),
      authorization_(std::move(authorization)),
      streams_(streams),
      subscriptions_(supervisor) {}

grpc::Status ControlService::Authorize(grpc::CallbackServerContext* context) const {
  auto header = context->client_metadata().find("authorization");
  absl::string_view value;
  if (header != context->client_metadata().end()) {
    value = absl::string_view(header->second.data(), header->second.size());
  }
  std::string refused = authorization_.Check(value);
  if (refused.empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, refused);
}

grpc::ServerUnaryReactor* ControlService::OnLoop(grpc::CallbackServerContext* context,
                                                 std::function<absl::Status()> task) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return AnswerNow(context, allowed);
  return AnswerOnLoop(
      bridge_, kLoopDeadline, [task = std::move(task)] { return ToGrpc(task()); }, Unavailable);
}

grpc::ServerUnaryReactor* ControlService::ListWorkers(grpc::CallbackServerContext* context,
                                                      const v1::ListWorkersRequest*,
                                                      v1::ListWorkersResponse* response) {
  return OnLoop(context, [this, response] {
    int64_t now = NowMs();
    for (const supervise::AppStatus& app : supervisor_.Status()) {
      *response->add_apps() = ToProto(app, now);
    }
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::Event>* ControlService::Reload(grpc::CallbackServerContext* context,
                                                            const v1::ReloadRequest* request) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return RefuseEventStream(allowed);
  auto progress = std::make_shared<ReloadProgress>();
  EventStreamOptions options;
  options.begin = [this, progress, app = request->app()] {
    // Covered first: the reload's first events come while Reload() runs.
    for (const auto& each : supervisor_.apps()) {
      if (app.empty() || each->name() == app) progress->Cover(each->name());
    }
    return supervisor_.Reload(app);
  };
  options.filter = [progress](const v1::Event& event) { return (*progress)(event); };
  return OpenEventStream(bridge_, subscriptions_, streams_.events, std::move(options));
}

grpc::ServerUnaryReactor* ControlService::Restart(grpc::CallbackServerContext* context,
                                                  const v1::RestartRequest* request,
                                                  v1::RestartResponse*) {
  std::optional<int> instance;
  if (request->has_instance()) instance = request->instance();
  return OnLoop(context, [this, app = request->app(), instance] {
    return supervisor_.Restart(app, instance);
  });
}

grpc::ServerUnaryReactor* ControlService::Scale(grpc::CallbackServerContext* context,
                                                const v1::ScaleRequest* request,
                                                v1::ScaleResponse* response) {
  if (request->count_case() == v1::ScaleRequest::COUNT_NOT_SET) {
    return AnswerNow(context,
                     grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "give instances or delta"));
  }
  bool relative = request->count_case() == v1::ScaleRequest::kDelta;
  int count = relative ? request->delta() : request->instances();
  return OnLoop(context, [this, response, app = request->app(), count, relative] {
    absl::Status scaled = supervisor_.Scale(app, count, relative);
    for (const auto& each : supervisor_.apps()) {
      if (each->name() == app) response->set_instances(each->instances());
    }
    return scaled;
  });
}

grpc::ServerUnaryReactor* ControlService::Signal(grpc::CallbackServerContext* context,
                                                 const v1::SignalRequest* request,
                                                 v1::SignalResponse*) {
  std::optional<int> signo = signals::ParseSignal(request->signal());
  if (!signo) {
    return AnswerNow(context,
                     grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  absl::StrCat("'", request->signal(), "' names no signal")));
  }
  return OnLoop(context, [this, app = request->app(), signo = *signo] {
    return supervisor_.Signal(app, signo);
  });
}

grpc::ServerWriteReactor<v1::Event>* ControlService::StreamEvents(
    grpc::CallbackServerContext* context, const v1::StreamEventsRequest*) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return RefuseEventStream(allowed);
  EventStreamOptions options;
  options.headers_when_subscribed = true;
  return OpenEventStream(bridge_, subscriptions_, streams_.events, std::move(options));
}

grpc::ServerUnaryReactor* ControlService::GetConfig(grpc::CallbackServerContext* context,
                                                    const v1::GetConfigRequest*,
                                                    v1::Config* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return AnswerNow(context, allowed);
  *response = config_;  // never changes once tend runs
  return AnswerNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ControlService::Probe(grpc::CallbackServerContext* context,
                                                const v1::ProbeRequest* request,
                                                v1::ProbeResponse* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return AnswerNow(context, allowed);
  auto answer = [response](const probes::Verdict& verdict) {
    response->set_ok(verdict.ok);
    std::string reason = verdict.body;
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    response->set_reason(reason);
    return grpc::Status::OK;
  };
  return AnswerOnLoop(
      bridge_, kProbeDeadline,
      [this, answer, kind = request->kind()] {
        std::vector<probes::Check> checks = {{"event-loop", true, ""}};
        if (kind == v1::ProbeRequest::READY) {
          checks = probes::ReadinessChecks(supervisor_.Status(false), stopping_());
        }
        return answer(probes::Judge("", checks, false));
      },
      [answer] {
        return answer(probes::Verdict{false, kUnresponsive});
      });
}

namespace {

v1::LogLine ToProto(const logs::KeptLine& line, uint64_t dropped_before) {
  v1::LogLine proto;
  proto.set_app(line.source.app);
  proto.set_instance(line.source.instance);
  proto.set_pid(line.source.pid);
  proto.set_stderr(line.is_stderr);
  proto.set_text(line.text);
  proto.set_unix_ms(line.unix_ms);
  proto.set_dropped_before(dropped_before);
  return proto;
}

}  // namespace

grpc::ServerWriteReactor<v1::LogLine>* ControlService::Logs(grpc::CallbackServerContext* context,
                                                            const v1::LogsRequest* request) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) {
    return new RefusedStream<v1::LogLine>(allowed);
  }
  std::optional<int> instance;
  if (request->has_instance()) instance = request->instance();
  auto follower = std::make_shared<std::optional<uint64_t>>();
  logs::LogBuffer& buffer = supervisor_.log_buffer();
  Feeding<v1::LogLine> feeding;
  feeding.subscribe = [this, &buffer, follower, app = request->app(), instance,
                       lines = request->lines(),
                       follow = request->follow()](std::shared_ptr<Outbox<v1::LogLine>> outbox) {
    if (!app.empty() && !supervisor_.HasApp(app)) {
      return absl::NotFoundError(absl::StrCat("no app named '", app, "'"));
    }
    // The backlog is bounded by the buffer, not by the stream's own queue; what the budget
    // of all log streams has no room for is left out, and said.
    std::vector<logs::KeptLine> backlog = buffer.Last(app, instance, lines);
    uint64_t dropped = 0;   // since the last line sent: told with the next one
    uint64_t left_out = 0;  // in all: a backlog with a gap in it is no whole answer
    for (size_t i = 0; i < backlog.size(); ++i) {
      // Only a backlog whole so far may end with its last line; one with a gap ends saying so.
      bool last = !follow && i + 1 == backlog.size() && left_out == 0;
      if (outbox->Send(ToProto(backlog[i], dropped), last, false)) {
        dropped = 0;
      } else {
        ++dropped;
        ++left_out;
      }
    }
    if (!follow) {
      if (left_out > 0) {
        outbox->End(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("tend holds at most ", StreamLimits::kLogStreamsBytes,
                         " bytes for all log streams at once: ", left_out,
                         " lines were left out; ask for fewer --lines, or again later")));
      } else if (backlog.empty()) {
        outbox->End(grpc::Status::OK);
      }
      return absl::OkStatus();
    }
    *follower = buffer.Follow([outbox, app, instance, dropped](const logs::KeptLine& line) mutable {
      if (!app.empty() && line.source.app != app) return;
      if (instance && line.source.instance != *instance) return;
      if (outbox->Send(ToProto(line, dropped), false)) {
        dropped = 0;
      } else {
        ++dropped;
      }
    });
    return absl::OkStatus();
  };
  feeding.unsubscribe = [&buffer, follower] {
    if (*follower) buffer.Unfollow(**follower);
  };
  feeding.headers_when_subscribed = request->follow();
  return OpenFeedStream(bridge_, streams_.logs,
                        {StreamLimits::kMaxQueuedLogLines, StreamLimits::kMaxQueuedLogBytes,
                         streams_.log_bytes, StreamLimits::kOwnLogBytes},
                        Overflow::kDrop, "log lines", std::move(feeding));
}

}  // namespace tend::control
