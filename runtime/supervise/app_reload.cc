// App's side of a rolling reload: what starts one, and the ReloadTarget steps that
// RollingReload asks for.
#include <signal.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/supervise/app.h"

namespace tend::supervise {

void App::Reload(RestartReason reason) {
  if (stopping_) return;
  if (reload_) {
    reload_pending_ = true;
    return;
  }
  std::deque<size_t> all(slots_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  BeginReload(reason, absl::StrCat("reload of ", name()), std::move(all));
}

absl::Status App::Restart(std::optional<int> instance) {
  if (stopping_) return absl::FailedPreconditionError("tend is stopping");
  if (reload_) {
    return absl::FailedPreconditionError(
        absl::StrCat(name(), " is reloading; restart it when the reload is done"));
  }
  if (instance && (*instance < 0 || *instance >= instances())) {
    return absl::NotFoundError(
        absl::StrCat(name(), " has no instance ", *instance, " (it has ", instances(), ")"));
  }
  std::deque<size_t> chosen;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!instance || static_cast<int>(i) == *instance) chosen.push_back(i);
  }
  BeginReload(RestartReason::kRequested,
              absl::StrCat("restart of ", instance ? Label(*instance) : name()), std::move(chosen));
  return absl::OkStatus();
}

void App::BeginReload(RestartReason reason, std::string what, std::deque<size_t> instances) {
  logs::Info(absl::StrCat(what, ": starting"));
  RollingReload::Plan plan{std::move(instances), config_.reload_surge(), !SharesSocket()};
  ReloadTarget& target = *this;
  reload_.emplace(ReloadUnderWay{reason, context_.loop.Now(), what,
                                 std::make_unique<RollingReload>(target, std::move(plan))});
  Emit(Event::Kind::kReloadStarted, -1, 0, std::move(what));
  reload_->steps->Begin();
  AfterReloadStep();
}

bool App::Runs(size_t index) const { return index < slots_.size() && slots_[index]->worker; }

ReloadTarget::Started App::StartNextTo(size_t index, std::string* why) {
  std::unique_ptr<Worker> replacement = NewWorker(static_cast<int>(index));
  if (absl::Status started = replacement->Start(); !started.ok()) {
    *why = std::string(started.message());
    return Started::kFailed;
  }
  Worker& started = *replacement;
  replacements_[index] = std::move(replacement);
  if (started.state() != Worker::State::kReady) return Started::kStarting;
  Announce(started);
  return Started::kReady;
}

void App::Promote(size_t index) {
  Slot& slot = *slots_[index];
  std::unique_ptr<Worker> old = std::move(slot.worker);
  slot.worker = std::move(replacements_[index]);
  replacements_.erase(index);
  ++slot.restarts[static_cast<int>(reload_->reason)];
  // The replacement fills the slot: a restart the old worker's exit scheduled would start
  // a worker over it, and the slot is neither errored nor stopped any more.
  slot.restart_timer.reset();
  slot.errored = slot.stopped = false;
  if (slot.first_start) {  // it stood for the first worker: the next instance's turn
    slot.first_start = false;
    --first_starting_;
    paced_turn_ended_ = true;
  }
  if (old) Retire(std::move(old), SIGTERM);
}

pid_t App::StopFirst(size_t index) {
  pid_t pid = slots_[index]->worker->pid();
  Retire(std::move(slots_[index]->worker), SIGTERM);
  return pid;
}

ReloadTarget::Started App::StartInPlace(size_t index) {
  ++slots_[index]->restarts[static_cast<int>(reload_->reason)];
  StartSlot(index);  // announces a worker ready at once (the reload waits for none yet)
  const Worker* worker = slots_[index]->worker.get();
  if (!worker) return Started::kFailed;
  return worker->state() == Worker::State::kReady ? Started::kReady : Started::kStarting;
}

void App::Replaced(size_t index) {
  const Worker& worker = *slots_[index]->worker;
  Emit(Event::Kind::kReloadProgress, worker.instance(), worker.pid(), reload_->what);
}

void App::Failed(const std::string& why) {
  logs::Warn(absl::StrCat(reload_->what, " failed: ", why));
}

void App::AfterReloadStep() {
  if (reload_ && reload_->steps->done()) EndReload();
  if (paced_turn_ended_) {  // after the step, so that no start runs inside it
    paced_turn_ended_ = false;
    StartPaced();
  }
}

void App::EndReload() {
  // Replacements are left only when a stop cut the reload short: they stop with the rest.
  for (auto& [index, replacement] : replacements_) Retire(std::move(replacement), stop_signal_);
  replacements_.clear();
  bool failed = reload_->steps->failed();
  if (!failed) logs::Info(absl::StrCat(reload_->what, ": done"));
  if (reload_->reason == RestartReason::kReload || reload_->reason == RestartReason::kCron ||
      reload_->reason == RestartReason::kWatch) {
    ++(failed ? reloads_failed_ : reloads_succeeded_);
    last_reload_ = {std::chrono::duration_cast<std::chrono::milliseconds>(
                        context_.loop.WallNow().time_since_epoch())
                        .count(),
                    !failed};
    reload_durations_.Observe(
        std::chrono::duration<double>(context_.loop.Now() - reload_->began).count());
  }
  Emit(Event::Kind::kReloadFinished, -1, 0, reload_->what, 0, !failed);
  reload_.reset();
  if (reload_pending_ && !stopping_) {
    reload_pending_ = false;
    Reload();
  }
}

}  // namespace tend::supervise
