#include "runtime/supervise/app.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"
#include "runtime/init/exit_status.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/process/spawn.h"
#include "runtime/signals/signals.h"

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
  if (WIFSIGNALED(wait_status)) return signals::SignalName(WTERMSIG(wait_status));
  return absl::StrCat("code ", init::ExitCodeOf(wait_status));
}

}  // namespace

App::App(const v1::App& config, Worker::Context context, int& next_worker_id)
    : config_(config),
      policy_(PolicyOf(config)),
      context_(context),
      next_worker_id_(next_worker_id) {}

App::~App() = default;

std::string App::Label(size_t index) const { return absl::StrCat(name(), "[", index, "]"); }

bool App::SharesSocket() const {
  return config_.exec_mode() == v1::App::CLUSTER || context_.activation_fd >= 0;
}

std::unique_ptr<Worker> App::NewWorker(int instance) {
  return std::make_unique<Worker>(++next_worker_id_, instance, config_, context_, *this);
}

absl::StatusOr<std::unique_ptr<App>> App::Create(const v1::App& config, Worker::Context context,
                                                 int& next_worker_id) {
  std::unique_ptr<App> app(new App(config, context, next_worker_id));
  if (!config.cron_restart().empty()) {
    absl::StatusOr<cron::CronSchedule> cron = cron::CronSchedule::Parse(config.cron_restart());
    if (!cron.ok()) return cron.status();
    App* raw = app.get();
    app->cron_ = std::make_unique<CronRestart>(context.loop, config.name(), config.cron_restart(),
                                               *cron, [raw] { raw->Reload(RestartReason::kCron); });
  }
  if (config.watch_size() > 0) {
    App* raw = app.get();
    absl::StatusOr<std::unique_ptr<FileWatcher>> watcher =
        FileWatcher::Create(context.loop, {config.watch().begin(), config.watch().end()},
                            {config.ignore_watch().begin(), config.ignore_watch().end()},
                            Millis(config.watch_delay_ms() ? config.watch_delay_ms() : 1000),
                            [raw](const std::string& changed) {
                              logs::Info(absl::StrCat(raw->name(), ": ", changed, " changed"));
                              raw->Reload(RestartReason::kWatch);
                            });
    if (!watcher.ok()) return watcher.status();
    app->watcher_ = std::move(*watcher);
  }
  return app;
}

void App::Start() {
  if (cron_) cron_->Start();
  if (config_.max_memory_bytes() > 0) {
    memory_limit_ = std::make_unique<MemoryLimit>(
        context_.loop, config_.max_memory_bytes(), [this] { return MemoryCandidates(); },
        [this](size_t index, std::string why) {
          BeginReload(RestartReason::kMemory,
                      absl::StrCat("memory restart of ", Label(index), " (", why, ")"), {index});
        });
  }
  for (uint32_t i = 0; i < config_.instances(); ++i) {
    slots_.push_back(std::make_unique<Slot>(policy_));
    unstarted_.push_back(i);
  }
  StartPaced();
}

void App::StartPaced() {
  if (in_start_paced_) return;  // a start that ended at once re-enters: the loop below goes on
  in_start_paced_ = true;
  size_t limit = context_.start_concurrency > 0 ? context_.start_concurrency : slots_.size();
  while (!stopping_ && !unstarted_.empty() && first_starting_ < limit) {
    if (spawned_this_turn_ == kSpawnsPerTurn) {
      // Workers ready at once (fork mode) do not hold a turn for long: the rest start on
      // later loop turns, so a scale to thousands never stalls probes, signals or reaping.
      // The count starts again when the loop comes back to this timer.
      if (!pace_timer_) {
        pace_timer_ = context_.loop.After(Millis(0), [this] {
          pace_timer_.reset();
          spawned_this_turn_ = 0;
          StartPaced();
        });
      }
      break;
    }
    size_t index = unstarted_.front();
    unstarted_.pop_front();
    // Gone (scaled down), or started another way (a reload) meanwhile.
    if (index >= slots_.size() || slots_[index]->worker) continue;
    slots_[index]->first_start = true;
    ++first_starting_;
    ++spawned_this_turn_;
    StartSlot(index);  // may end its first start at once (ready, or failed)
  }
  in_start_paced_ = false;
}

