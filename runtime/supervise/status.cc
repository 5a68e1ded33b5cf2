#include "runtime/supervise/status.h"

namespace tend::supervise {

const char* RestartReasonName(RestartReason reason) {
  switch (reason) {
    case RestartReason::kExited:
      return "exited";
    case RestartReason::kReload:
      return "reload";
    case RestartReason::kCron:
      return "cron";
    case RestartReason::kMemory:
      return "memory";
    case RestartReason::kRequested:
      return "requested";
    case RestartReason::kWatch:
      return "watch";
  }
  return "unknown";
}

void DurationHistogram::Observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++counts[i];
      break;
    }
  }
  ++count;
  sum += seconds;
}

}  // namespace tend::supervise
