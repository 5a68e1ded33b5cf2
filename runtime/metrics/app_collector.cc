#include "runtime/metrics/app_collector.h"

namespace tend::metrics {

struct AppCollector::Collection {
  std::vector<Done> waiting;
  std::vector<cluster::AppMetricsAsked> asked;
  std::map<std::string, int> answered;
  std::map<std::string, AppAggregation> aggregations;
  int outstanding = 0;
  std::unique_ptr<loop::Timer> deadline;
};

AppCollector::~AppCollector() = default;

void AppCollector::Collect(Done done) {
  if (current_) {
    current_->waiting.push_back(std::move(done));
    return;
  }
  auto collection = std::make_shared<Collection>();
  collection->waiting.push_back(std::move(done));
  current_ = collection;
  std::weak_ptr<Collection> weak = collection;
  // An answer after the collection ended (the worker was late) finds it gone.
  collection->asked =
      ask_([this, weak](const std::string& app, int instance, cluster::AppMetricsAnswer answer) {
        if (std::shared_ptr<Collection> alive = weak.lock(); alive && alive == current_) {
          OnAnswer(*alive, app, instance, std::move(answer));
        }
      });
  for (const cluster::AppMetricsAsked& asked : collection->asked) {
    collection->outstanding += asked.workers;
    collection->aggregations.try_emplace(asked.app, asked.app, asked.per_worker);
    counts_[asked.app];  // its counters show from the first scrape, at 0
  }
  if (collection->outstanding == 0) {
    Finish();
    return;
  }
  collection->deadline = loop_.After(budget_, [this] { Finish(); });
}

void AppCollector::OnAnswer(Collection& collection, const std::string& app, int instance,
                            cluster::AppMetricsAnswer answer) {
  auto aggregation = collection.aggregations.find(app);
  if (aggregation == collection.aggregations.end()) return;
  ++collection.answered[app];
  if (answer.registry.too_large) {
    aggregation->second.Drop(AppMetricsDrop::kTooLarge);
  } else if (!answer.error.empty()) {
    aggregation->second.Drop(AppMetricsDrop::kInvalid);
  } else if (!answer.none) {
    aggregation->second.AddWorker(instance, answer.registry);
  }
  if (--collection.outstanding == 0) Finish();
}

void AppCollector::Finish() {
  std::shared_ptr<Collection> collection = std::move(current_);
  if (!collection) return;
  AppMetricsHarvest harvest;
  harvest.collection = ++collections_;
  harvest.counts = &counts_;
  for (const cluster::AppMetricsAsked& asked : collection->asked) {
    AppMetricsCounts& counts = counts_[asked.app];
    counts.missing += asked.workers - collection->answered[asked.app];
    AppAggregation& aggregation = collection->aggregations.at(asked.app);
    for (const auto& [reason, count] : aggregation.drops()) counts.dropped[reason] += count;
    harvest.families.emplace_back(asked.app, aggregation.Take());
  }
  // Every scrape that joined is answered from the same harvest, which none changes.
  for (const Done& done : collection->waiting) done(harvest);
}

}  // namespace tend::metrics
