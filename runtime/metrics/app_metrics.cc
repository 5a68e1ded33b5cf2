#include "runtime/metrics/app_metrics.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tend::metrics {
namespace {

using Json = nlohmann::json;

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

// A number as JavaScript's String() writes it, near enough (le="0.1", major="20"), and
// Prometheus's names for the values JSON cannot hold.
std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : "NaN";
}

// A label value of prom-client's JSON: a string, or a number or boolean it formats.
bool LabelText(const Json& value, std::string* text) {
  if (value.is_string()) {
    *text = value.get<std::string>();
  } else if (value.is_number()) {
    *text = FormatNumber(value.get<double>());
  } else if (value.is_boolean()) {
    *text = value.get<bool>() ? "true" : "false";
  } else {
    return false;
  }
  return true;
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

std::string StringField(const Json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

const char* AppMetricsDropName(AppMetricsDrop reason) {
  switch (reason) {
    case AppMetricsDrop::kTooLarge: return "too_large";
    case AppMetricsDrop::kInvalid: return "invalid";
    case AppMetricsDrop::kNameClash: return "name_clash";
  }
  return "invalid";
}

void AppAggregation::AddWorker(int instance, absl::string_view json) {
  Json registry = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (!registry.is_array()) {
    Drop(AppMetricsDrop::kInvalid);
    return;
  }
  for (const Json& family : registry) AddFamily(instance, family);
}

void AppAggregation::AddFamily(int instance, const Json& json) {
  if (!json.is_object()) return Drop(AppMetricsDrop::kInvalid);
  std::string name = StringField(json, "name");
  std::string type = StringField(json, "type");
  std::string aggregator_name = StringField(json, "aggregator");
  std::optional<Aggregator> aggregator =
      AggregatorNamed(aggregator_name.empty() ? "sum" : aggregator_name);
  auto values = json.find("values");
  if (!IsValidName(name, true) || !IsKnownType(type) || !aggregator ||
      values == json.end() || !values->is_array()) {
    return Drop(AppMetricsDrop::kInvalid);
  }
  auto [position, added] = family_index_.try_emplace(name, families_.size());
  if (added) families_.push_back({name, StringField(json, "help"), type, *aggregator, {}, {}});
  Family& family = families_[position->second];
  if (family.type != type) return Drop(AppMetricsDrop::kInvalid);  // workers disagree

  bool invalid = false;
  for (const Json& value : *values) {
    auto number = value.is_object() ? value.find("value") : value.end();
    // NaN and infinities reach JSON as null: prom-client's aggregation skips them too.
    if (number == value.end() || !number->is_number()) continue;
    std::string sample = StringField(value, "metricName");
    if (sample.empty()) sample = name;
    auto labels = value.find("labels");
    bool has_labels = labels != value.end() && labels->is_object();
    // The group's key first: most values join a group another worker began, and need no
    // labels of their own.
    std::string key;
    AppendKeyPart(&key, sample);
    if (per_worker_) AppendKeyPart(&key, absl::StrCat(instance));
    bool ok = IsSampleOf(sample, name, type);
    std::vector<std::pair<std::string, std::string>> texts;
    if (ok && has_labels) {
      for (const auto& [label, label_value] : labels->items()) {
        std::string text;
        if (!IsValidName(label, false) || !LabelText(label_value, &text)) {
          ok = false;
          break;
        }
        AppendKeyPart(&key, label);
        AppendKeyPart(&key, text);
        texts.emplace_back(label, std::move(text));
      }
    }
    if (!ok) {
      invalid = true;
      continue;
    }
    auto group_position = family.index.find(key);
    if (group_position == family.index.end()) {
      AppSeries series;
      series.name = std::move(sample);
      series.labels.emplace_back("app", app_);
      if (per_worker_) series.labels.emplace_back("app_instance", absl::StrCat(instance));
      for (auto& [label, text] : texts) {
        bool ours = label == "app" || label == "app_instance";
        series.labels.emplace_back(ours ? "exported_" + label : std::move(label), std::move(text));
      }
      // Renamed labels may meet one of the app's own (exported_app).
      for (size_t i = 0; ok && i < series.labels.size(); ++i) {
        for (size_t j = i + 1; ok && j < series.labels.size(); ++j) {
          ok = series.labels[i].first != series.labels[j].first;
        }
      }
      if (!ok) {
        invalid = true;
        continue;
      }
      if (series_ >= kMaxSeries) {
        Drop(AppMetricsDrop::kTooLarge);
        return;
      }
      ++series_;
      group_position = family.index.emplace(std::move(key), family.groups.size()).first;
      family.groups.push_back({std::move(series), 0, 0});
    }
    Group& group = family.groups[group_position->second];
    double v = number->get<double>();
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
      absl::StrAppend(&text, series.labels.empty() ? "" : "}", " ", FormatNumber(series.value),
                      "\n");
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
