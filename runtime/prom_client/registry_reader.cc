#include "runtime/prom_client/registry_reader.h"

#include <charconv>
#include <cmath>

#include "runtime/prom_client/whole_json.h"

namespace tend::prom_client {

bool RegistryReader::Scalar(const char* text) {
  if (at_ == At::kRegistry) ++registry_.invalid;  // a family that is no object
  if (at_ == At::kLabels) {
    if (text) Label(text);
    else value_.invalid = true;  // null
  }
  return at_ != At::kTop;
}

bool RegistryReader::Number(double value) {
  if (at_ == At::kValue && key_ == "value") {
    value_.value = value;
    value_.has_value = true;
    return true;
  }
  if (at_ == At::kLabels) {
    Label(FormatNumber(value));
    return true;
  }
  return Scalar(nullptr);
}

bool RegistryReader::Text(absl::string_view text) {
  if (at_ == At::kFamily) {
    if (key_ == "name") family_.name.assign(text.data(), text.size());
    if (key_ == "help") family_.help.assign(text.data(), text.size());
    if (key_ == "type") family_.type.assign(text.data(), text.size());
    if (key_ == "aggregator") family_.aggregator.assign(text.data(), text.size());
    return true;
  }
  if (at_ == At::kValue && key_ == "metricName") {
    value_.sample.assign(text.data(), text.size());
    return true;
  }
  if (at_ == At::kLabels) {
    Label(text);
    return true;
  }
  return Scalar(nullptr);
}

// A label's value: a string, or a number or boolean prom-client formats. Past
// kMaxLabelsPerSeries the value is invalid, and its further labels are not kept.
void RegistryReader::Label(absl::string_view text) {
  if (value_.labels.size() >= kMaxLabelsPerSeries) {
    value_.invalid = true;
    return;
  }
  value_.labels.emplace_back(key_, std::string(text));
}

bool RegistryReader::Open(bool object) {
  if (depth_ == kMaxDepth) return false;  // deeper than prom-client ever writes: not its JSON
  ++depth_;
  switch (at_) {
    case At::kTop:
      return !object && Enter(At::kRegistry);
    case At::kRegistry:
      if (!object) ++registry_.invalid;
      if (registry_.families.size() >= kMaxFamilies) registry_.too_many = true;
      if (!object || registry_.too_many || registry_.too_large) return Enter(At::kSkipped);
      family_ = {};
      return Enter(At::kFamily);
    case At::kFamily:
      if (key_ == "values" && !object) {
        family_.has_values = true;
        return Enter(At::kValues);
      }
      return Enter(At::kSkipped);
    case At::kValues:
      if (!object) return Enter(At::kSkipped);
      value_ = {};
      return Enter(At::kValue);
    case At::kValue:
      return Enter(key_ == "labels" && object ? At::kLabels : At::kSkipped);
    case At::kLabels:
      value_.invalid = true;  // a label whose value is an object or an array
      return Enter(At::kSkipped);
    case At::kSkipped:
      return Enter(At::kSkipped);
  }
  return false;
}

bool RegistryReader::Enter(At at) {
  stack_.push_back(at_);
  at_ = at;
  return true;
}

bool RegistryReader::Close() {
  --depth_;
  At closed = at_;
  at_ = stack_.back();
  stack_.pop_back();
  if (closed == At::kValue && value_.has_value && !registry_.too_large) {
    size_t bytes = sizeof(Value) + value_.sample.size();
    for (const auto& [label, text] : value_.labels) {
      bytes += sizeof(value_.labels[0]) + label.size() + text.size();
    }
    Charge(bytes);
    if (!registry_.too_large) family_.values.push_back(std::move(value_));
  }
  if (closed == At::kFamily && !registry_.too_large) {
    Charge(sizeof(Family) + family_.name.size() + family_.help.size() + family_.type.size() +
           family_.aggregator.size());
    if (!registry_.too_large) registry_.families.push_back(std::move(family_));
  }
  done_ = at_ == At::kTop;
  return true;
}

void RegistryReader::Charge(size_t bytes) {
  registry_.bytes += bytes;
  if (registry_.bytes <= max_bytes_) return;
  registry_.too_large = true;
  std::vector<Family>().swap(registry_.families);
  family_ = {};
}

bool ReadRegistry(const std::string& json, Registry& into, size_t max_bytes) {
  RegistryReader handler(into, max_bytes);
  return ReadWholeJson(json, handler) && handler.done();
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : "NaN";
}

}  // namespace tend::prom_client