void App::EndFirstStart(size_t index) {
  if (index >= slots_.size() || !slots_[index]->first_start) return;
  slots_[index]->first_start = false;
  --first_starting_;
  StartPaced();
}

void App::StartSlot(size_t index) {
  Slot& slot = *slots_[index];
  slot.restart_timer.reset();
  std::unique_ptr<Worker> worker = NewWorker(static_cast<int>(index));
  if (absl::Status started = worker->Start(); !started.ok()) {
    EndFirstStart(index);
    if (errors::IsTransient(started)) {
      // Short of processes, memory or descriptors now: that may pass, so try again later,
      // backing off, and never give the instance up for it.
      slot.spawn_backoff = SpawnBackoffAfter(slot.spawn_backoff);
      logs::Warn(absl::StrCat(Label(index), ": ", started.message(), "; trying again in ",
                              slot.spawn_backoff.count(), " ms"));
      // Then in its turn of the paced start, as a new instance would.
      slot.restart_timer = context_.loop.After(slot.spawn_backoff, [this, index] {
        slots_[index]->restart_timer.reset();
        unstarted_.push_back(index);
        StartPaced();
      });
      return;
    }
    logs::Error(absl::StrCat(Label(index), ": ", started.message()));
    last_exit_code_ = process::ExitCodeForSpawnError(started);
    slot.errored = true;  // the command cannot run: restarting cannot help
    return;
  }
  slot.spawn_backoff = Millis(0);
  slot.worker = std::move(worker);
  Emit(Event::Kind::kWorkerStarted, static_cast<int>(index), slot.worker->pid());
  if (slot.worker->state() == Worker::State::kReady) OnReady(*slot.worker);
}

void App::Emit(Event::Kind kind, int instance, pid_t pid, std::string detail, int exit_code,
               bool ok) {
  if (!context_.events) return;
  Event event{kind, name(), instance, pid, exit_code, ok, std::move(detail), std::nullopt};
  bool of_reload = kind == Event::Kind::kReloadStarted || kind == Event::Kind::kReloadProgress ||
                   kind == Event::Kind::kReloadFinished;
  if (of_reload && reload_) event.reason = reload_->reason;
  context_.events->OnEvent(event);
}

bool App::Owns(pid_t pid) const {
  for (const auto& slot : slots_) {
    if (slot->worker && slot->worker->pid() == pid) return true;
  }
  for (const auto& worker : retiring_) {
    if (worker->pid() == pid) return true;
  }
  for (const auto& [index, replacement] : replacements_) {
    if (replacement->pid() == pid) return true;
  }
  return false;
}

