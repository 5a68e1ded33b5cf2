#pragma once

#include <functional>
#include <vector>

#include "runtime/http/server.h"
#include "runtime/loop/cross_thread.h"
#include "runtime/metrics/exposition.h"
#include "runtime/supervise/status.h"

namespace tend::http {

// What the endpoints report, gathered on the loop's thread.
struct Snapshot {
  std::vector<supervise::AppStatus> apps;
  metrics::InitCounters init;
  bool stopping = false;
};

// GET /livez: 200 while tend's event loop answers within a second, else 503.
// GET /readyz: 200 when every app has its minimum of ready workers and tend is not shutting
// down, else 503 with the reason; ?verbose lists every check.
// GET /metrics: the Prometheus exposition.
// `snapshot` runs on the loop's thread, through `bridge`; its argument says whether workers'
// memory and CPU are wanted (only /metrics shows them).
Server::Handler Routes(loop::CrossThread& bridge, std::function<Snapshot(bool)> snapshot);

}  // namespace tend::http
