#pragma once

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/loop/event_loop.h"
#include "runtime/supervise/restart_policy.h"
#include "runtime/supervise/worker.h"
#include "tend/v1/config.pb.h"

namespace tend::supervise {

// One app: its instance slots, each running one worker, restarted by the app's policy;
// rolling reloads; graceful stop. Owns every worker it starts until that worker exits.
class App : public WorkerListener {
 public:
  // `next_worker_id` numbers workers across every app (Node's cluster worker ids).
  App(const v1::App& config, Worker::Context context, int& next_worker_id);
  ~App() override;

  void Start();
  // Replaces every worker, one instance at a time: start the replacement, wait until it is
  // ready, then drain the old one. A replacement that fails keeps the old worker serving and
  // ends the reload. A reload asked for during one runs after it.
  void Reload();
  // Drains and stops every worker with `signo`; nothing is restarted any more.
  void Stop(int signo);
  void Signal(int signo);
  void Kill();
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

  void OnReady(Worker& worker) override;

 private:
  struct Slot {
    explicit Slot(const RestartPolicy& policy) : tracker(policy) {}
    std::unique_ptr<Worker> worker;
    RestartTracker tracker;
    std::unique_ptr<loop::Timer> restart_timer;
    bool errored = false;
    bool stopped = false;  // exited and, by policy, not restarted
  };
  struct ReloadProgress {
    size_t slot = 0;
    std::unique_ptr<Worker> replacement;
  };

  std::unique_ptr<Worker> NewWorker(int instance);
  void StartSlot(size_t index);
  void OnSlotExit(size_t index, int exit_code);
  void ReloadNext();
  void EndReload(bool ok);
  void Retire(std::unique_ptr<Worker> worker, int signo);

  const v1::App& config_;
  RestartPolicy policy_;
  Worker::Context context_;
  int& next_worker_id_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<Worker>> retiring_;
  std::optional<ReloadProgress> reload_;
  bool reload_pending_ = false;
  bool stopping_ = false;
  int stop_signal_ = SIGTERM;
  bool stopped_cleanly_ = true;
  int last_exit_code_ = 0;
};

}  // namespace tend::supervise
