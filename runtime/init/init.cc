#include "runtime/init/init.h"

#include <signal.h>
#include <unistd.h>

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

Init::Init(const v1::InitOptions& options, loop::EventLoop& loop, SignalChannel& signals,
           Descendants& descendants)
    : options_(options), loop_(loop), signals_(signals), descendants_(descendants) {}

int Init::Run(Workload& workload) {
  workload_ = &workload;
  if (absl::Status started = workload.Start(); started.ok()) {
    loop_.Watch(signals_.fd(), [this] { OnSignals(); });
    loop_.Run();
    loop_.Unwatch(signals_.fd());
    // A descendant may have become a zombie after the last reap and before the check that
    // found nothing alive: reap it, so tend leaves no zombie to its own parent.
    ReapFinished();
  } else {
    logs::Error(started.message());
  }
  const auto& remap = options_.exit_remap();
  return RemapExitCode(workload.ExitCode(), {remap.begin(), remap.end()});
}

void Init::OnSignals() {
  bool child_exited = false;
  for (const SignalChannel::Received& received : signals_.Drain()) {
    if (received.signo == SIGCHLD) {
      child_exited = true;
    } else {
      OnSignal(received);
    }
  }
  if (child_exited) Reap();
}

void Init::OnSignal(const SignalChannel::Received& received) {
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
  logs::Info(absl::StrCat(SignalName(received), " received: stopping",
                          delay ? absl::StrCat(" in ", delay, " ms") : "", ", SIGKILL ",
                          options_.kill_timeout_ms(), " ms after that"));
  auto stop = [this, forwarded] {
    workload_->Stop(forwarded);
    deadline_ = loop_.After(std::chrono::milliseconds(options_.kill_timeout_ms()),
                            [this] { OnDeadline(); });
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
    workload_->OnExit(exited.pid, exited.wait_status);
  }
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
  logs::Warn(absl::StrCat("kill timeout of ", options_.kill_timeout_ms(),
                          " ms passed: sending SIGKILL"));
  workload_->Kill();
  descendants_.SignalAll(SIGKILL);
  after_kill_ = loop_.After(kAfterKillGrace, [this] {
    logs::Warn("processes survived SIGKILL; exiting anyway");
    loop_.Stop();
  });
}

}  // namespace tend::init
