#include "runtime/metrics/app_metrics.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tend::metrics {
namespace {

bool IsNameChar(char c, bool first, bool colon) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':') ||
         (!first && absl::ascii_isdigit(static_cast<unsigned char>(c)));
}

// Prometheus's rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without
// ':' and never starting with "__" (reserved).
bool IsValidName(absl::string_view name, bool metric) {
  if (name.empty() || (!metric && absl::StartsWith(name, "__"))) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, metric)) return false;
  }
  return true;
}

bool IsKnownType(const std::string& type) {
  return type == "counter" || type == "gauge" || type == "histogram" || type == "summary";
}

// A family's aggregator by prom-client's name for it; none for a name it does not know.
std::optional<AppAggregation::Aggregator> AggregatorNamed(const std::string& name) {
  using Aggregator = AppAggregation::Aggregator;
  static const std::pair<const char*, Aggregator> kNames[] = {
      {"sum", Aggregator::kSum}, {"first", Aggregator::kFirst},     {"min", Aggregator::kMin},
      {"max", Aggregator::kMax}, {"average", Aggregator::kAverage}, {"omit", Aggregator::kOmit}};
  for (const auto& [known, aggregator] : kNames) {
    if (name == known) return aggregator;
  }
  return std::nullopt;
}

// Appends a part of a group's key with its length first, so that no label value (which may
// hold any character) can make two different series share a key.
void AppendKeyPart(std::string* key, absl::string_view part) {
  absl::StrAppend(key, part.size(), ":", part);
}

// The sample names a family of `type` may have, as prom-client writes them.
bool IsSampleOf(const std::string& sample, const std::string& family, const std::string& type) {
  if (sample == family) return type != "histogram";
  if (!absl::StartsWith(sample, family)) return false;
  absl::string_view suffix = absl::string_view(sample).substr(family.size());
  if (type == "histogram") return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
  if (type == "summary") return suffix == "_sum" || suffix == "_count";
  return false;
}

std::string Escape(absl::string_view text, bool quotes) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (quotes && c == '"') {
      escaped += "\\\"";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Sorted by name: the key of a series does not depend on the order a worker wrote its labels
// in, and a repeated name is next to its twin.
bool SortedAndDistinct(std::vector<std::pair<std::string, std::string>>& labels) {
  std::sort(labels.begin(), labels.end());
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i].first == labels[i - 1].first) return false;
  }
  return true;
}

}  // namespace

const char* AppMetricsDropName(AppMetricsDrop reason) {
  switch (reason) {
    case AppMetricsDrop::kTooLarge:
      return "too_large";
    case AppMetricsDrop::kInvalid:
      return "invalid";
    case AppMetricsDrop::kNameClash:
      return "name_clash";
  }
  return "invalid";
}

void AppAggregation::AddWorker(int instance, prom_client::Registry& registry) {
  if (registry.invalid > 0) drops_[AppMetricsDrop::kInvalid] += registry.invalid;
  if (registry.too_many) Drop(AppMetricsDrop::kTooLarge);
  for (prom_client::Family& family : registry.families) AddFamily(instance, family);
}

