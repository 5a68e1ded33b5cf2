// Cron expressions (--cron-restart, cron_restart): parsed, and when valid asked for the
// next times, which must come later each time.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runtime/cron/cron_schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string expression(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tend::cron::CronSchedule> schedule = tend::cron::CronSchedule::Parse(expression);
  if (!schedule.ok()) return 0;
  time_t at = 1764633600;  // 2025-12-02 00:00 UTC
  for (int i = 0; i < 3; ++i) {
    time_t next = schedule->Next(at);
    if (next < 0) break;
    if (next <= at) std::abort();  // a schedule that does not move on would spin the loop
    at = next;
  }
  return 0;
}
