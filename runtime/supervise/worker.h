#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/cluster/ipc_channel.h"
#include "runtime/cluster/worker_session.h"
#include "runtime/logs/relay.h"
#include "runtime/loop/event_loop.h"
#include "runtime/process/usage.h"
#include "runtime/supervise/status.h"
#include "tend/v1/config.pb.h"

namespace tend::supervise {

class Worker;

// Told when a worker becomes ready (its app decides what that means for a reload).
class WorkerListener {
 public:
  virtual ~WorkerListener() = default;
  virtual void OnReady(Worker& worker) = 0;
};

// One running process of an app, and tend's end of its IPC channel.
class Worker {
 public:
  enum class State {
    kStarting,  // spawned, not ready yet
    kReady,     // serving
    kDraining,  // asked to finish its connections
    kStopping,  // sent its stop signal; SIGKILL at the deadline
  };

  struct Context {
    loop::EventLoop& loop;
    cluster::SharedSockets& sockets;
    const std::vector<std::string>& base_env;  // tend's environment
    // What NODE_OPTIONS gets to load tend's drain preload; empty: no preload.
    std::string preload_option;
    logs::LogSink& sink;              // where the worker's output lines go
    int activation_fd = -1;           // --listen's socket, or -1
    EventListener* events = nullptr;  // told what happens to the app's workers
    uint32_t start_concurrency = 0;   // see v1::Config; 0: all at once
  };

  Worker(int id, int instance, const v1::App& app, Context context, WorkerListener& listener);
  ~Worker();

  // Spawns the worker. One that needs no message to be ready is kReady on return.
  absl::Status Start();
  // Stops gracefully: drain first where the preload can, then `signo`; SIGKILL at the
  // app's kill timeout either way.
  void Retire(int signo);
  void Signal(int signo);
  void Kill();

  // Asks a ready worker's preload for its app's prom-client metrics. `answer` is called once
  // the whole answer has arrived, and never if none does; a new request replaces it. False:
  // the worker cannot answer (no preload, not ready), and was not asked.
  using MetricsAnswer = std::function<void(cluster::AppMetricsAnswer)>;
  // `max_bytes`: the most the answer may hold (WorkerSession::RequestAppMetrics).
  bool RequestAppMetrics(MetricsAnswer answer, size_t max_bytes);
  // Whether RequestAppMetrics would ask: a ready worker whose preload runs, and whose app
  // had a prom-client registry the last time, or not in the last kNoRegistryPause (an app
  // without prom-client is not woken at every scrape, and one that loads it late is found).
  bool CanAnswerAppMetrics() const;
  static constexpr std::chrono::seconds kNoRegistryPause{60};

  int id() const { return id_; }
  int instance() const { return instance_; }
  pid_t pid() const { return pid_; }
  State state() const { return state_; }
  std::chrono::milliseconds Uptime() const;
  int64_t started_unix_ms() const { return started_unix_ms_; }
  std::optional<process::Usage> Usage() const;

 private:
  // "app[0] pid 42", which begins each line tend writes about this worker.
  std::string Named() const;
  std::vector<std::string> Environment() const;
  void OnChannelReadable();
  void OnEvent(cluster::WorkerSession::Event event);
  void FlushChannel();
  void CloseChannel();
  void WakeChannel();
  void BecomeReady();
  void SendStopSignal();

  const int id_;
  const int instance_;
  const v1::App& app_;
  Context context_;
  WorkerListener& listener_;
  pid_t pid_ = 0;
  State state_ = State::kStarting;
  bool preloaded_ = false;  // the preload announced itself: it will answer a drain
  int stop_signal_ = 0;
  std::chrono::steady_clock::time_point started_;
  int64_t started_unix_ms_ = 0;
  std::unique_ptr<cluster::IpcChannel> channel_;
  std::unique_ptr<cluster::WorkerSession> session_;
  MetricsAnswer metrics_answer_;
  std::chrono::steady_clock::time_point no_registry_until_;
  std::unique_ptr<loop::Timer> wake_timer_;
  std::unique_ptr<logs::OutputPipe> stdout_;
  std::unique_ptr<logs::OutputPipe> stderr_;
  std::unique_ptr<loop::Timer> listen_timer_;
  std::unique_ptr<loop::Timer> kill_timer_;
};

}  // namespace tend::supervise
