#include "runtime/prom_client/registry_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "runtime/prom_client/whole_json.h"

namespace tend::prom_client {
namespace {

// What glibc's malloc takes for `n` bytes: an 8-byte header, in 16-byte steps, 32 at least.
size_t Chunk(size_t n) { return n == 0 ? 0 : std::max<size_t>(32, (n + 8 + 15) & ~size_t{15}); }

size_t HeapOf(const std::string& text) {
  static const size_t kInline = std::string().capacity();
  return text.capacity() > kInline ? Chunk(text.capacity() + 1) : 0;
}

template <typename T>
size_t HeapOf(const std::vector<T>& list) {
  return Chunk(list.capacity() * sizeof(T));
}

size_t HeapOf(const Value& value) {
  size_t bytes = HeapOf(value.sample) + HeapOf(value.labels);
  for (const auto& [label, text] : value.labels) bytes += HeapOf(label) + HeapOf(text);
  return bytes;
}

// JSON can escape a lone low surrogate (\udc00), which RapidJSON decodes to no UTF-8
// (ED B0..BF xx, the only ED A0..BF that validated text holds): it becomes U+FFFD.
void Store(std::string& into, absl::string_view text) {
  into.assign(text.data(), text.size());
  for (size_t at = into.find('\xED'); at != std::string::npos; at = into.find('\xED', at + 3)) {
    if (at + 2 < into.size() && static_cast<unsigned char>(into[at + 1]) >= 0xA0) {
      into.replace(at, 3, "\xEF\xBF\xBD");
    }
  }
}

// Parts of one family (the preload splits a large one) are one family: for its bound, its
// judgement and the invalid count.
bool Continues(const Family& part, const Family& family) {
  return part.has_values && family.has_values && part.name == family.name &&
         part.help == family.help && part.type == family.type &&
         part.aggregator == family.aggregator;
}

}  // namespace

bool RegistryReader::Scalar(const char* text) {
  if (at_ == At::kRegistry) ++registry_.invalid;  // a family that is no object
  if (at_ == At::kLabels) {
    if (text)
      Label(text);
    else
      value_.invalid = true;  // null
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
    if (key_ == "name") Store(family_.name, text);
    if (key_ == "help") Store(family_.help, text);
    if (key_ == "type") Store(family_.type, text);
    if (key_ == "aggregator") Store(family_.aggregator, text);
    return true;
  }
  if (at_ == At::kValue && key_ == "metricName") {
    Store(value_.sample, text);
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
  std::string stored;
  Store(stored, text);
  value_.labels.emplace_back(key_, std::move(stored));
}

bool RegistryReader::Open(bool object) {
  if (depth_ == kMaxDepth) return false;  // deeper than prom-client ever writes: not its JSON
  ++depth_;
  switch (at_) {
    case At::kTop:
      return !object && Enter(At::kRegistry);
    case At::kRegistry:
      if (!object) ++registry_.invalid;
      if (!object || registry_.too_large) return Enter(At::kSkipped);
      family_ = {};
      family_bytes_ = 0;
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
  if (closed == At::kValue && value_.has_value && !registry_.too_large) KeepValue();
  if (closed == At::kFamily && !registry_.too_large) KeepFamily();
  done_ = at_ == At::kTop;
  return true;
}

// What is kept is counted as the heap it takes: strings past the inline buffer, and lists
// at their capacity.
void RegistryReader::KeepValue() {
  // Past the families' bound only a part of the last family is kept (its name comes before
  // its values, as prom-client and the preload write them); the rest costs nothing.
  const std::vector<Family>& families = registry_.families;
  if (families.size() >= kMaxFamilies && family_.name != families.back().name) {
    registry_.too_many = true;
    return;
  }
  size_t own = HeapOf(value_);
  Charge(own);
  if (registry_.too_large) return;
  size_t list = HeapOf(family_.values);
  family_.values.push_back(std::move(value_));
  size_t growth = HeapOf(family_.values) - list;
  family_bytes_ += own + growth;
  Charge(growth);
}

void RegistryReader::KeepFamily() {
  std::vector<Family>& families = registry_.families;
  if (!families.empty() && Continues(family_, families.back())) {
    std::vector<Value>& values = families.back().values;
    size_t list = HeapOf(values);
    values.insert(values.end(), std::make_move_iterator(family_.values.begin()),
                  std::make_move_iterator(family_.values.end()));
    Charge(HeapOf(values) - list);
    Release(HeapOf(family_.values));  // its values moved; the list itself goes
    return;
  }
  if (families.size() >= kMaxFamilies) {
    registry_.too_many = true;
    Release(family_bytes_);
    return;
  }
  size_t list = HeapOf(families);
  Charge(HeapOf(family_.name) + HeapOf(family_.help) + HeapOf(family_.type) +
         HeapOf(family_.aggregator));
  if (registry_.too_large) return;
  families.push_back(std::move(family_));
  Charge(HeapOf(families) - list);
}

void RegistryReader::Charge(size_t bytes) {
  registry_.bytes += bytes;
  if (registry_.bytes <= max_bytes_) return;
  registry_.too_large = true;
  std::vector<Family>().swap(registry_.families);
  family_ = {};
}

void RegistryReader::Release(size_t bytes) {
  if (!registry_.too_large) registry_.bytes -= std::min(bytes, registry_.bytes);
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
