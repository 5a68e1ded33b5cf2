#include "runtime/metrics/app_metrics.h"

#include <algorithm>
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

}  // namespace

const char* AppMetricsDropName(AppMetricsDrop reason) {
  switch (reason) {
    case AppMetricsDrop::kTooLarge: return "too_large";
    case AppMetricsDrop::kInvalid: return "invalid";
    case AppMetricsDrop::kNameClash: return "name_clash";
  }
  return "invalid";
}

namespace {

// One worker's registry as it is parsed (nlohmann's SAX interface): no document is built,
// so the cost is linear in the answer and bounded by it, whatever its shape. The families
// are kept as read, then merged once the whole answer has parsed: an answer that turns out
// not to be JSON adds nothing. prom-client writes a family's aggregator after its values,
// so a family is judged when its object ends.
class RegistryReader {
 public:
  using Value = AppAggregation::ReadValue;
  using Family = AppAggregation::ReadFamily;

  explicit RegistryReader(std::vector<Family>& families) : families_(families) {}

  // Whether the answer was a JSON array; `invalid` counts the entries in it that were not
  // families, `too_many` whether families past kMaxFamiliesPerAnswer were left out.
  bool whole() const { return whole_; }
  uint64_t invalid() const { return invalid_; }
  bool too_many() const { return too_many_; }

  bool null() { return Scalar(nullptr); }
  bool boolean(bool value) { return Scalar(value ? "true" : "false"); }
  bool number_integer(int64_t value) { return Number(static_cast<double>(value)); }
  bool number_unsigned(uint64_t value) { return Number(static_cast<double>(value)); }
  bool number_float(double value, const std::string&) { return Number(value); }
  bool string(std::string& value) { return Text(value); }
  bool binary(nlohmann::json::binary_t&) { return Scalar(nullptr); }
  bool start_object(size_t) { return Open(true); }
  bool start_array(size_t) { return Open(false); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(std::string& name) {
    key_ = std::move(name);
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) {
    whole_ = false;
    return false;
  }

 private:
  // Where the parser is: what the next value means.
  enum class At { kTop, kRegistry, kFamily, kValues, kValue, kLabels, kSkipped };

  // A value in the document: what it means where it stands.
  bool Scalar(const char* text) {
    if (at_ == At::kRegistry) ++invalid_;  // a family that is no object
    if (at_ == At::kLabels) Label(text);
    if (at_ == At::kTop) whole_ = false;
    return at_ != At::kTop;
  }
  bool Number(double value) {
    if (at_ == At::kValue && key_ == "value") {
      value_.value = value;
      value_.has_value = true;
      return true;
    }
    if (at_ == At::kLabels) {
      Label(nullptr, &value);
      return true;
    }
    return Scalar(nullptr);
  }
  bool Text(std::string& text) {
    if (at_ == At::kFamily) {
      if (key_ == "name") family_.name = std::move(text);
      if (key_ == "help") family_.help = std::move(text);
      if (key_ == "type") family_.type = std::move(text);
      if (key_ == "aggregator") family_.aggregator = std::move(text);
      return true;
    }
    if (at_ == At::kValue && key_ == "metricName") {
      value_.sample = std::move(text);
      return true;
    }
    if (at_ == At::kLabels) {
      Label(text.c_str());
      return true;
    }
    return Scalar(nullptr);
  }
  // A label's value: a string, or a number or boolean prom-client formats; anything else
  // makes the value invalid. Past kMaxLabelsPerSeries the value is invalid too, and its
  // further labels are not kept.
  void Label(const char* text, const double* number = nullptr) {
    if (value_.labels.size() >= AppAggregation::kMaxLabelsPerSeries || (!text && !number)) {
      value_.invalid = true;
      return;
    }
    value_.labels.emplace_back(key_, number ? FormatNumber(*number) : std::string(text));
  }

  bool Open(bool object) {
    if (depth_ == kMaxDepth) {  // deeper than prom-client ever writes: not its JSON
      whole_ = false;
      return false;
    }
    ++depth_;
    switch (at_) {
      case At::kTop:
        if (object) {
          whole_ = false;
          return false;
        }
        whole_ = true;
        return Enter(At::kRegistry);
      case At::kRegistry:
        if (!object) {
          ++invalid_;
          return Skip();
        }
        family_ = {};
        return Enter(At::kFamily);
      case At::kFamily:
        if (key_ == "values" && !object) {
          family_.has_values = true;
          return Enter(At::kValues);
        }
        return Skip();
      case At::kValues:
        if (!object) return Skip();
        value_ = {};
        return Enter(At::kValue);
      case At::kValue:
        if (key_ == "labels" && object) return Enter(At::kLabels);
        return Skip();
      case At::kLabels:
        value_.invalid = true;  // a label whose value is an object or an array
        return Skip();
      case At::kSkipped:
        return Enter(At::kSkipped);
    }
    return false;
  }
  bool Enter(At at) {
    stack_.push_back(at_);
    at_ = at;
    return true;
  }
  bool Skip() { return Enter(At::kSkipped); }
  bool Close() {
    --depth_;
    At closed = at_;
    at_ = stack_.back();
    stack_.pop_back();
    if (closed == At::kFamily) {
      if (families_.size() >= AppAggregation::kMaxFamiliesPerAnswer) {
        too_many_ = true;
      } else {
        families_.push_back(std::move(family_));
      }
    }
    if (closed == At::kValue && value_.has_value) family_.values.push_back(std::move(value_));
    return true;
  }

  static constexpr int kMaxDepth = 8;
  std::vector<Family>& families_;
  std::vector<At> stack_;
  At at_ = At::kTop;
  int depth_ = 0;
  std::string key_;
  Family family_;
  Value value_;
  bool whole_ = false;
  bool too_many_ = false;
  uint64_t invalid_ = 0;
};

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

void AppAggregation::AddWorker(int instance, absl::string_view json) {
  std::vector<ReadFamily> families;
  RegistryReader reader(families);
  bool parsed = Json::sax_parse(json.begin(), json.end(), &reader);
  if (!parsed || !reader.whole()) {
    Drop(AppMetricsDrop::kInvalid);
    return;
  }
  if (reader.invalid() > 0) drops_[AppMetricsDrop::kInvalid] += reader.invalid();
  if (reader.too_many()) Drop(AppMetricsDrop::kTooLarge);
  for (ReadFamily& family : families) AddFamily(instance, family);
}

void AppAggregation::AddFamily(int instance, ReadFamily& read) {
  std::optional<Aggregator> aggregator =
      AggregatorNamed(read.aggregator.empty() ? "sum" : read.aggregator);
  if (!IsValidName(read.name, true) || !IsKnownType(read.type) || !aggregator ||
      !read.has_values) {
    return Drop(AppMetricsDrop::kInvalid);
  }
  auto [position, added] = family_index_.try_emplace(read.name, families_.size());
  if (added) families_.push_back({read.name, read.help, read.type, *aggregator, {}, {}});
  Family& family = families_[position->second];
  if (family.type != read.type) return Drop(AppMetricsDrop::kInvalid);  // workers disagree

  bool invalid = false;
  for (ReadValue& value : read.values) {
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
