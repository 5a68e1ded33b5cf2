#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "runtime/prom_client/registry_reader.h"

namespace tend::cluster {

// The apps' own prom-client metrics, as they pass from the workers' preload (WorkerSession)
// through the supervisor to the scrape that gathers them (metrics::AppCollector).

// What one worker's preload answered.
struct AppMetricsAnswer {
  prom_client::Registry registry;  // getMetricsAsJSON(), read as it arrived
  bool none = false;               // the app loaded no prom-client
  std::string error;               // the registry failed to collect, or the answer to read
};

// Whom one scrape asked, per app.
struct AppMetricsAsked {
  std::string app;
  int workers = 0;
  bool per_worker = false;  // --app-metrics per-worker
};

// The start of a message of an answer, as tend's preload writes each: the fields in this
// order, then any of "families" (getMetricsAsJSON()'s families, or a family's values in
// parts), "none", "error" and "last". Node writes an object's keys in the order they were
// set, so another start is not the preload's.
inline constexpr absl::string_view kAppMetricsMessageStart = R"({"cmd":"NODE_TEND_METRICS",)";

// What one message of an answer said of itself.
struct AppMetricsPiece {
  int64_t id = 0;     // 0: it named no id
  bool read = false;  // read to its end, as the preload writes it
  bool last = false;
};

// Reads one message in one pass, with no document built: once its id is read, `answer_for`
// gives the answer it adds to, whose families may hold at most `max_bytes` (as
// prom_client::RegistryReader counts them), or null to read no further (an answer nobody
// waits for).
AppMetricsPiece ReadAppMetricsPiece(const std::string& line,
                                    const std::function<AppMetricsAnswer*(int64_t id)>& answer_for,
                                    size_t max_bytes);

}  // namespace tend::cluster
