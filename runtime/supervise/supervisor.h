#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cluster/shared_sockets.h"
#include "runtime/init/workload.h"
#include "runtime/logs/log_buffer.h"
#include "runtime/logs/relay.h"
#include "runtime/loop/event_loop.h"
#include "runtime/supervise/app.h"
#include "tend/v1/config.pb.h"

namespace tend::supervise {

// The apps of the configuration as tend's workload: SIGHUP reloads every app, other signals
// go to every worker, a stop drains them all. tend exits when every app has stopped or
// errored.
class Supervisor : public init::Workload, public EventListener {
 public:
  Supervisor(const v1::Config& config, loop::EventLoop& loop, std::vector<std::string> env);
  ~Supervisor() override;

  absl::Status Start() override;
  void Forward(int signo) override;
  void Stop(int signo) override;
  void Kill() override;
  bool OnExit(pid_t pid, int wait_status) override;
  bool Owns(pid_t pid) const override;
  bool EndsLeftoversOfEachExit() const override { return true; }
  bool Finished() const override;
  // 1 when the apps could not start; 0 after a stop in which every worker exited cleanly; after a
  // stop that needed SIGKILL, 1; when every app errored, the last exit code (1 if that was 0); when
  // every app stopped by policy, the last worker's exit code.
  int ExitCode() const override;

  void Reload();
  // Sets app `name`'s instance count to `count`, or changes it by `count` when `relative`.
  absl::Status Scale(const std::string& name, int count, bool relative);
  // Reloads app `name`, or every app when empty; NotFound for an unknown app.
  absl::Status Reload(const std::string& name);
  // Replaces app `name`'s worker for `instance` (every instance: nullopt) gracefully.
  absl::Status Restart(const std::string& name, std::optional<int> instance);
  // Sends `signo` to every worker of app `name` (every app: empty).
  absl::Status Signal(const std::string& name, int signo);
  // `with_usage`: also each worker's memory and CPU; readiness needs neither.
  std::vector<AppStatus> Status(bool with_usage = true) const;
  bool stopping() const { return stopping_; }
  const logs::LogSink& log_sink() const { return sink_; }
  // The last lines of each app's output, and their followers (`tend ctl logs`).
  logs::LogBuffer& log_buffer() { return log_buffer_; }
  // Asks every serving worker of each app with app metrics on for them (see
  // App::RequestAppMetrics); says how many workers of each app were asked. The answers of
  // one request hold at most kMaxAppMetricsBytes in all, shared evenly by the workers asked
  // (each between 64 KiB and WorkerSession::kMaxAppMetricsBytes).
  static constexpr size_t kMaxAppMetricsBytes = 32 << 20;
  using AppMetricsAnswer =
      std::function<void(const std::string& app, int instance, cluster::AppMetricsAnswer metrics)>;
  std::vector<cluster::AppMetricsAsked> RequestAppMetrics(const AppMetricsAnswer& answer);
  // Event listeners, told everything that happens to any app until removed.
  void AddListener(EventListener* listener);
  void RemoveListener(EventListener* listener);
  void OnEvent(const Event& event) override;
  bool HasApp(const std::string& name) const { return Find(name) != nullptr; }
  // Every app, in configuration order.
  const std::vector<std::unique_ptr<App>>& apps() const { return apps_; }

 private:
  absl::Status Failed(absl::string_view why);
  App* Find(const std::string& name) const;

  const v1::Config& config_;
  loop::EventLoop& loop_;
  std::vector<std::string> env_;
  std::string preload_dir_;
  std::string preload_path_;
  cluster::SharedSockets sockets_;
  logs::LogBuffer log_buffer_;
  logs::LogSink sink_;
  int next_worker_id_ = 0;
  std::vector<std::unique_ptr<App>> apps_;
  bool stopping_ = false;
  bool start_failed_ = false;
  std::vector<EventListener*> listeners_;
  std::unique_ptr<loop::Timer> start_timer_;  // --delay
};

}  // namespace tend::supervise
