#include "runtime/control/control_service.h"

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "probes/health.h"
#include "runtime/control/event_queue.h"
#include "runtime/init/signals.h"

namespace tend::control {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kLoopDeadline = 5s;
constexpr std::chrono::milliseconds kProbeDeadline = 900ms;

const char kUnresponsive[] = "tend's event loop did not answer";

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnresponsive); }

v1::AppState ToProto(const supervise::AppStatus& app, int64_t now_ms) {
  v1::AppState state;
  state.set_name(app.name);
  state.set_desired(app.desired);
  state.set_ready(app.ready);
  state.set_reloading(app.reloading);
  state.set_errored(app.errored);
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

}  // namespace

ControlService::ControlService(loop::CrossThread& bridge, supervise::Supervisor& supervisor,
                               const v1::Config& config, std::function<bool()> stopping,
                               Authorization authorization)
    : bridge_(bridge), supervisor_(supervisor), config_(config), stopping_(std::move(stopping)),
      authorization_(std::move(authorization)) {}

grpc::Status ControlService::Authorize(grpc::ServerContext* context) const {
  auto header = context->client_metadata().find("authorization");
  absl::string_view value;
  if (header != context->client_metadata().end()) {
    value = absl::string_view(header->second.data(), header->second.size());
  }
  std::string refused = authorization_.Check(context->peer(), value);
  if (refused.empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, refused);
}

grpc::Status ControlService::OnLoop(std::function<absl::Status()> task) {
  std::optional<absl::Status> done = bridge_.Call<absl::Status>(std::move(task), kLoopDeadline);
  return done ? ToGrpc(*done) : Unavailable();
}

grpc::Status ControlService::ListWorkers(grpc::ServerContext* context,
                                         const v1::ListWorkersRequest*,
                                         v1::ListWorkersResponse* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  std::optional<std::vector<supervise::AppStatus>> apps =
      bridge_.Call<std::vector<supervise::AppStatus>>([this] { return supervisor_.Status(); },
                                                      kLoopDeadline);
  if (!apps) return Unavailable();
  int64_t now = NowMs();
  for (const supervise::AppStatus& app : *apps) *response->add_apps() = ToProto(app, now);
  return grpc::Status::OK;
}

grpc::Status ControlService::Reload(grpc::ServerContext* context, const v1::ReloadRequest* request,
                                    grpc::ServerWriter<v1::Event>* writer) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  auto queue = std::make_shared<EventQueue>();
  std::set<std::string> apps;
  grpc::Status asked = OnLoop([&] {
    supervisor_.AddListener(queue.get());
    absl::Status reloading = supervisor_.Reload(request->app());
    if (!reloading.ok()) {
      supervisor_.RemoveListener(queue.get());
      return reloading;
    }
    for (const auto& app : supervisor_.apps()) {
      if (request->app().empty() || app->name() == request->app()) apps.insert(app->name());
    }
    return absl::OkStatus();
  });
  if (!asked.ok()) return asked;
  // This reload's events, from its start (a reload already running finishes first) to its end.
  std::set<std::string> started, finished;
  grpc::Status result = grpc::Status::OK;
  while (finished.size() < apps.size() && !context->IsCancelled()) {
    std::optional<v1::Event> event = queue->Next(500ms);
    if (queue->overflowed()) {
      result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "events came faster than read");
      break;
    }
    if (!event || !apps.count(event->app())) continue;
    if (event->kind() == v1::Event::RELOAD_STARTED &&
        event->reason() == supervise::RestartReasonName(supervise::RestartReason::kReload)) {
      started.insert(event->app());
    }
    bool of_reload = event->kind() == v1::Event::RELOAD_STARTED ||
                     event->kind() == v1::Event::RELOAD_PROGRESS ||
                     event->kind() == v1::Event::RELOAD_FINISHED;
    if (!of_reload || !started.count(event->app())) continue;
    if (event->kind() == v1::Event::RELOAD_FINISHED) finished.insert(event->app());
    if (!writer->Write(*event)) break;
  }
  bridge_.Post([this, queue] { supervisor_.RemoveListener(queue.get()); });
  return result;
}

grpc::Status ControlService::Restart(grpc::ServerContext* context,
                                     const v1::RestartRequest* request, v1::RestartResponse*) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  std::optional<int> instance;
  if (request->has_instance()) instance = request->instance();
  return OnLoop([&] { return supervisor_.Restart(request->app(), instance); });
}

grpc::Status ControlService::Scale(grpc::ServerContext* context, const v1::ScaleRequest* request,
                                   v1::ScaleResponse* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  if (request->count_case() == v1::ScaleRequest::COUNT_NOT_SET) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "give instances or delta");
  }
  bool relative = request->count_case() == v1::ScaleRequest::kDelta;
  int count = relative ? request->delta() : request->instances();
  return OnLoop([&] {
    absl::Status scaled = supervisor_.Scale(request->app(), count, relative);
    for (const auto& app : supervisor_.apps()) {
      if (app->name() == request->app()) response->set_instances(app->instances());
    }
    return scaled;
  });
}

grpc::Status ControlService::Signal(grpc::ServerContext* context,
                                    const v1::SignalRequest* request, v1::SignalResponse*) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  std::optional<int> signo = init::ParseSignal(request->signal());
  if (!signo) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("'", request->signal(), "' names no signal"));
  }
  return OnLoop([&] { return supervisor_.Signal(request->app(), *signo); });
}

grpc::Status ControlService::StreamEvents(grpc::ServerContext* context,
                                          const v1::StreamEventsRequest*,
                                          grpc::ServerWriter<v1::Event>* writer) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  auto queue = std::make_shared<EventQueue>();
  grpc::Status subscribed = OnLoop([&] {
    supervisor_.AddListener(queue.get());
    return absl::OkStatus();
  });
  if (!subscribed.ok()) return subscribed;
  // Headers go out now, so the client knows it is subscribed before any event.
  writer->SendInitialMetadata();
  grpc::Status result = grpc::Status::OK;
  while (!context->IsCancelled()) {
    std::optional<v1::Event> event = queue->Next(500ms);
    if (queue->overflowed()) {
      result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "events came faster than read");
      break;
    }
    if (event && !writer->Write(*event)) break;
  }
  bridge_.Post([this, queue] { supervisor_.RemoveListener(queue.get()); });
  return result;
}

grpc::Status ControlService::GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest*,
                                       v1::Config* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  *response = config_;  // never changes once tend runs
  return grpc::Status::OK;
}

grpc::Status ControlService::Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                                   v1::ProbeResponse* response) {
  if (grpc::Status allowed = Authorize(context); !allowed.ok()) return allowed;
  std::optional<probes::Verdict> verdict = bridge_.Call<probes::Verdict>(
      [this, kind = request->kind()] {
        std::vector<probes::Check> checks = {{"event-loop", true, ""}};
        if (kind == v1::ProbeRequest::READY) {
          checks = probes::ReadinessChecks(supervisor_.Status(false), stopping_());
        }
        return probes::Judge("", checks, false);
      },
      kProbeDeadline);
  if (!verdict) verdict = probes::Verdict{false, kUnresponsive};
  response->set_ok(verdict->ok);
  std::string reason = verdict->body;
  while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  response->set_reason(reason);
  return grpc::Status::OK;
}

}  // namespace tend::control
