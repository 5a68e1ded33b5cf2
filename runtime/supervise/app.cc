#include "runtime/supervise/app.h"

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "runtime/init/exit_status.h"
#include "runtime/init/signals.h"
#include "runtime/logs/diagnostics.h"

namespace tend::supervise {
namespace {

RestartPolicy PolicyOf(const v1::App& config) {
  RestartPolicy policy;
  policy.autorestart = config.autorestart();
  policy.stop_exit_codes = {config.stop_exit_codes().begin(), config.stop_exit_codes().end()};
  policy.min_uptime = Millis(config.min_uptime_ms());
  policy.max_restarts = static_cast<int>(config.max_restarts());
  policy.restart_delay = Millis(config.restart_delay_ms());
  policy.exp_backoff_restart_delay = Millis(config.exp_backoff_restart_delay_ms());
  return policy;
}

std::string Describe(int wait_status) {
  if (WIFSIGNALED(wait_status)) return init::SignalName(WTERMSIG(wait_status));
  return absl::StrCat("code ", init::ExitCodeOf(wait_status));
}

}  // namespace

App::App(const v1::App& config, Worker::Context context, int& next_worker_id)
    : config_(config), policy_(PolicyOf(config)), context_(context),
      next_worker_id_(next_worker_id) {}

App::~App() = default;

std::unique_ptr<Worker> App::NewWorker(int instance) {
  return std::make_unique<Worker>(++next_worker_id_, instance, config_, context_, *this);
}

void App::Start() {
  for (uint32_t i = 0; i < config_.instances(); ++i) {
    slots_.push_back(std::make_unique<Slot>(policy_));
    StartSlot(i);
  }
}

void App::StartSlot(size_t index) {
  Slot& slot = *slots_[index];
  slot.restart_timer.reset();
  std::unique_ptr<Worker> worker = NewWorker(static_cast<int>(index));
  if (absl::Status started = worker->Start(); !started.ok()) {
    logs::Error(absl::StrCat(name(), "[", index, "]: ", started.message()));
    last_exit_code_ = 127;
    slot.errored = true;  // the command cannot run: restarting cannot help
    return;
  }
  slot.worker = std::move(worker);
}

bool App::OnExit(pid_t pid, int wait_status) {
  int exit_code = init::ExitCodeOf(wait_status);
  for (auto it = retiring_.begin(); it != retiring_.end(); ++it) {
    if ((*it)->pid() != pid) continue;
    bool by_stop_signal = WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == stop_signal_;
    if (stopping_ && exit_code != 0 && !by_stop_signal) stopped_cleanly_ = false;
    retiring_.erase(it);
    return true;
  }
  if (reload_ && reload_->replacement && reload_->replacement->pid() == pid) {
    logs::Warn(absl::StrCat("reload of ", name(), " failed: the new worker for instance ",
                            reload_->slot, " exited (", Describe(wait_status),
                            ") before it was ready; the old one keeps serving"));
    reload_->replacement.reset();
    EndReload(false);
    return true;
  }
  for (size_t index = 0; index < slots_.size(); ++index) {
    if (!slots_[index]->worker || slots_[index]->worker->pid() != pid) continue;
    logs::Warn(absl::StrCat(name(), "[", index, "] pid ", pid, " exited (", Describe(wait_status),
                            ")"));
    OnSlotExit(index, exit_code);
    return true;
  }
  return false;
}

void App::OnSlotExit(size_t index, int exit_code) {
  Slot& slot = *slots_[index];
  Millis uptime = slot.worker->Uptime();
  slot.worker.reset();
  last_exit_code_ = exit_code;
  if (stopping_) return;
  RestartTracker::Decision decision = slot.tracker.OnExit(exit_code, uptime);
  switch (decision.kind) {
    case RestartTracker::Decision::kStop:
      slot.stopped = true;
      return;
    case RestartTracker::Decision::kErrored:
      slot.errored = true;
      logs::Error(absl::StrCat(name(), "[", index, "] errored: ", policy_.max_restarts,
                               " unstable restarts (up less than ", policy_.min_uptime.count(),
                               " ms); not restarting it"));
      return;
    case RestartTracker::Decision::kRestart:
      slot.restart_timer = context_.loop.After(decision.delay, [this, index] { StartSlot(index); });
      return;
  }
}

void App::OnReady(Worker& worker) {
  logs::Info(absl::StrCat(name(), "[", worker.instance(), "] pid ", worker.pid(), " ready"));
  if (!reload_ || reload_->replacement.get() != &worker) return;
  Slot& slot = *slots_[reload_->slot];
  std::unique_ptr<Worker> old = std::move(slot.worker);
  slot.worker = std::move(reload_->replacement);
  if (old) Retire(std::move(old), SIGTERM);
  ++reload_->slot;
  ReloadNext();
}

void App::Reload() {
  if (stopping_) return;
  if (reload_) {
    reload_pending_ = true;
    return;
  }
  logs::Info(absl::StrCat("reloading ", name()));
  reload_.emplace();
  ReloadNext();
}

void App::ReloadNext() {
  while (reload_->slot < slots_.size() && !slots_[reload_->slot]->worker) ++reload_->slot;
  if (reload_->slot == slots_.size()) {
    EndReload(true);
    return;
  }
  std::unique_ptr<Worker> replacement = NewWorker(static_cast<int>(reload_->slot));
  if (absl::Status started = replacement->Start(); !started.ok()) {
    logs::Error(absl::StrCat("reload of ", name(), " failed: ", started.message()));
    EndReload(false);
    return;
  }
  reload_->replacement = std::move(replacement);
}

void App::EndReload(bool ok) {
  if (reload_ && reload_->replacement) {
    reload_->replacement->Kill();
    retiring_.push_back(std::move(reload_->replacement));
  }
  reload_.reset();
  if (ok) logs::Info(absl::StrCat("reloaded ", name()));
  if (reload_pending_ && !stopping_) {
    reload_pending_ = false;
    Reload();
  }
}

void App::Retire(std::unique_ptr<Worker> worker, int signo) {
  worker->Retire(signo);
  retiring_.push_back(std::move(worker));
}

void App::Stop(int signo) {
  stopping_ = true;
  stop_signal_ = signo;
  reload_pending_ = false;
  if (reload_) EndReload(false);
  for (auto& slot : slots_) {
    slot->restart_timer.reset();
    if (slot->worker) Retire(std::move(slot->worker), signo);
  }
}

void App::Signal(int signo) {
  for (auto& slot : slots_) {
    if (slot->worker) slot->worker->Signal(signo);
  }
}

void App::Kill() {
  for (auto& slot : slots_) {
    if (slot->worker) slot->worker->Kill();
  }
  for (auto& worker : retiring_) worker->Kill();
  if (reload_ && reload_->replacement) reload_->replacement->Kill();
}

bool App::Finished() const {
  if (!retiring_.empty() || reload_) return false;
  for (const auto& slot : slots_) {
    if (slot->worker || slot->restart_timer) return false;
  }
  return true;
}

bool App::Errored() const {
  for (const auto& slot : slots_) {
    if (!slot->errored) return false;
  }
  return !slots_.empty();
}

}  // namespace tend::supervise
