#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/process/usage.h"

namespace tend::supervise {

// Why an instance got a new worker.
enum class RestartReason {
  kExited,     // its worker exited and the restart policy started another
  kReload,     // a rolling reload (SIGHUP or the control API)
  kCron,       // --cron-restart
  kMemory,     // --max-memory-restart
  kRequested,  // a restart of that instance through the control API
  kWatch,      // pm2's watch: files changed
};
inline constexpr int kRestartReasons = 6;
const char* RestartReasonName(RestartReason reason);

// Reload durations, bucketed for a Prometheus histogram.
struct DurationHistogram {
  static constexpr std::array<double, 9> kBounds = {0.5, 1, 2, 5, 10, 30, 60, 120, 300};
  std::array<uint64_t, kBounds.size()> counts{};  // observations <= each bound, not cumulative
  uint64_t count = 0;
  double sum = 0;
  void Observe(double seconds);
};

// One instance slot of an app, as observers see it.
struct InstanceStatus {
  int instance = 0;
  pid_t pid = 0;               // 0: no worker right now (restarting, errored, stopped)
  const char* state = "down";  // starting, ready, draining, stopping, down, errored
  int64_t started_unix_ms = 0;
  std::array<uint64_t, kRestartReasons> restarts{};
  std::optional<process::Usage> usage;
};

// When the app's last rolling reload ended, and how.
struct LastReload {
  int64_t unix_ms = 0;
  bool ok = true;
};

struct AppStatus {
  std::string name;
  int desired = 0;    // instances
  int ready = 0;      // instances whose worker is ready
  int min_ready = 0;  // ready instances needed for the app to count as ready
  bool reloading = false;
  bool errored = false;
  uint64_t reloads_succeeded = 0;
  uint64_t reloads_failed = 0;
  std::optional<LastReload> last_reload;
  DurationHistogram reload_durations;
  std::vector<InstanceStatus> instances;
};

// Something that happened to an app, for the control API's event stream.
struct Event {
  enum class Kind {
    kWorkerStarted,
    kWorkerReady,
    kWorkerExited,      // exit_code and detail ("code 3", "SIGKILL")
    kRestartScheduled,  // detail: the delay
    kReloadStarted,
    kReloadProgress,  // an instance was replaced
    kReloadFinished,  // ok: whether every instance was replaced
    kScaled,          // detail: "from N to M"
  };
  Kind kind;
  std::string app;
  int instance = -1;
  pid_t pid = 0;
  int exit_code = 0;
  bool ok = true;
  std::string detail;
  // Reload events: what started the reload.
  std::optional<RestartReason> reason;
};

class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void OnEvent(const Event& event) = 0;
};

}  // namespace tend::supervise
