#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/metrics/app_metrics.h"
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
//
// With `app_metrics`, also the apps' own metrics. An app family named like one of tend's of
// the same kind (counter or gauge: prom-client's process_cpu_seconds_total) joins it, its
// series told apart by their app label. One named like tend's of another kind, or in tend's
// namespace (tend_*), or like another app's of another kind, is left out and counted in
// app_metrics->counts, which tend_app_metrics_dropped_total shows.
std::string Exposition(const std::vector<supervise::AppStatus>& apps, const InitCounters& init,
                       const AppMetricsHarvest* app_metrics = nullptr);

}  // namespace tend::metrics
