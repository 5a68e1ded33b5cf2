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

// How often workers' memory is compared with max_memory_bytes: a /proc read per worker.
constexpr Millis kMemoryCheckPeriod{2000};

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

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes / (1024 * 1024), " MiB"); }

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
    app->cron_ = *cron;
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
  if (cron_) ArmCron(time(nullptr));
  if (config_.max_memory_bytes() > 0) {
    memory_timer_ = context_.loop.Every(kMemoryCheckPeriod, [this] { CheckMemory(); });
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
  if (reload_) {
    for (const auto& [index, replacement] : reload_->replacements) {
      if (replacement->pid() == pid) return true;
    }
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
    if (reload_ && reload_->stopping_old.count(pid)) {
      size_t index = reload_->stopping_old[pid];
      reload_->stopping_old.erase(pid);
      reload_->restarted.insert(index);
      ++slots_[index]->restarts[static_cast<int>(reload_->reason)];
      StartSlot(index);
      if (!reload_) return true;  // it was ready at once, and that ended the reload
      if (!slots_[index]->worker) {
        reload_->restarted.erase(index);
        FailReload(absl::StrCat("the new worker for instance ", index, " could not start"));
      }
    }
    return true;
  }
  if (reload_) {
    for (auto it = reload_->replacements.begin(); it != reload_->replacements.end(); ++it) {
      if (it->second->pid() != pid) continue;
      size_t index = it->first;
      Emit(Event::Kind::kWorkerExited, static_cast<int>(index), pid, Describe(wait_status),
           exit_code);
      reload_->replacements.erase(it);
      FailReload(absl::StrCat("the new worker for instance ", index, " exited (",
                              Describe(wait_status),
                              ") before it was ready; the old one keeps "
                              "serving"));
      return true;
    }
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
  if (reload_ && reload_->restarted.erase(index)) {
    FailReload(absl::StrCat("the new worker for instance ", index, " exited before it was ready"));
  }
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

void App::OnReady(Worker& worker) {
  logs::Info(absl::StrCat(Label(worker.instance()), " pid ", worker.pid(), " ready"));
  Emit(Event::Kind::kWorkerReady, worker.instance(), worker.pid());
  if (size_t index = static_cast<size_t>(worker.instance());
      index < slots_.size() && slots_[index]->worker.get() == &worker) {
    EndFirstStart(index);
  }
  if (!reload_) return;
  for (auto it = reload_->replacements.begin(); it != reload_->replacements.end(); ++it) {
    if (it->second.get() != &worker) continue;
    Slot& slot = *slots_[it->first];
    std::unique_ptr<Worker> old = std::move(slot.worker);
    slot.worker = std::move(it->second);
    ++slot.restarts[static_cast<int>(reload_->reason)];
    Emit(Event::Kind::kReloadProgress, worker.instance(), worker.pid(), reload_->what);
    reload_->replacements.erase(it);
    if (old) Retire(std::move(old), SIGTERM);
    AdvanceReload();
    return;
  }
  size_t index = static_cast<size_t>(worker.instance());
  if (index < slots_.size() && slots_[index]->worker.get() == &worker &&
      reload_->restarted.erase(index)) {
    Emit(Event::Kind::kReloadProgress, worker.instance(), worker.pid(), reload_->what);
    AdvanceReload();
  }
}

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
  reload_.emplace();
  reload_->reason = reason;
  reload_->began = std::chrono::steady_clock::now();
  reload_->what = what;
  reload_->queue = std::move(instances);
  Emit(Event::Kind::kReloadStarted, -1, 0, std::move(what));
  AdvanceReload();
}

void App::AdvanceReload() {
  size_t surge = std::max<uint32_t>(1, config_.reload_surge());
  while (!reload_->queue.empty() &&
         reload_->replacements.size() + reload_->stopping_old.size() + reload_->restarted.size() <
             surge) {
    size_t index = reload_->queue.front();
    reload_->queue.pop_front();
    if (index >= slots_.size() || !slots_[index]->worker) continue;  // nothing runs to replace
    if (!SharesSocket()) {
      reload_->stopping_old[slots_[index]->worker->pid()] = index;
      Retire(std::move(slots_[index]->worker), SIGTERM);
      continue;
    }
    std::unique_ptr<Worker> replacement = NewWorker(static_cast<int>(index));
    if (absl::Status started = replacement->Start(); !started.ok()) {
      FailReload(std::string(started.message()));
      return;
    }
    Worker& started = *replacement;
    reload_->replacements[index] = std::move(replacement);
    if (started.state() == Worker::State::kReady) {
      OnReady(started);  // advances the reload itself
      return;
    }
  }
  if (reload_->queue.empty() && reload_->replacements.empty() && reload_->stopping_old.empty() &&
      reload_->restarted.empty()) {
    EndReload();
  }
}

// The instances under way finish; no more are begun.
void App::FailReload(const std::string& why) {
  logs::Warn(absl::StrCat(reload_->what, " failed: ", why));
  reload_->failed = true;
  reload_->queue.clear();
  AdvanceReload();
}

void App::EndReload() {
  // Replacements are left only when a stop cut the reload short: they stop with the rest.
  for (auto& [index, replacement] : reload_->replacements) {
    Retire(std::move(replacement), stop_signal_);
  }
  if (!reload_->failed) logs::Info(absl::StrCat(reload_->what, ": done"));
  if (reload_->reason == RestartReason::kReload || reload_->reason == RestartReason::kCron ||
      reload_->reason == RestartReason::kWatch) {
    ++(reload_->failed ? reloads_failed_ : reloads_succeeded_);
    last_reload_ = {std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count(),
                    !reload_->failed};
    reload_durations_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - reload_->began).count());
  }
  Emit(Event::Kind::kReloadFinished, -1, 0, reload_->what, 0, !reload_->failed);
  reload_.reset();
  if (reload_pending_ && !stopping_) {
    reload_pending_ = false;
    Reload();
  }
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