void AppAggregation::AddFamily(int instance, prom_client::Family& read) {
  std::optional<Aggregator> aggregator =
      AggregatorNamed(read.aggregator.empty() ? "sum" : read.aggregator);
  if (!IsValidName(read.name, true) || !IsKnownType(read.type) || !aggregator || !read.has_values) {
    return Drop(AppMetricsDrop::kInvalid);
  }
  auto [position, added] = family_index_.try_emplace(read.name, families_.size());
  if (added) families_.push_back({read.name, read.help, read.type, *aggregator, {}, {}});
  Family& family = families_[position->second];
  if (family.type != read.type) return Drop(AppMetricsDrop::kInvalid);  // workers disagree

  bool invalid = false;
  for (prom_client::Value& value : read.values) {
    // NaN and infinities reach JSON as null: prom-client's aggregation skips them too.
    std::string sample = value.sample.empty() ? read.name : std::move(value.sample);
    bool ok = !value.invalid && IsSampleOf(sample, read.name, read.type);
    for (size_t i = 0; ok && i < value.labels.size(); ++i) {
      ok = IsValidName(value.labels[i].first, false);
    }
    ok = ok && SortedAndDistinct(value.labels);
    if (!ok) {
      invalid = true;
      continue;
    }
    // The group's key first: most values join a group another worker began, and need no
    // labels of their own.
    std::string key;
    AppendKeyPart(&key, sample);
    if (per_worker_) AppendKeyPart(&key, absl::StrCat(instance));
    for (const auto& [label, text] : value.labels) {
      AppendKeyPart(&key, label);
      AppendKeyPart(&key, text);
    }
    auto group_position = family.index.find(key);
    if (group_position == family.index.end()) {
      AppSeries series;
      series.name = std::move(sample);
      series.labels.emplace_back("app", app_);
      if (per_worker_) series.labels.emplace_back("app_instance", absl::StrCat(instance));
      // The app's own app and app_instance are kept as exported_*, as Prometheus renames a
      // clashing target label; such a name may meet one the app set itself.
      std::vector<std::pair<std::string, std::string>> own;
      own.reserve(value.labels.size());
      for (auto& [label, text] : value.labels) {
        bool ours = label == "app" || label == "app_instance";
        own.emplace_back(ours ? "exported_" + label : std::move(label), std::move(text));
      }
      if (!SortedAndDistinct(own)) {
        invalid = true;
        continue;
      }
      for (auto& label : own) series.labels.push_back(std::move(label));
      if (series_ >= kMaxSeries) {
        Drop(AppMetricsDrop::kTooLarge);
        return;
      }
      ++series_;
      group_position = family.index.emplace(std::move(key), family.groups.size()).first;
      family.groups.push_back({std::move(series), 0, 0});
    }
    Group& group = family.groups[group_position->second];
    double v = value.value;
    switch (family.aggregator) {
      case Aggregator::kFirst:
        if (group.count == 0) group.series.value = v;
        break;
      case Aggregator::kMin:
        group.series.value = group.count == 0 ? v : std::min(group.series.value, v);
        break;
      case Aggregator::kMax:
        group.series.value = group.count == 0 ? v : std::max(group.series.value, v);
        break;
      case Aggregator::kSum:
      case Aggregator::kAverage:
      case Aggregator::kOmit:  // per worker, where nothing is omitted: summed like sum
        group.total += v;
        break;
    }
    ++group.count;
  }
  if (invalid) Drop(AppMetricsDrop::kInvalid);
}

std::vector<AppFamily> AppAggregation::Take() {
  std::vector<AppFamily> taken;
  for (Family& family : families_) {
    // Per worker nothing is aggregated, so nothing is omitted.
    if ((family.aggregator == Aggregator::kOmit && !per_worker_) || family.groups.empty()) {
      continue;
    }
    AppFamily out{family.name, family.help, family.type, {}};
    out.series.reserve(family.groups.size());
    for (Group& group : family.groups) {
      if (family.aggregator == Aggregator::kAverage) {
        group.series.value = group.total / group.count;
      } else if (family.aggregator == Aggregator::kSum || family.aggregator == Aggregator::kOmit) {
        group.series.value = group.total;
      }
      out.series.push_back(std::move(group.series));
    }
    taken.push_back(std::move(out));
  }
  families_.clear();
  family_index_.clear();
  series_ = 0;
  return taken;
}

std::string AppExposition(const std::vector<const AppFamily*>& families) {
  std::string text;
  const std::string* previous = nullptr;
  for (const AppFamily* family : families) {
    if (!previous || *previous != family->name) {
      absl::StrAppend(&text, "# HELP ", family->name, " ", Escape(family->help, false), "\n",
                      "# TYPE ", family->name, " ", family->type, "\n");
    }
    previous = &family->name;
    for (const AppSeries& series : family->series) {
      text += series.name;
      const char* separator = "{";
      for (const auto& [label, value] : series.labels) {
        absl::StrAppend(&text, separator, label, "=\"", Escape(value, true), "\"");
        separator = ",";
      }
      absl::StrAppend(&text, series.labels.empty() ? "" : "}", " ",
                      prom_client::FormatNumber(series.value), "\n");
    }
  }
  return text;
}

std::string AppExposition(const std::vector<AppFamily>& families) {
  std::vector<const AppFamily*> pointers;
  for (const AppFamily& family : families) pointers.push_back(&family);
  return AppExposition(pointers);
}

}  // namespace tend::metrics
