#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/prom_client/registry_reader.h"

namespace tend::metrics {

// One series of an app family: its sample name (the family's, or with _bucket, _sum or
// _count), labels in order, and value.
struct AppSeries {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// A family of the app's own metrics as tend serves it: type is prom-client's ("counter",
// "gauge", "histogram" or "summary").
struct AppFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<AppSeries> series;
};

// Why part of an app's metrics was left out (the reason label of
// tend_app_metrics_dropped_total).
enum class AppMetricsDrop {
  kTooLarge,   // a worker's answer, or the app's series in all, over their bound
  kInvalid,    // not prom-client's JSON, a name Prometheus refuses, an unknown aggregator
  kNameClash,  // the name of one of tend's own families, or another app's, of another type
};
const char* AppMetricsDropName(AppMetricsDrop reason);

// Folds the prom-client registries of one app's workers (getMetricsAsJSON(), the JSON that
// prom-client's AggregatorRegistry gathers, as prom_client::RegistryReader read it) into the
// families tend serves for the app, by prom-client's rules: series are grouped by sample name and
// labels, and each group's value is the family's aggregator over the workers (sum by default;
// first, min, max, average; omit leaves the family out). Every series gets the label app; per
// worker, also app_instance, and no aggregation. An app label of the app's own is kept as
// exported_app, as Prometheus renames a clashing target label. Workers are untrusted: what cannot
// be read is left out and counted, never thrown.
class AppAggregation {
 public:
  // prom-client's aggregators (metricAggregators.js).
  enum class Aggregator { kSum, kFirst, kMin, kMax, kAverage, kOmit };
  // Series kept for one app in one scrape; past it, the rest is dropped.
  static constexpr size_t kMaxSeries = 100000;

  AppAggregation(std::string app, bool per_worker)
      : app_(std::move(app)), per_worker_(per_worker) {}

  // One worker's answer, as its preload's messages were read (cluster::WorkerSession).
  void AddWorker(int instance, prom_client::Registry& registry);
  // Counts an answer left out before it got here (too large).
  void Drop(AppMetricsDrop reason) { ++drops_[reason]; }
  // The families, in the order the first worker had them.
  std::vector<AppFamily> Take();
  const std::map<AppMetricsDrop, uint64_t>& drops() const { return drops_; }

 private:
  struct Group {
    AppSeries series;
    double total = 0;  // sum (average: sum, divided at the end)
    uint64_t count = 0;
  };
  struct Family {
    std::string name, help, type;
    Aggregator aggregator;
    std::vector<Group> groups;
    std::unordered_map<std::string, size_t> index;  // group key -> position in groups
  };
  void AddFamily(int instance, prom_client::Family& family);

  const std::string app_;
  const bool per_worker_;
  std::vector<Family> families_;
  std::unordered_map<std::string, size_t> family_index_;
  size_t series_ = 0;
  std::map<AppMetricsDrop, uint64_t> drops_;
};

// What was left out of an app's metrics since tend started.
struct AppMetricsCounts {
  uint64_t missing = 0;  // workers that did not answer a scrape in time
  std::map<AppMetricsDrop, uint64_t> dropped;
};

// What one scrape gathered of the apps' own metrics, app by app, and the counts of what was
// left out, which outlive the scrape.
struct AppMetricsHarvest {
  uint64_t collection = 0;  // which collection gathered it: each scrape that joined shares it
  std::vector<std::pair<std::string, std::vector<AppFamily>>> families;
  std::map<std::string, AppMetricsCounts>* counts = nullptr;
};

// Prometheus's text format for app families (tend's own go through prometheus-cpp). Families
// of one name must be next to each other: they are served as one, under the first's HELP and
// TYPE.
std::string AppExposition(const std::vector<const AppFamily*>& families);
std::string AppExposition(const std::vector<AppFamily>& families);

}  // namespace tend::metrics
