#include "runtime/supervise/restart_policy.h"

#include <algorithm>

namespace tend::supervise {

RestartTracker::Decision RestartTracker::OnExit(int exit_code, Millis uptime) {
  if (!policy_.autorestart || policy_.stop_exit_codes.count(exit_code)) {
    return {Decision::kStop};
  }
  if (uptime < policy_.min_uptime) {
    if (++unstable_restarts_ >= policy_.max_restarts) return {Decision::kErrored};
  } else {
    unstable_restarts_ = 0;
  }
  if (policy_.exp_backoff_restart_delay.count() == 0) {
    return {Decision::kRestart, policy_.restart_delay};
  }
  if (uptime >= kStableForBackoff || backoff_.count() == 0) {
    backoff_ = policy_.exp_backoff_restart_delay;
  } else {
    backoff_ = std::min(Millis(backoff_.count() * 3 / 2), kMaxBackoff);
  }
  return {Decision::kRestart, backoff_};
}

}  // namespace tend::supervise
