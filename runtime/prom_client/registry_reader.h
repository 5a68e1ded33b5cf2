#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tend::prom_client {

// One series of a family as a worker wrote it, read and not yet judged.
struct Value {
  std::string sample;  // metricName; empty: the family's name
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
  bool has_value = false;  // a number (NaN and infinities reach JSON as null)
  bool invalid = false;    // a label that is no string, number or boolean, or too many
};

struct Family {
  std::string name, help, type, aggregator;
  std::vector<Value> values;
  bool has_values = false;  // "values" was a list
};

// What one worker's answer held, as read so far (an answer may come in several pieces).
struct Registry {
  std::vector<Family> families;
  uint64_t invalid = 0;    // entries that were not families
  bool too_many = false;   // families past kMaxFamilies were left out
  bool too_large = false;  // over its byte bound: `families` is emptied, the rest is skipped
  size_t bytes = 0;        // the heap `families` takes, as RegistryReader counts it
};

// The bounds of one answer: families (past it, the rest is left out) and labels a series
// (past it, that series is invalid). The bytes are the caller's.
inline constexpr size_t kMaxFamilies = 10000;
inline constexpr size_t kMaxLabelsPerSeries = 64;

// Reads a JSON array of prom-client families into a Registry, as a RapidJSON SAX handler
// (its methods are RapidJSON's events), so that it can also read the array where it stands
// in a larger message. No document is built: the cost is linear in the text whatever its
// shape, nesting deeper than prom-client ever writes ends the read, and what is kept is
// counted in `bytes` (the heap it takes) against `max_bytes`. Consecutive parts of one
// family are joined; lone surrogates in strings become U+FFFD.
class RegistryReader {
 public:
  RegistryReader(Registry& into, size_t max_bytes) : registry_(into), max_bytes_(max_bytes) {}

  // Whether the array has been read to its end.
  bool done() const { return done_; }

  bool Null() { return Scalar(nullptr); }
  bool Bool(bool value) { return Scalar(value ? "true" : "false"); }
  bool Int(int value) { return Number(value); }
  bool Uint(unsigned value) { return Number(value); }
  bool Int64(int64_t value) { return Number(static_cast<double>(value)); }
  bool Uint64(uint64_t value) { return Number(static_cast<double>(value)); }
  bool Double(double value) { return Number(value); }
  bool RawNumber(const char*, unsigned, bool) { return false; }  // never asked for
  bool String(const char* text, unsigned length, bool) { return Text({text, length}); }
  bool Key(const char* text, unsigned length, bool) {
    key_.assign(text, length);
    return true;
  }
  bool StartObject() { return Open(true); }
  bool StartArray() { return Open(false); }
  bool EndObject(unsigned) { return Close(); }
  bool EndArray(unsigned) { return Close(); }

 private:
  // Where the reader is: what the next value means.
  enum class At { kTop, kRegistry, kFamily, kValues, kValue, kLabels, kSkipped };

  bool Scalar(const char* text);
  bool Number(double value);
  bool Text(absl::string_view text);
  void Label(absl::string_view text);
  bool Open(bool object);
  bool Enter(At at);
  bool Close();
  void KeepValue();
  void KeepFamily();
  // Counts what a closed value or family keeps; past the bound the registry is too large.
  void Charge(size_t bytes);
  void Release(size_t bytes);

  static constexpr int kMaxDepth = 8;
  Registry& registry_;
  const size_t max_bytes_;
  std::vector<At> stack_;
  At at_ = At::kTop;
  int depth_ = 0;
  bool done_ = false;
  std::string key_;
  Family family_;
  size_t family_bytes_ = 0;  // what family_'s values were charged
  Value value_;
};

// Reads `json`, a whole registry (tests and the fuzzer give one as text); false if it is not
// a JSON array.
bool ReadRegistry(const std::string& json, Registry& into, size_t max_bytes);

// A number as JavaScript's String() writes it, near enough (le="0.1", major="20"), and
// Prometheus's names for the values JSON cannot hold.
std::string FormatNumber(double value);

}  // namespace tend::prom_client
