#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/loop/event_loop.h"
#include "runtime/supervise/cron_restart.h"
#include "runtime/supervise/file_watcher.h"
#include "runtime/supervise/memory_limit.h"
#include "runtime/supervise/restart_policy.h"
#include "runtime/supervise/rolling_reload.h"
#include "runtime/supervise/status.h"
#include "runtime/supervise/worker.h"
#include "tend/v1/config.pb.h"

namespace tend::supervise {

// A worker as the outside (logs, control, metrics) sees it.
struct WorkerInfo {
  int instance;
  int id;
  pid_t pid;
  Worker::State state;
};

// One app: its instance slots, each running one worker, restarted by the app's policy; paced
// starts; scaling; graceful stop. Owns every worker it starts until that worker exits. Its
// rolling reloads are a RollingReload's steps, done through the ReloadTarget calls.
class App : public WorkerListener, private ReloadTarget {
 public:
  static constexpr int kMaxInstances = 4096;
  // Paced starts spawn at most this many workers in one loop turn (a spawn costs the loop
  // about 0.1 to 1 ms), whatever the pacing allows.
  static constexpr size_t kSpawnsPerTurn = 8;
  // A spawn that failed for want of processes, memory or descriptors is tried again after
  // 100 ms, then twice as long each time, up to 15 s.
  static constexpr Millis kFirstSpawnBackoff{100};
  static constexpr Millis kMaxSpawnBackoff{15000};
  static Millis SpawnBackoffAfter(Millis last) {
    return std::min(kMaxSpawnBackoff, std::max(kFirstSpawnBackoff, last * 2));
  }

  // `next_worker_id` numbers workers across every app (Node's cluster worker ids). Fails
  // on a configuration it cannot run (a bad cron expression).
  static absl::StatusOr<std::unique_ptr<App>> Create(const v1::App& config, Worker::Context context,
                                                     int& next_worker_id);
  ~App() override;

  void Start();
  // Replaces every worker, up to reload_surge instances at a time. Where the workers share
  // tend's socket (cluster mode, --listen): start the replacement, wait until it is ready,
  // then drain the old one; a replacement that fails keeps the old worker serving and ends
  // the reload. Otherwise the old worker must free its port first: stop it, then start the
  // new one. A reload asked for during one runs after it.
  void Reload(RestartReason reason = RestartReason::kReload);
  // Replaces one instance's worker (or, with nullopt, every one) the way a reload does.
  // Refused while the app reloads or stops.
  absl::Status Restart(std::optional<int> instance);
  // Sets the number of instances: new slots start paced, as at the first start; removed ones
  // drain and stop (the highest first). Refused while the app reloads or stops.
  absl::Status Scale(int instances);
  // Drains and stops every worker with `signo`; nothing is restarted any more.
  void Stop(int signo);
  void Signal(int signo);
  void Kill();
  // Whether `pid` is one of this app's workers (serving, starting, or retiring).
  bool Owns(pid_t pid) const;
  // A process exited; false when it was none of this app's.
  bool OnExit(pid_t pid, int wait_status);

  // Nothing runs, and nothing will be started again.
  bool Finished() const;
  // Every instance hit max_restarts.
  bool Errored() const;
  int last_exit_code() const { return last_exit_code_; }
  // Whether every worker stopped by Stop() exited by itself or of the stop signal.
  bool stopped_cleanly() const { return stopped_cleanly_; }
  const std::string& name() const { return config_.name(); }
  const v1::App& config() const { return config_; }
  int instances() const { return static_cast<int>(slots_.size()); }
  // The workers serving the instances (not replacements still starting, nor retiring ones).
  std::vector<WorkerInfo> Workers() const;
  // Asks each serving worker for the app's own metrics (Worker::RequestAppMetrics); `answer`
  // gets each answer with its instance. Returns how many workers were asked.
  using MetricsAnswer = std::function<void(int instance, cluster::AppMetricsAnswer metrics)>;
  int RequestAppMetrics(const MetricsAnswer& answer, size_t max_bytes);
  // How many workers RequestAppMetrics would ask now.
  int AppMetricsWorkers() const;
  // `with_usage`: also each worker's memory and CPU (a /proc read each).
  AppStatus Status(bool with_usage = true) const;

