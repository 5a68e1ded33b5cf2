#include "runtime/metrics/exposition.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "runtime/process/usage.h"
#include "runtime/signals/signals.h"

namespace tend::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using Labels = std::vector<ClientMetric::Label>;

// The families of one exposition; Add() hands out references that stay valid.
class Families {
 public:
  MetricFamily& Add(std::string name, std::string help, MetricType type) {
    families_.push_back({std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  MetricFamily* Find(const std::string& name) {
    for (MetricFamily& family : families_) {
      if (family.name == name) return &family;
    }
    return nullptr;
  }
  std::vector<MetricFamily> Take() {
    return {std::make_move_iterator(families_.begin()), std::make_move_iterator(families_.end())};
  }

 private:
  std::deque<MetricFamily> families_;
};

void AddValue(MetricFamily& family, Labels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

void AddHistogram(MetricFamily& family, Labels labels, const supervise::DurationHistogram& h) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.histogram.sample_count = h.count;
  metric.histogram.sample_sum = h.sum;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.kBounds.size(); ++i) {
    cumulative += h.counts[i];
    metric.histogram.bucket.push_back({cumulative, h.kBounds[i]});
  }
  metric.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  family.metric.push_back(std::move(metric));
}

void AddWorkers(Families& f, const std::vector<supervise::AppStatus>& apps) {
  auto& up = f.Add("tend_worker_up", "Whether the instance has a worker process (1) or not.",
                   MetricType::Gauge);
  auto& ready = f.Add("tend_worker_ready", "Whether the instance's worker is ready to serve.",
                      MetricType::Gauge);
  auto& restarts = f.Add("tend_worker_restarts_total",
                         "New workers started for the instance, by reason.", MetricType::Counter);
  auto& cpu =
      f.Add("tend_worker_cpu_seconds_total",
            "User and system CPU time of the instance's current worker.", MetricType::Counter);
  auto& memory = f.Add("tend_worker_resident_memory_bytes",
                       "Resident memory of the instance's current worker.", MetricType::Gauge);
  auto& start = f.Add("tend_worker_start_time_seconds",
                      "When the instance's current worker started, in seconds since the epoch.",
                      MetricType::Gauge);
  for (const supervise::AppStatus& app : apps) {
    for (const supervise::InstanceStatus& instance : app.instances) {
      Labels labels = {{"app", app.name}, {"app_instance", absl::StrCat(instance.instance)}};
      AddValue(up, labels, instance.pid > 0);
      AddValue(ready, labels, std::string(instance.state) == "ready");
      for (int reason = 0; reason < supervise::kRestartReasons; ++reason) {
        Labels with_reason = labels;
        with_reason.push_back({"reason", supervise::RestartReasonName(
                                             static_cast<supervise::RestartReason>(reason))});
        AddValue(restarts, with_reason, static_cast<double>(instance.restarts[reason]));
      }
      if (instance.pid == 0) continue;
      AddValue(start, labels, instance.started_unix_ms / 1000.0);
      if (!instance.usage) continue;
      AddValue(cpu, labels, instance.usage->cpu_seconds);
      AddValue(memory, labels, static_cast<double>(instance.usage->resident_bytes));
    }
  }
}

void AddApps(Families& f, const std::vector<supervise::AppStatus>& apps) {
  auto& desired = f.Add("tend_app_desired_workers", "Instances the app is configured to run.",
                        MetricType::Gauge);
  auto& ready = f.Add("tend_app_ready_workers", "Instances of the app whose worker is ready.",
                      MetricType::Gauge);
  auto& reloads = f.Add("tend_app_reloads_total", "Rolling reloads of the app, by result.",
                        MetricType::Counter);
  auto& durations = f.Add("tend_app_reload_duration_seconds",
                          "How long the app's rolling reloads took.", MetricType::Histogram);
  for (const supervise::AppStatus& app : apps) {
    Labels labels = {{"app", app.name}};
    AddValue(desired, labels, app.desired);
    AddValue(ready, labels, app.ready);
    AddValue(reloads, {{"app", app.name}, {"result", "succeeded"}},
             static_cast<double>(app.reloads_succeeded));
    AddValue(reloads, {{"app", app.name}, {"result", "failed"}},
             static_cast<double>(app.reloads_failed));
    AddHistogram(durations, labels, app.reload_durations);
  }
}

void AddInit(Families& f, const InitCounters& init) {
  AddValue(f.Add("tend_zombies_reaped_total",
                 "Terminated processes tend reaped: its workers and orphans it adopted.",
                 MetricType::Counter),
           {}, static_cast<double>(init.reaped));
  auto& signals = f.Add("tend_signals_forwarded_total",
                        "Signals tend passed on to its workload, by signal.", MetricType::Counter);
  for (const auto& [signo, count] : init.forwarded) {
    AddValue(signals, {{"signal", signals::SignalName(signo)}}, static_cast<double>(count));
  }
  AddValue(
      f.Add("tend_log_lines_relayed_total",
            "Lines of worker output relayed to tend's stdout and stderr.", MetricType::Counter),
      {}, static_cast<double>(init.log_lines_relayed));
  AddValue(
      f.Add("tend_log_lines_dropped_total",
            "Lines of worker output, and of tend's own, dropped because tend's reader fell too far "
            "behind (or, for tend's own, came faster than 20 a second).",
            MetricType::Counter),
      {}, static_cast<double>(init.log_lines_dropped));
}

// When tend started, in seconds since the epoch: boot time plus the start in ticks.
double StartTimeSeconds(const process::ProcStat& self) {
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (line.rfind("btime ", 0) == 0) boot_time = std::stod(line.substr(6));
  }
  return boot_time + static_cast<double>(self.start_ticks) / sysconf(_SC_CLK_TCK);
}

// The standard process collector's metrics, for tend itself.
void AddProcess(Families& f) {
  process::ProcStat self = process::ReadProcStat(getpid()).value_or(process::ProcStat{});
  process::Usage usage = process::UsageFrom(self);
  static const double kStartTime = StartTimeSeconds(self);  // it never changes
  int open_fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) open_fds += entry->d_name[0] != '.';
    closedir(dir);
    --open_fds;  // the directory's own descriptor
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  AddValue(f.Add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 MetricType::Counter),
           {}, usage.cpu_seconds);
  AddValue(
      f.Add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge),
      {}, static_cast<double>(usage.resident_bytes));
  AddValue(
      f.Add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge), {},
      static_cast<double>(self.virtual_bytes));
  AddValue(f.Add("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", MetricType::Gauge),
           {}, kStartTime);
  AddValue(f.Add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge), {},
           open_fds);
  AddValue(f.Add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge),
           {}, static_cast<double>(files.rlim_cur));
}

