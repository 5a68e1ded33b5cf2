#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "runtime/http/server.h"
#include "runtime/metrics/app_collector.h"
#include "runtime/metrics/exposition.h"
#include "runtime/supervise/status.h"

namespace tend::http {

// What the endpoints report, gathered on the loop's thread.
struct Snapshot {
  std::vector<supervise::AppStatus> apps;
  metrics::InitCounters init;
  bool stopping = false;
};

// GET /livez: 200. The server runs on tend's event loop, so an answer means the loop runs; a
// stuck loop answers nothing, and the prober's timeout fails the check.
// GET /readyz: 200 when every app has its minimum of ready workers and tend is not shutting
// down, else 503 with the reason; ?verbose lists every check.
// GET /metrics: the Prometheus exposition; with `app_metrics`, also the apps' own metrics,
// gathered from the workers within the collector's budget.
// `snapshot`'s argument says whether workers' memory and CPU are wanted (only /metrics shows
// them). `clock` tells when a body was made, to share it (tests give their own).
using Clock = std::function<std::chrono::steady_clock::time_point()>;
Server::Handler Routes(std::function<Snapshot(bool)> snapshot,
                       metrics::AppCollector* app_metrics = nullptr,
                       Clock clock = std::chrono::steady_clock::now);

}  // namespace tend::http
