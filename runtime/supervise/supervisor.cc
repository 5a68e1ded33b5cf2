#include "runtime/supervise/supervisor.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "runtime/cluster/preload_js.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/net/listen.h"

namespace tend::supervise {
namespace {

absl::Status NoApp(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("no app named '", name, "'"));
}

// Where the preload is written for `node --require`: a tmpfs that stays writable under a
// read-only root filesystem first. Empty when nothing is writable.
std::string WritePreload(std::string* dir) {
  const char* bases[] = {getenv("TEND_RUNTIME_DIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
  for (const char* base : bases) {
    if (!base || !*base) continue;
    std::string pattern = absl::StrCat(base, "/tend-XXXXXX");
    if (!mkdtemp(pattern.data())) continue;
    // Readable by workers that run as another user (uid); the preload holds no secret.
    chmod(pattern.c_str(), 0755);
    std::string path = pattern + "/preload.js";
    std::ofstream file(path);
    file << cluster::kPreloadJs;
    file.close();
    if (file.good()) {
      *dir = pattern;
      return path;
    }
    unlink(path.c_str());
    rmdir(pattern.c_str());
  }
  return "";
}

// The preload as inline code, for a filesystem with nowhere to write: an ES module in a
// data: URL (`--import`, Node 18.18+ and 20.6+), which gets `require` from createRequire.
std::string InlinePreloadOption() {
  std::string module = absl::StrCat(
      "import { createRequire } from 'node:module'; const require = createRequire('/');\n",
      cluster::kPreloadJs);
  return absl::StrCat("--import=data:text/javascript;base64,", absl::Base64Escape(module));
}

logs::LogSink::Options SinkOptions(const v1::LogOptions& options) {
  logs::LogSink::Options sink;
  switch (options.format()) {
    case v1::LogOptions::JSON:
      sink.format.kind = logs::LineFormat::kJson;
      break;
    case v1::LogOptions::PREFIXED:
      sink.format.kind = logs::LineFormat::kPrefixed;
      break;
    case v1::LogOptions::KEY_VALUE:
      sink.format.kind = logs::LineFormat::kKeyValue;
      break;
    default:
      sink.format.kind = logs::LineFormat::kRaw;
      break;
  }
  sink.format.time = options.time();
  return sink;
}

}  // namespace

Supervisor::Supervisor(const v1::Config& config, loop::EventLoop& loop,
                       std::vector<std::string> env)
    : config_(config),
      loop_(loop),
      env_(std::move(env)),
      sockets_(loop),
      log_buffer_(config.logs().buffer_lines(), config.logs().buffer_bytes()),
      sink_(loop, SinkOptions(config.logs()), &log_buffer_) {}

Supervisor::~Supervisor() {
  apps_.clear();
  if (!preload_path_.empty()) {
    unlink(preload_path_.c_str());
    rmdir(preload_dir_.c_str());
  }
}

absl::Status Supervisor::Start() {
  TEND_ON_LOOP_THREAD(loop_);
  bool wants_preload = false;
  for (const v1::App& app : config_.apps()) wants_preload |= app.node() && app.preload();
  std::string preload_option;
  if (wants_preload) {
    preload_path_ = WritePreload(&preload_dir_);
    preload_option =
        preload_path_.empty() ? InlinePreloadOption() : absl::StrCat("--require ", preload_path_);
  }
  for (const v1::App& app : config_.apps()) {
    Worker::Context context{loop_, sockets_, env_, app.preload() ? preload_option : "", sink_};
    context.events = this;
    context.start_concurrency = config_.start_concurrency();
    if (app.has_listen()) {
      absl::StatusOr<int> fd = sockets_.ListenForActivation(app.listen().address(),
                                                            static_cast<int>(app.listen().port()));
      if (!fd.ok()) return Failed(absl::StrCat("--listen: ", fd.status().message()));
      context.activation_fd = *fd;
      logs::Info(absl::StrCat(app.name(), ": listening on ", net::LocalAddressText(*fd),
                              " for its workers (LISTEN_FDS)"));
    }
    absl::StatusOr<std::unique_ptr<App>> created = App::Create(app, context, next_worker_id_);
    if (!created.ok()) return Failed(absl::StrCat(app.name(), ": ", created.status().message()));
    apps_.push_back(std::move(*created));
  }
  // Only once every app is sound: a bad one starts nothing.
  if (config_.start_delay_ms() > 0) {
    start_timer_ = loop_.After(std::chrono::milliseconds(config_.start_delay_ms()), [this] {
      for (auto& app : apps_) app->Start();
    });
  } else {
    for (auto& app : apps_) app->Start();
  }
  return absl::OkStatus();
}

absl::Status Supervisor::Failed(absl::string_view why) {
  start_failed_ = true;
  return absl::InvalidArgumentError(why);
}

App* Supervisor::Find(const std::string& name) const {
  for (const auto& app : apps_) {
    if (app->name() == name) return app.get();
  }
  return nullptr;
}

absl::Status Supervisor::Scale(const std::string& name, int count, bool relative) {
  TEND_ON_LOOP_THREAD(loop_);
  App* app = Find(name);
  if (!app) return NoApp(name);
  // In 64 bits: a delta of INT_MAX must not wrap around to a negative count.
  int64_t wanted = relative ? int64_t{app->instances()} + count : count;
  if (wanted < 0 || wanted > App::kMaxInstances) {
    return absl::InvalidArgumentError(absl::StrCat(
        relative ? absl::StrCat(count >= 0 ? "+" : "", count, " from ", app->instances(), " is ")
                 : "",
        wanted, " instances: expected 0 to ", App::kMaxInstances));
  }
  return app->Scale(static_cast<int>(wanted));
}

absl::Status Supervisor::Reload(const std::string& name) {
  TEND_ON_LOOP_THREAD(loop_);
  if (stopping_) return absl::FailedPreconditionError("tend is stopping");
  if (name.empty()) {
    Reload();
    return absl::OkStatus();
  }
  App* app = Find(name);
  if (!app) return NoApp(name);
  app->Reload();
  return absl::OkStatus();
}

absl::Status Supervisor::Restart(const std::string& name, std::optional<int> instance) {
  TEND_ON_LOOP_THREAD(loop_);
  App* app = Find(name);
  if (!app) return NoApp(name);
  return app->Restart(instance);
}

absl::Status Supervisor::Signal(const std::string& name, int signo) {
  TEND_ON_LOOP_THREAD(loop_);
  if (name.empty()) {
    for (auto& app : apps_) app->Signal(signo);
    return absl::OkStatus();
  }
  App* app = Find(name);
  if (!app) return NoApp(name);
  app->Signal(signo);
  return absl::OkStatus();
}

std::vector<AppStatus> Supervisor::Status(bool with_usage) const {
  TEND_ON_LOOP_THREAD(loop_);
  std::vector<AppStatus> status;
  for (const auto& app : apps_) status.push_back(app->Status(with_usage));
  return status;
}

std::vector<cluster::AppMetricsAsked> Supervisor::RequestAppMetrics(
    const AppMetricsAnswer& answer) {
  TEND_ON_LOOP_THREAD(loop_);
  auto wanted = [](const v1::App& config) {
    return config.node() && config.preload() && config.app_metrics() != v1::App::APP_METRICS_OFF;
  };
  size_t workers_in_all = 0;
  for (const auto& app : apps_) {
    if (wanted(app->config())) workers_in_all += app->AppMetricsWorkers();
  }
  size_t each = std::clamp<size_t>(kMaxAppMetricsBytes / std::max<size_t>(1, workers_in_all),
                                   64 << 10, cluster::WorkerSession::kMaxAppMetricsBytes);
  std::vector<cluster::AppMetricsAsked> asked;
  for (const auto& app : apps_) {
    if (!wanted(app->config())) continue;
    std::string name = app->name();
    int workers = app->RequestAppMetrics(
        [answer, name](int instance, cluster::AppMetricsAnswer metrics) {
          answer(name, instance, std::move(metrics));
        },
        each);
    asked.push_back(
        {name, workers, app->config().app_metrics() == v1::App::APP_METRICS_PER_WORKER});
  }
  return asked;
}

void Supervisor::AddListener(EventListener* listener) {
  TEND_ON_LOOP_THREAD(loop_);
  listeners_.push_back(listener);
}

void Supervisor::RemoveListener(EventListener* listener) {
  TEND_ON_LOOP_THREAD(loop_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

void Supervisor::OnEvent(const Event& event) {
  TEND_ON_LOOP_THREAD(loop_);
  // A copy: a listener may remove itself while being told.
  std::vector<EventListener*> listeners = listeners_;
  for (EventListener* listener : listeners) listener->OnEvent(event);
}

void Supervisor::Forward(int signo) {
  TEND_ON_LOOP_THREAD(loop_);
  if (signo == SIGHUP) {
    Reload();
    return;
  }
  for (auto& app : apps_) app->Signal(signo);
}

void Supervisor::Reload() {
  TEND_ON_LOOP_THREAD(loop_);
  if (stopping_) {
    logs::Warn("reload refused: tend is stopping");
    return;
  }
  for (auto& app : apps_) app->Reload();
}

void Supervisor::Stop(int signo) {
  TEND_ON_LOOP_THREAD(loop_);
  stopping_ = true;
  start_timer_.reset();
  for (auto& app : apps_) app->Stop(signo);
}

void Supervisor::Kill() {
  TEND_ON_LOOP_THREAD(loop_);
  for (auto& app : apps_) app->Kill();
}

bool Supervisor::OnExit(pid_t pid, int wait_status) {
  TEND_ON_LOOP_THREAD(loop_);
  for (auto& app : apps_) {
    if (app->OnExit(pid, wait_status)) return true;
  }
  return false;
}

bool Supervisor::Owns(pid_t pid) const {
  TEND_ON_LOOP_THREAD(loop_);
  for (const auto& app : apps_) {
    if (app->Owns(pid)) return true;
  }
  return false;
}

bool Supervisor::Finished() const {
  TEND_ON_LOOP_THREAD(loop_);
  if (config_.no_auto_exit() && !stopping_) return false;
  for (const auto& app : apps_) {
    if (!app->Finished()) return false;
  }
  return true;
}

int Supervisor::ExitCode() const {
  TEND_ON_LOOP_THREAD(loop_);
  if (start_failed_) return 1;
  if (stopping_) {
    for (const auto& app : apps_) {
      if (!app->stopped_cleanly()) return 1;
    }
    return 0;
  }
  int last = 0;
  bool all_errored = !apps_.empty();
  for (const auto& app : apps_) {
    all_errored &= app->Errored();
    if (app->last_exit_code() != 0) last = app->last_exit_code();
  }
  return all_errored && last == 0 ? 1 : last;
}

}  // namespace tend::supervise
