#include "runtime/supervise/worker.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/process/spawn.h"
#include "runtime/signals/signals.h"

namespace tend::supervise {
namespace {

// Variables of tend's own environment that describe tend's descriptors, not the worker's.
bool IsTendsOwn(const std::string& var) {
  return var.rfind("NODE_CHANNEL_", 0) == 0 || var.rfind("NODE_UNIQUE_ID=", 0) == 0 ||
         var.rfind("LISTEN_", 0) == 0;
}

}  // namespace

Worker::Worker(int id, int instance, const v1::App& app, Context context, WorkerListener& listener)
    : id_(id), instance_(instance), app_(app), context_(context), listener_(listener) {}

Worker::~Worker() { CloseChannel(); }

std::string Worker::Named() const {
  return absl::StrCat(app_.name(), "[", instance_, "] pid ", pid_);
}

std::chrono::milliseconds Worker::Uptime() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(context_.loop.Now() - started_);
}

std::optional<process::Usage> Worker::Usage() const { return process::UsageOf(pid_); }

std::vector<std::string> Worker::Environment() const {
  std::vector<std::string> env;
  // Later settings of a name replace earlier ones: the app's env over tend's, pm2's and
  // Node's variables over both. (getenv() would return the first of two entries.)
  auto set = [&env](absl::string_view name, const std::string& value) {
    std::string prefix = absl::StrCat(name, "=");
    for (std::string& var : env) {
      if (absl::StartsWith(var, prefix)) {
        var = prefix + value;
        return;
      }
    }
    env.push_back(prefix + value);
  };
  std::string node_options;
  for (const std::string& var : context_.base_env) {
    if (absl::StartsWith(var, "NODE_OPTIONS=")) {
      node_options = var.substr(13);
    } else if (!IsTendsOwn(var)) {
      env.push_back(var);
    }
  }
  for (const auto& [name, value] : app_.env()) {
    int64_t base;
    if (name == "NODE_OPTIONS") {
      node_options = value;
    } else if (name == app_.increment_var() && absl::SimpleAtoi(value, &base)) {
      set(name, absl::StrCat(base + instance_));
    } else {
      set(name, value);
    }
  }
  // pm2's variables, which apps written for pm2 read.
  set(app_.instance_var().empty() ? "NODE_APP_INSTANCE" : app_.instance_var(),
      absl::StrCat(instance_));
  set("pm_id", absl::StrCat(id_));
  set("name", app_.name());
  int next_fd = 3;
  if (context_.activation_fd >= 0) {
    set("LISTEN_FDS", "1");  // fd 3; LISTEN_PID is set by the child itself
    ++next_fd;
  }
  if (app_.node()) {
    set("NODE_CHANNEL_FD", absl::StrCat(next_fd));
    set("NODE_CHANNEL_SERIALIZATION_MODE", "json");
    if (app_.exec_mode() == v1::App::CLUSTER) set("NODE_UNIQUE_ID", absl::StrCat(id_));
    if (!context_.preload_option.empty()) {
      node_options =
          absl::StrCat(context_.preload_option, node_options.empty() ? "" : " ", node_options);
    }
  }
  if (!node_options.empty()) set("NODE_OPTIONS", node_options);
  return env;
}

absl::Status Worker::Start() {
  process::SpawnOptions options;
  options.argv = {app_.command().begin(), app_.command().end()};
  options.env = Environment();
  options.cwd = app_.cwd();
  if (app_.has_run_as()) {
    options.run_as = process::SpawnOptions::RunAs{app_.run_as().uid(), app_.run_as().gid()};
  }
  if (context_.activation_fd >= 0) {
    options.pass_fds.push_back(context_.activation_fd);
    options.listen_pid = true;
  }
  if (app_.node()) {
    absl::StatusOr<std::unique_ptr<cluster::IpcChannel>> channel = cluster::IpcChannel::Create();
    if (!channel.ok()) return channel.status();
    channel_ = std::move(*channel);
    uid_t runs_as = app_.has_run_as() ? app_.run_as().uid() : geteuid();
    session_ = std::make_unique<cluster::WorkerSession>(
        *channel_, context_.sockets,
        cluster::SharedSockets::Holder{app_.name(), id_,
                                       runs_as == 0 || app_.allow_privileged_ports(),
                                       app_.balance() == v1::App::ROUND_ROBIN},
        [this] { WakeChannel(); });
    if (absl::Status watched = context_.loop.Watch(channel_->fd(), [this] { OnChannelReadable(); });
        !watched.ok()) {
      CloseChannel();
      return watched;
    }
    options.pass_fds.push_back(channel_->child_end());
  }
  logs::Source source{app_.name(), instance_, 0};
  absl::StatusOr<std::unique_ptr<logs::OutputPipe>> out =
      logs::OutputPipe::Create(context_.loop, context_.sink, source, false);
  absl::StatusOr<std::unique_ptr<logs::OutputPipe>> err =
      out.ok() ? logs::OutputPipe::Create(context_.loop, context_.sink, source, true)
               : out.status();
  if (!err.ok()) {
    CloseChannel();
    return err.status();
  }
  stdout_ = std::move(*out);
  stderr_ = std::move(*err);
  options.stdout_fd = stdout_->write_end();
  options.stderr_fd = stderr_->write_end();
  absl::StatusOr<pid_t> pid = process::Spawn(options);
  if (channel_) channel_->CloseChildEnd();
  stdout_->CloseWriteEnd();
  stderr_->CloseWriteEnd();
  if (!pid.ok()) {
    CloseChannel();
    return pid.status();
  }
  pid_ = *pid;
  stdout_->set_pid(pid_);
  stderr_->set_pid(pid_);
  started_ = context_.loop.Now();
  started_unix_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                         context_.loop.WallNow().time_since_epoch())
                         .count();
  bool waits_for_message =
      app_.node() && (app_.wait_ready() || app_.exec_mode() == v1::App::CLUSTER);
  if (!waits_for_message) {
    // Ready at once. The caller reads state(): no listener call from inside Start().
    state_ = State::kReady;
  } else {
    listen_timer_ =
        context_.loop.After(std::chrono::milliseconds(app_.listen_timeout_ms()), [this] {
          logs::Warn(absl::StrCat(Named(), " not ready after ", app_.listen_timeout_ms(),
                                  " ms: killing it"));
          Kill();
        });
  }
  return absl::OkStatus();
}