void App::CheckMemory() {
  if (reload_ || stopping_) return;  // one replacement at a time; the next check comes soon
  for (size_t index = 0; index < slots_.size(); ++index) {
    Worker* worker = slots_[index]->worker.get();
    if (!worker || worker->state() != Worker::State::kReady) continue;
    std::optional<process::Usage> usage = worker->Usage();
    if (!usage || usage->resident_bytes <= config_.max_memory_bytes()) continue;
    BeginReload(RestartReason::kMemory,
                absl::StrCat("memory restart of ", Label(index), " (pid ", worker->pid(), " uses ",
                             Mib(usage->resident_bytes), ", over the ",
                             Mib(config_.max_memory_bytes()), " limit)"),
                {index});
    return;
  }
}

void App::ArmCron(time_t after) {
  // From the time that fired, not a fresh time(), which can still read the second before;
  // and never a time that is not after now, which would fire at once.
  time_t next = cron_->Next(std::max(after, time(nullptr)));
  if (next < 0) {
    logs::Warn(absl::StrCat(name(), ": cron '", config_.cron_restart(), "' names no future time"));
    return;
  }
  auto timer = loop::WallClockTimer::Start(
      context_.loop, std::chrono::system_clock::from_time_t(next),
      [this, next] {
        logs::Info(absl::StrCat(name(), ": cron '", config_.cron_restart(), "'"));
        Reload(RestartReason::kCron);
        ArmCron(next);
      },
      [this] { ArmCron(time(nullptr)); });  // the clock was set: the next time is another
  if (!timer.ok()) {
    logs::Warn(absl::StrCat(name(), ": cron '", config_.cron_restart(),
                            "' cannot be scheduled: ", timer.status().message()));
    return;
  }
  cron_timer_ = std::move(*timer);
}

void App::Stop(int signo) {
  stopping_ = true;
  stop_signal_ = signo;
  reload_pending_ = false;
  cron_timer_.reset();
  memory_timer_.reset();
  pace_timer_.reset();
  watcher_.reset();
  if (reload_) {
    reload_->queue.clear();
    reload_->stopping_old.clear();
    reload_->restarted.clear();
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
  if (reload_) {
    for (auto& [index, replacement] : reload_->replacements) replacement->Kill();
  }
}

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
