// What the outside (probes, control, metrics) reads of an app, and asks of its workers.
#include <algorithm>

#include "runtime/supervise/app.h"

namespace tend::supervise {

std::vector<WorkerInfo> App::Workers() const {
  std::vector<WorkerInfo> workers;
  for (const auto& slot : slots_) {
    if (!slot->worker) continue;
    const Worker& worker = *slot->worker;
    workers.push_back({worker.instance(), worker.id(), worker.pid(), worker.state()});
  }
  return workers;
}

int App::AppMetricsWorkers() const {
  int workers = 0;
  for (const auto& slot : slots_) workers += slot->worker && slot->worker->CanAnswerAppMetrics();
  return workers;
}

int App::RequestAppMetrics(const MetricsAnswer& answer, size_t max_bytes) {
  int asked = 0;
  for (const auto& slot : slots_) {
    if (!slot->worker) continue;
    int instance = slot->worker->instance();
    asked += slot->worker->RequestAppMetrics(
        [answer, instance](cluster::AppMetricsAnswer metrics) {
          answer(instance, std::move(metrics));
        },
        max_bytes);
  }
  return asked;
}

namespace {

const char* StateName(Worker::State state) {
  switch (state) {
    case Worker::State::kStarting:
      return "starting";
    case Worker::State::kReady:
      return "ready";
    case Worker::State::kDraining:
      return "draining";
    case Worker::State::kStopping:
      return "stopping";
  }
  return "unknown";
}

}  // namespace

AppStatus App::Status(bool with_usage) const {
  AppStatus status;
  status.name = name();
  status.desired = instances();
  status.min_ready = std::min<int>(std::max<uint32_t>(1, config_.min_ready()), instances());
  status.reloading = reload_.has_value();
  status.errored = Errored();
  status.reloads_succeeded = reloads_succeeded_;
  status.reloads_failed = reloads_failed_;
  status.last_reload = last_reload_;
  status.reload_durations = reload_durations_;
  for (size_t index = 0; index < slots_.size(); ++index) {
    const Slot& slot = *slots_[index];
    InstanceStatus instance;
    instance.instance = static_cast<int>(index);
    instance.restarts = slot.restarts;
    instance.state = slot.errored ? "errored" : "down";
    if (slot.worker) {
      instance.pid = slot.worker->pid();
      instance.state = StateName(slot.worker->state());
      instance.started_unix_ms = slot.worker->started_unix_ms();
      if (with_usage) instance.usage = slot.worker->Usage();
      status.ready += slot.worker->state() == Worker::State::kReady;
    }
    status.instances.push_back(std::move(instance));
  }
  return status;
}

}  // namespace tend::supervise