void Worker::OnChannelReadable() {
  std::vector<std::string> messages;
  int stray_fds = 0;
  cluster::IpcChannel::ReadStatus status = channel_->Read(&messages, &stray_fds);
  for (const std::string& message : messages) {
    absl::StatusOr<cluster::WorkerSession::Event> event = session_->Handle(message);
    if (!event.ok()) {
      logs::Warn(absl::StrCat(Named(), " sent ", event.status().message()));
    } else {
      OnEvent(*event);
    }
    if (!channel_) return;  // an event retired the worker and closed the channel
  }
  if (status == cluster::IpcChannel::ReadStatus::kOversized) {
    logs::Warn(absl::StrCat(Named(), " sent an IPC message over ",
                            cluster::IpcChannel::kMaxMessageBytes, " bytes: closing its channel"));
    CloseChannel();
    return;
  }
  if (status == cluster::IpcChannel::ReadStatus::kClosed) {
    CloseChannel();
    return;
  }
  FlushChannel();
}

void Worker::OnEvent(cluster::WorkerSession::Event event) {
  using Event = cluster::WorkerSession::Event;
  bool ready = app_.wait_ready() ? event == Event::kReady : event == Event::kListening;
  if (event == Event::kPreloaded) preloaded_ = true;
  if (ready && state_ == State::kStarting) BecomeReady();
  if (event == Event::kDrained && state_ == State::kDraining) SendStopSignal();
  if (event == Event::kAppMetrics && metrics_answer_) {
    MetricsAnswer answer = std::move(metrics_answer_);
    metrics_answer_ = nullptr;
    cluster::AppMetricsAnswer metrics = session_->TakeAppMetrics();
    if (metrics.none) no_registry_until_ = context_.loop.Now() + kNoRegistryPause;
    answer(std::move(metrics));
  }
}

bool Worker::CanAnswerAppMetrics() const {
  return session_ && preloaded_ && state_ == State::kReady &&
         context_.loop.Now() >= no_registry_until_;
}

bool Worker::RequestAppMetrics(MetricsAnswer answer, size_t max_bytes) {
  if (!CanAnswerAppMetrics()) return false;
  metrics_answer_ = std::move(answer);
  session_->RequestAppMetrics(max_bytes);
  return true;
}

void Worker::FlushChannel() {
  if (!channel_) return;
  bool flushed = channel_->Flush();
  absl::Status watched = context_.loop.WatchWritable(
      channel_->fd(), flushed ? loop::EventLoop::Callback() : [this] { FlushChannel(); });
  if (!watched.ok()) {
    // Nothing could wake the rest of the flush: the channel is unusable. Node ends a worker
    // whose channel closes, and the restart policy takes over.
    logs::Warn(absl::StrCat(Named(), ": ", watched.message(), ": closing its channel"));
    CloseChannel();
  }
}

// Written now if the socket takes it, else when it is writable. Never closes the channel:
// the caller may be inside this worker's own message handling (a broken channel shows as
// EOF on the next read).
void Worker::WakeChannel() {
  if (!channel_ || channel_->Flush()) return;
  if (!context_.loop.WatchWritable(channel_->fd(), [this] { FlushChannel(); }).ok()) {
    wake_timer_ = context_.loop.After(std::chrono::milliseconds(0), [this] { FlushChannel(); });
  }
}

void Worker::CloseChannel() {
  if (!channel_) return;
  context_.loop.Unwatch(channel_->fd());
  session_.reset();
  channel_.reset();
}

void Worker::BecomeReady() {
  state_ = State::kReady;
  listen_timer_.reset();
  if (session_) session_->SetServing(true);
  listener_.OnReady(*this);
}

void Worker::Retire(int signo) {
  if (state_ == State::kDraining || state_ == State::kStopping) return;
  listen_timer_.reset();
  stop_signal_ = signo;
  if (session_) session_->SetServing(false);  // no new connection from now on
  kill_timer_ = context_.loop.After(std::chrono::milliseconds(app_.kill_timeout_ms()), [this] {
    logs::Warn(absl::StrCat(Named(), " still running ", app_.kill_timeout_ms(),
                            " ms after stop: sending SIGKILL"));
    Kill();
  });
  // Only a worker whose preload announced itself is asked to drain: one that never loaded
  // it (an old Node, NODE_OPTIONS overridden) would never answer, and gets its signal now.
  if (session_ && preloaded_ && state_ == State::kReady) {
    state_ = State::kDraining;
    session_->SendDrain();
    FlushChannel();
  } else {
    SendStopSignal();
  }
}

void Worker::SendStopSignal() {
  state_ = State::kStopping;
  if (app_.shutdown_with_message() && session_) {
    session_->SendShutdown();
    FlushChannel();
  } else {
    Signal(stop_signal_);
  }
}

void Worker::Signal(int signo) {
  if (pid_ > 0) kill(pid_, signo);
}

void Worker::Kill() {
  if (pid_ > 0) kill(-pid_, SIGKILL);
  Signal(SIGKILL);
}

}  // namespace tend::supervise
