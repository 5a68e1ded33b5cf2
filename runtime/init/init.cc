#include "runtime/init/init.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "runtime/init/exit_status.h"
#include "runtime/init/reaper.h"
#include "runtime/logs/diagnostics.h"

namespace tend::init {
namespace {

// How long SIGKILLed processes get to vanish before tend exits regardless (a process stuck
// in uninterruptible sleep must not hang PID 1).
constexpr std::chrono::seconds kAfterKillGrace(2);

bool IsStopSignal(int signo) { return signo == SIGTERM || signo == SIGINT || signo == SIGQUIT; }

}  // namespace

Init::Init(const v1::InitOptions& options, loop::EventLoop& loop, signals::SignalChannel& signals,
           Descendants& descendants)
    : options_(options), loop_(loop), signals_(signals), descendants_(descendants) {}

int Init::Run(Workload& workload) {
  workload_ = &workload;
  // A stop signal that came while the configuration loaded (main blocks them first thing):
  // the container is being stopped, so nothing starts. Others have no one to go to yet.
  for (const signals::SignalChannel::Received& received : signals_.Drain()) {
    if (IsStopSignal(received.signo) && received.sender != getpid()) {
      logs::Info(absl::StrCat(signals::SignalName(received.signo),
                              " received before the start: starting nothing"));
      return 128 + received.signo;
    }
  }
  if (absl::Status started = workload.Start(); started.ok()) {
    absl::Status ran = loop_.Watch(signals_.fd(), [this] { OnSignals(); });
    if (ran.ok()) ran = loop_.Run();
    loop_.Unwatch(signals_.fd());
    if (!ran.ok()) return EndWithoutLoop(ran);
    // A descendant may have become a zombie after the last reap and before the check that
    // found nothing alive: reap it, so tend leaves no zombie to its own parent.
    ReapFinished();
  } else {
    logs::Error(started.message());
  }
  const auto& remap = options_.exit_remap();
  return RemapExitCode(workload.ExitCode(), {remap.begin(), remap.end()});
}

// Rule 8: no loop, so no timers nor signalfd: plain waits, bounded by the kill timeout.
int Init::EndWithoutLoop(const absl::Status& why) {
  logs::Error(absl::StrCat("the event loop failed (", why.message(),
                           "): stopping every process and exiting"));
  workload_->Stop(SIGTERM);
  descendants_.SignalAll(SIGTERM);
  auto wait_until = [this](std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
      ReapFinished();
      if (!descendants_.AnyLeft()) {
        ReapFinished();  // one that turned zombie after the reap above counts as gone
        return true;
      }
      usleep(10000);
    }
    return false;
  };
  auto now = std::chrono::steady_clock::now();
  if (!wait_until(now + std::chrono::milliseconds(options_.kill_timeout_ms()))) {
    workload_->Kill();
    descendants_.SignalAll(SIGKILL);
    wait_until(std::chrono::steady_clock::now() + kAfterKillGrace);
  }
  return 1;
}

void Init::OnSignals() {
  bool child_exited = false;
  for (const signals::SignalChannel::Received& received : signals_.Drain()) {
    if (received.signo == SIGCHLD) {
      child_exited = true;
    } else {
      OnSignal(received);
    }
  }
  if (child_exited) Reap();
}

void Init::OnSignal(const signals::SignalChannel::Received& received) {
  if (received.sender == getpid()) return;
  auto rewrite = options_.signal_rewrite().find(received.signo);
  int forwarded = rewrite == options_.signal_rewrite().end() ? received.signo : rewrite->second;
  if (forwarded == 0) return;
  ++forwarded_[forwarded];
  if (IsStopSignal(received.signo) && !stopping_) {
    BeginStop(received.signo, forwarded);
  } else {
    workload_->Forward(forwarded);
  }
}

void Init::BeginStop(int received, int forwarded) {
  stopping_ = true;
  if (on_stop_begun_) on_stop_begun_();
  const uint32_t delay = options_.shutdown_delay_ms();
  logs::Info(absl::StrCat(signals::SignalName(received), " received: stopping",
                          delay ? absl::StrCat(" in ", delay, " ms") : "", ", SIGKILL ",
                          options_.kill_timeout_ms(), " ms after that"));
  auto stop = [this, forwarded] {
    workload_->Stop(forwarded);
    deadline_ = loop_.After(std::chrono::milliseconds(options_.kill_timeout_ms()),
                            [this] { OnDeadline(); });
    // Nothing may be left to exit (--no-auto-exit, every app ended): no SIGCHLD would come.
    Reap();
  };
  if (delay == 0) {
    stop();
  } else {
    shutdown_delay_ = loop_.After(std::chrono::milliseconds(delay), stop);
  }
}

void Init::ReapFinished() {
  for (const ExitedChild& exited : ReapExited()) {
    ++reaped_;
    ending_orphans_.erase(exited.pid);
    bool of_workload = workload_->OnExit(exited.pid, exited.wait_status);
    if (of_workload && !stopping_ && workload_->EndsLeftoversOfEachExit()) {
      EndLeftoversOf(exited.pid);
    }
  }
}

void Init::EndLeftoversOf(pid_t exited) {
  Leftovers batch{exited, {}, nullptr};
  // Its process group (it was the leader): what it started that has a live parent still.
  // (Unless a new worker, spawned while this exit was handled, reused the pid already.)
  if (!workload_->Owns(exited)) kill(-exited, SIGTERM);
  // The kernel reparented the exited process's children to tend before telling tend it
  // exited, so they are among tend's children now.
  for (pid_t child : ChildrenOf(getpid())) {
    if (workload_->Owns(child) || ending_orphans_.count(child)) continue;
    if (kill(child, SIGTERM) == 0) {
      ending_orphans_.insert(child);
      batch.orphans.push_back(child);
    }
  }
  auto it = leftovers_.insert(leftovers_.end(), std::move(batch));
  it->deadline = loop_.After(std::chrono::milliseconds(options_.kill_timeout_ms()), [this, it] {
    // A group id is reused only once the whole group is gone and a new process gets that
    // pid: never signal the group of a process the workload runs now.
    if (!workload_->Owns(it->group)) kill(-it->group, SIGKILL);
    // Orphans not reaped yet are still tend's children: their pids cannot have been reused.
    for (pid_t orphan : it->orphans) {
      if (ending_orphans_.count(orphan)) kill(orphan, SIGKILL);
    }
    leftovers_.erase(it);
  });
}

void Init::Reap() {
  ReapFinished();
  if (!workload_->Finished()) return;
  if (!ending_descendants_) {
    EndDescendants();
  } else if (!descendants_.AnyLeft()) {
    loop_.Stop();
  }
}

void Init::EndDescendants() {
  ending_descendants_ = true;
  if (!descendants_.AnyLeft()) {
    loop_.Stop();
    return;
  }
  descendants_.SignalAll(SIGTERM);
  if (!deadline_) {
    deadline_ = loop_.After(std::chrono::milliseconds(options_.kill_timeout_ms()),
                            [this] { OnDeadline(); });
  }
}

void Init::OnDeadline() {
  logs::Warn(
      absl::StrCat("kill timeout of ", options_.kill_timeout_ms(), " ms passed: sending SIGKILL"));
  workload_->Kill();
  descendants_.SignalAll(SIGKILL);
  after_kill_ = loop_.After(kAfterKillGrace, [this] {
    logs::Warn("processes survived SIGKILL; exiting anyway");
    loop_.Stop();
  });
}

}  // namespace tend::init