bool App::OnExit(pid_t pid, int wait_status) {
  int exit_code = init::ExitCodeOf(wait_status);
  for (auto it = retiring_.begin(); it != retiring_.end(); ++it) {
    if ((*it)->pid() != pid) continue;
    Emit(Event::Kind::kWorkerExited, (*it)->instance(), pid, Describe(wait_status), exit_code);
    bool by_stop_signal = WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == stop_signal_;
    if (stopping_ && exit_code != 0 && !by_stop_signal) stopped_cleanly_ = false;
    retiring_.erase(it);
    if (reload_ && reload_->steps->OnStoppedExited(pid)) AfterReloadStep();
    return true;
  }
  for (auto it = replacements_.begin(); it != replacements_.end(); ++it) {
    if (it->second->pid() != pid) continue;
    size_t index = it->first;
    Emit(Event::Kind::kWorkerExited, static_cast<int>(index), pid, Describe(wait_status),
         exit_code);
    replacements_.erase(it);
    std::string why =
        absl::StrCat("the new worker for instance ", index, " exited (", Describe(wait_status),
                     ") before it was ready; the old one keeps serving");
    if (reload_ && reload_->steps->OnReplacementExited(index, why)) AfterReloadStep();
    return true;
  }
  for (size_t index = 0; index < slots_.size(); ++index) {
    if (!slots_[index]->worker || slots_[index]->worker->pid() != pid) continue;
    logs::Warn(absl::StrCat(Label(index), " pid ", pid, " exited (", Describe(wait_status), ")"));
    Emit(Event::Kind::kWorkerExited, static_cast<int>(index), pid, Describe(wait_status),
         exit_code);
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
  EndFirstStart(index);  // failed before it was ready: the next instance's turn
  if (stopping_) return;
  if (reload_ && reload_->steps->OnInstanceExited(index)) AfterReloadStep();
  RestartTracker::Decision decision = slot.tracker.OnExit(exit_code, uptime);
  switch (decision.kind) {
    case RestartTracker::Decision::kStop:
      slot.stopped = true;
      return;
    case RestartTracker::Decision::kErrored:
      slot.errored = true;
      logs::Error(absl::StrCat(Label(index), " errored: ", policy_.max_restarts,
                               " unstable restarts (up less than ", policy_.min_uptime.count(),
                               " ms); not restarting it"));
      return;
    case RestartTracker::Decision::kRestart:
      ++slot.restarts[static_cast<int>(RestartReason::kExited)];
      Emit(Event::Kind::kRestartScheduled, static_cast<int>(index), 0,
           absl::StrCat("in ", decision.delay.count(), " ms"));
      slot.restart_timer = context_.loop.After(decision.delay, [this, index] { StartSlot(index); });
      return;
  }
}

void App::Announce(const Worker& worker) {
  logs::Info(absl::StrCat(Label(worker.instance()), " pid ", worker.pid(), " ready"));
  Emit(Event::Kind::kWorkerReady, worker.instance(), worker.pid());
}

void App::OnReady(Worker& worker) {
  Announce(worker);
  size_t index = static_cast<size_t>(worker.instance());
  bool in_slot = index < slots_.size() && slots_[index]->worker.get() == &worker;
  if (in_slot) EndFirstStart(index);
  if (!reload_) return;
  auto replacement = replacements_.find(index);
  bool waited = replacement != replacements_.end() && replacement->second.get() == &worker
                    ? reload_->steps->OnReplacementReady(index)
                    : in_slot && reload_->steps->OnInstanceReady(index);
  if (waited) AfterReloadStep();
}

void App::Retire(std::unique_ptr<Worker> worker, int signo) {
  worker->Retire(signo);
  retiring_.push_back(std::move(worker));
}

absl::Status App::Scale(int instances) {
  if (stopping_) return absl::FailedPreconditionError("tend is stopping");
  if (reload_) {
    return absl::FailedPreconditionError(
        absl::StrCat(name(), " is reloading; scale it when the reload is done"));
  }
  if (instances < 0 || instances > kMaxInstances) {
    return absl::InvalidArgumentError(
        absl::StrCat(instances, " instances: expected 0 to ", kMaxInstances));
  }
  logs::Info(
      absl::StrCat("scaling ", name(), " from ", slots_.size(), " to ", instances, " instances"));
  Emit(Event::Kind::kScaled, -1, 0, absl::StrCat("from ", slots_.size(), " to ", instances));
  // New slots start paced, as at the first start.
  while (slots_.size() < static_cast<size_t>(instances)) {
    unstarted_.push_back(slots_.size());
    slots_.push_back(std::make_unique<Slot>(policy_));
  }
  while (slots_.size() > static_cast<size_t>(instances)) {
    std::unique_ptr<Slot> removed = std::move(slots_.back());
    slots_.pop_back();
    if (removed->first_start) --first_starting_;
    if (removed->worker) Retire(std::move(removed->worker), SIGTERM);
  }
  StartPaced();
  return absl::OkStatus();
}

std::vector<MemoryLimit::Candidate> App::MemoryCandidates() const {
  std::vector<MemoryLimit::Candidate> candidates;
  if (reload_ || stopping_) return candidates;  // one replacement at a time
  for (size_t index = 0; index < slots_.size(); ++index) {
    const Worker* worker = slots_[index]->worker.get();
    if (!worker || worker->state() != Worker::State::kReady) continue;
    candidates.push_back({index, worker->pid(), [worker] { return worker->Usage(); }});
  }
  return candidates;
}

void App::Stop(int signo) {
  stopping_ = true;
  stop_signal_ = signo;
  reload_pending_ = false;
  if (cron_) cron_->Stop();
  memory_limit_.reset();
  pace_timer_.reset();
  watcher_.reset();
  if (reload_) {
    reload_->steps->Abort();
    EndReload();
  }
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
  for (auto& [index, replacement] : replacements_) replacement->Kill();
}

bool App::Finished() const {
  if (!retiring_.empty() || reload_) return false;
  if (!unstarted_.empty() && !stopping_) return false;
  // Scaled to zero at run time: idle until scaled up again, unless tend stops.
  if (slots_.empty() && !stopping_) return false;
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
