#pragma once

#include <string>

namespace tend::cluster {

// The apps' own prom-client metrics, as they pass from the workers' preload (WorkerSession)
// through the supervisor to the scrape that gathers them (metrics::AppCollector).

// What one worker's preload answered.
struct AppMetricsAnswer {
  std::string json;        // prom-client's getMetricsAsJSON(), as JSON text
  bool none = false;       // the app loaded no prom-client
  bool too_large = false;  // over the request's bound: the rest was dropped, `json` is empty
  std::string error;       // the registry failed to collect
};

// Whom one scrape asked, per app.
struct AppMetricsAsked {
  std::string app;
  int workers = 0;
  bool per_worker = false;  // --app-metrics per-worker
};

}  // namespace tend::cluster
