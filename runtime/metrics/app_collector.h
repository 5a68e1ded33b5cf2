#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cluster/app_metrics.h"
#include "runtime/loop/event_loop.h"
#include "runtime/metrics/app_metrics.h"

namespace tend::metrics {

// Gathers the apps' own metrics for a scrape. Every worker is asked at once; the scrape gets
// what has arrived when all have answered or the budget has run out, whichever comes first,
// so a worker whose event loop is blocked costs the scrape the budget, never more. A scrape
// that comes during a collection joins it: scrapers cannot make a worker answer more than
// one request at a time.
class AppCollector {
 public:
  static constexpr std::chrono::milliseconds kDefaultBudget{500};

  // Called for each worker that answers in time, on the loop's thread.
  using Answer =
      std::function<void(const std::string& app, int instance, cluster::AppMetricsAnswer)>;
  // Asks every worker whose app has app metrics on (Supervisor::RequestAppMetrics); says
  // whom it asked.
  using Ask = std::function<std::vector<cluster::AppMetricsAsked>(const Answer&)>;
  using Done = std::function<void(const AppMetricsHarvest&)>;

  AppCollector(loop::EventLoop& loop, Ask ask, std::chrono::milliseconds budget = kDefaultBudget)
      : loop_(loop), ask_(std::move(ask)), budget_(budget) {}
  ~AppCollector();

  void Collect(Done done);

 private:
  struct Collection;
  void OnAnswer(Collection& collection, const std::string& app, int instance,
                cluster::AppMetricsAnswer answer);
  void Finish();

  loop::EventLoop& loop_;
  Ask ask_;
  const std::chrono::milliseconds budget_;
  std::map<std::string, AppMetricsCounts> counts_;  // since tend started
  std::shared_ptr<Collection> current_;
  uint64_t collections_ = 0;
};

}  // namespace tend::metrics
