#pragma once

#include <chrono>
#include <set>

namespace tend::supervise {

using Millis = std::chrono::milliseconds;

// pm2's restart options, with pm2's defaults.
struct RestartPolicy {
  bool autorestart = true;
  std::set<int> stop_exit_codes;  // exits with these codes are not restarted
  Millis min_uptime{1000};        // a shorter run is an unstable restart
  int max_restarts = 16;          // this many unstable restarts in a row: errored
  Millis restart_delay{0};
  Millis exp_backoff_restart_delay{0};  // 0: off; else the first delay, then x1.5 up to 15 s
};

// What to do about one instance whose worker exited without being asked to. One tracker per
// instance slot; it remembers the streak of unstable runs and the backoff.
class RestartTracker {
 public:
  struct Decision {
    enum Kind { kRestart, kStop, kErrored } kind;
    Millis delay{0};
  };

  explicit RestartTracker(const RestartPolicy& policy) : policy_(policy) {}

  Decision OnExit(int exit_code, Millis uptime);
  int unstable_restarts() const { return unstable_restarts_; }

 private:
  // pm2 resets the backoff once a run has lasted this long.
  static constexpr Millis kStableForBackoff{30000};
  static constexpr Millis kMaxBackoff{15000};

  const RestartPolicy& policy_;
  int unstable_restarts_ = 0;
  Millis backoff_{0};
};

}  // namespace tend::supervise