// Whether an app family of prom-client's `type` can join tend's family `own`.
bool SameKind(const std::string& type, MetricType own) {
  return (type == "counter" && own == MetricType::Counter) ||
         (type == "gauge" && own == MetricType::Gauge);
}

// The apps' families, those of one name next to each other; those that join tend's own are
// copied into `own`, those that clash are counted and left out. The harvest is only read:
// every scrape that joined one collection is answered from it.
std::vector<const AppFamily*> MergeAppFamilies(Families& own, const AppMetricsHarvest& harvest) {
  std::vector<std::vector<const AppFamily*>> by_name_order;
  std::map<std::string, size_t> by_name;
  for (const auto& [app, families] : harvest.families) {
    for (const AppFamily& family : families) {
      auto clash = [&, &app = app] {
        ++(*harvest.counts)[app].dropped[AppMetricsDrop::kNameClash];
      };
      if (absl::StartsWith(family.name, "tend_")) {
        clash();
        continue;
      }
      if (MetricFamily* mine = own.Find(family.name)) {
        if (!SameKind(family.type, mine->type)) {
          clash();
          continue;
        }
        for (const AppSeries& series : family.series) {
          Labels labels;
          for (const auto& [name, value] : series.labels) labels.push_back({name, value});
          AddValue(*mine, std::move(labels), series.value);
        }
        continue;
      }
      auto [position, added] = by_name.try_emplace(family.name, by_name_order.size());
      if (added) {
        by_name_order.push_back({&family});
      } else if (by_name_order[position->second].front()->type != family.type) {
        clash();
      } else {
        by_name_order[position->second].push_back(&family);
      }
    }
  }
  std::vector<const AppFamily*> merged;
  for (const auto& same_name : by_name_order) {
    merged.insert(merged.end(), same_name.begin(), same_name.end());
  }
  return merged;
}

void AddAppMetricsCounts(Families& f, const std::map<std::string, AppMetricsCounts>& counts) {
  auto& missing = f.Add("tend_app_metrics_missing_total",
                        "Scrapes in which a worker's own metrics were left out because it did "
                        "not answer in time.",
                        MetricType::Counter);
  auto& dropped = f.Add("tend_app_metrics_dropped_total",
                        "Parts of the apps' own metrics left out, by reason.", MetricType::Counter);
  for (const auto& [app, count] : counts) {
    AddValue(missing, {{"app", app}}, static_cast<double>(count.missing));
    for (AppMetricsDrop reason :
         {AppMetricsDrop::kTooLarge, AppMetricsDrop::kInvalid, AppMetricsDrop::kNameClash}) {
      auto it = count.dropped.find(reason);
      AddValue(dropped, {{"app", app}, {"reason", AppMetricsDropName(reason)}},
               static_cast<double>(it == count.dropped.end() ? 0 : it->second));
    }
  }
}

}  // namespace

std::string Exposition(const std::vector<supervise::AppStatus>& apps, const InitCounters& init,
                       const AppMetricsHarvest* app_metrics) {
  Families families;
  AddWorkers(families, apps);
  AddApps(families, apps);
  AddInit(families, init);
  AddProcess(families);
  if (!app_metrics) return prometheus::TextSerializer().Serialize(families.Take());
  std::vector<const AppFamily*> app_families = MergeAppFamilies(families, *app_metrics);
  AddAppMetricsCounts(families, *app_metrics->counts);
  return absl::StrCat(prometheus::TextSerializer().Serialize(families.Take()),
                      AppExposition(app_families));
}

}  // namespace tend::metrics
