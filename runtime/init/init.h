#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "runtime/init/descendants.h"
#include "runtime/init/workload.h"
#include "runtime/loop/event_loop.h"
#include "runtime/signals/signals.h"
#include "tend/v1/config.pb.h"

namespace tend::init {

// tend as an init. Its rules, all of them here:
//  1. Every catchable signal is read from a signalfd: tend never dies of one. SIGTTIN and
//     SIGTTOU are ignored, as tini does: terminal I/O must never stop PID 1. main blocks them
//     first thing, so none is lost while the configuration loads; a stop signal that came
//     before the workload started means nothing starts (exit 128+N).
//  2. SIGCHLD: every terminated child is reaped at once, the workload's and any orphan's.
//  3. A signal tend raised itself (SIGPIPE from a write) is not passed on.
//  4. Any other signal is rewritten (--rewrite; rewritten to 0, it is dropped). Then SIGTERM,
//     SIGINT and SIGQUIT, as received, start a graceful stop: tend stops being ready at once,
//     the workload stops with the rewritten signal after --shutdown-delay, and a deadline of
//     --kill-timeout after that is set. Every other signal is forwarded to the workload.
//  5. Once the workload has finished, leftover descendants get SIGTERM. A supervisor's
//     workers are restarted, so whatever one leaves when it exits is ended at once: the
//     rest of its process group, and every child of tend that is none of the workload's
//     (an orphan handed to tend) get SIGTERM, and SIGKILL a kill timeout later.
//  6. At the deadline (kill timeout after the stop began, or after the workload finished on
//     its own) the workload and every descendant get SIGKILL.
//  7. tend exits when the workload has finished and no descendant is left, with the
//     workload's exit code as --remap-exit maps it.
//  8. Should the event loop itself fail (epoll_wait, the timerfd), tend says why, sends
//     SIGTERM to every descendant, SIGKILL a kill timeout later, and exits 1: PID 1 never
//     returns quietly with its processes running.
class Init {
 public:
  Init(const v1::InitOptions& options, loop::EventLoop& loop, signals::SignalChannel& signals,
       Descendants& descendants);

  // Starts the workload and runs until rule 7; returns tend's exit code.
  int Run(Workload& workload);

  // Whether a graceful stop has begun (readiness turns off).
  bool stopping() const { return stopping_; }
  // Called once, when a graceful stop begins (before the shutdown delay).
  void OnStopBegun(std::function<void()> callback) { on_stop_begun_ = std::move(callback); }
  // Every process reaped, the workload's and orphans.
  uint64_t reaped() const { return reaped_; }
  // Signals forwarded to the workload, by number (after rewriting).
  const std::map<int, uint64_t>& forwarded() const { return forwarded_; }

 private:
  void OnSignals();
  void OnSignal(const signals::SignalChannel::Received& received);
  void Reap();
  void ReapFinished();
  void BeginStop(int received, int forwarded);
  void EndDescendants();
  void OnDeadline();
  void EndLeftoversOf(pid_t exited);
  int EndWithoutLoop(const absl::Status& why);

  const v1::InitOptions& options_;
  loop::EventLoop& loop_;
  signals::SignalChannel& signals_;
  Descendants& descendants_;
  Workload* workload_ = nullptr;
  bool stopping_ = false;
  bool ending_descendants_ = false;
  std::function<void()> on_stop_begun_;
  uint64_t reaped_ = 0;
  std::map<int, uint64_t> forwarded_;
  std::unique_ptr<loop::Timer> shutdown_delay_;
  std::unique_ptr<loop::Timer> deadline_;
  std::unique_ptr<loop::Timer> after_kill_;
  // Leftovers of exited workers given SIGTERM: each batch gets SIGKILL at its deadline.
  struct Leftovers {
    pid_t group;
    std::vector<pid_t> orphans;
    std::unique_ptr<loop::Timer> deadline;
  };
  std::list<Leftovers> leftovers_;
  std::set<pid_t> ending_orphans_;  // SIGTERMed and not reaped yet
};

}  // namespace tend::init
