#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/supervise/status.h"

namespace tend::metrics {

// tend's own counters, from the init and the log relay.
struct InitCounters {
  uint64_t reaped = 0;
  std::map<int, uint64_t> forwarded;  // by signal number
  uint64_t log_lines_relayed = 0;
  uint64_t log_lines_dropped = 0;
};

// The Prometheus text exposition of everything: per worker (labels app and app_instance, as
// Prometheus keeps `instance` for the scraped target), per app, tend's own counters,
// and the standard process_* metrics of tend itself. Built at each scrape from the state of
// the moment, so no series outlives the worker or app it describes.
std::string Exposition(const std::vector<supervise::AppStatus>& apps, const InitCounters& init);

}  // namespace tend::metrics