  void OnReady(Worker& worker) override;

 private:
  struct Slot {
    explicit Slot(const RestartPolicy& policy) : tracker(policy) {}
    std::unique_ptr<Worker> worker;
    RestartTracker tracker;
    std::unique_ptr<loop::Timer> restart_timer;
    bool errored = false;
    bool stopped = false;      // exited and, by policy, not restarted
    bool first_start = false;  // its first worker is starting: it holds a turn of the pacing
    Millis spawn_backoff{0};   // after transient spawn failures in a row: the last delay
    std::array<uint64_t, kRestartReasons> restarts{};
  };
  struct ReloadUnderWay {
    RestartReason reason;
    std::chrono::steady_clock::time_point began;
    std::string what;  // for logs: "reload of APP", ...
    std::unique_ptr<RollingReload> steps;
  };

  App(const v1::App& config, Worker::Context context, int& next_worker_id);
  bool SharesSocket() const;
  std::string Label(size_t index) const;  // "app[index]", for logs
  std::unique_ptr<Worker> NewWorker(int instance);
  void StartSlot(size_t index);
  // First start, paced: starts waiting instances while fewer than start_concurrency start.
  void StartPaced();
  // The slot's first worker is ready, or failed: the next instance may start.
  void EndFirstStart(size_t index);
  void OnSlotExit(size_t index, int exit_code);
  void Announce(const Worker& worker);  // it is ready: the log line and the event
  void Emit(Event::Kind kind, int instance = -1, pid_t pid = 0, std::string detail = "",
            int exit_code = 0, bool ok = true);
  void BeginReload(RestartReason reason, std::string what, std::deque<size_t> instances);
  // After an event the reload waited for: it may be over, and a promotion may have ended a
  // first start.
  void AfterReloadStep();
  void EndReload();
  void Retire(std::unique_ptr<Worker> worker, int signo);
  std::vector<MemoryLimit::Candidate> MemoryCandidates() const;

  // ReloadTarget
  bool Runs(size_t index) const override;
  Started StartNextTo(size_t index, std::string* why) override;
  void Promote(size_t index) override;
  pid_t StopFirst(size_t index) override;
  Started StartInPlace(size_t index) override;
  void Replaced(size_t index) override;
  void Failed(const std::string& why) override;

  const v1::App& config_;
  RestartPolicy policy_;
  Worker::Context context_;
  int& next_worker_id_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<Worker>> retiring_;
  std::optional<ReloadUnderWay> reload_;
  // During a reload: instances whose replacement starts next to the old worker.
  std::map<size_t, std::unique_ptr<Worker>> replacements_;
  bool reload_pending_ = false;
  bool stopping_ = false;
  int stop_signal_ = SIGTERM;
  bool stopped_cleanly_ = true;
  int last_exit_code_ = 0;
  std::unique_ptr<CronRestart> cron_;
  std::deque<size_t> unstarted_;  // first start and scale-up: instances waiting their turn
  size_t first_starting_ = 0;     // first start: workers started and not yet ready or failed
  bool in_start_paced_ = false;
  bool paced_turn_ended_ = false;  // a promotion ended a first start: StartPaced after the step
  size_t spawned_this_turn_ = 0;   // paced spawns since the pace timer last fired
  std::unique_ptr<loop::Timer> pace_timer_;  // the next turn's paced starts
  std::unique_ptr<MemoryLimit> memory_limit_;
  std::unique_ptr<FileWatcher> watcher_;
  uint64_t reloads_succeeded_ = 0;
  uint64_t reloads_failed_ = 0;
  std::optional<LastReload> last_reload_;
  DurationHistogram reload_durations_;
};

}  // namespace tend::supervise
