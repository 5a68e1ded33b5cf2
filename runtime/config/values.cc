#include "runtime/config/values.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tend::config {

std::optional<uint64_t> ParseCount(absl::string_view digits, uint64_t max) {
  uint64_t count;
  bool all_digits = !digits.empty();
  for (char c : digits) all_digits &= absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!all_digits || !absl::SimpleAtoi(digits, &count) || count > max) return std::nullopt;
  return count;
}

std::string NotADuration(absl::string_view shown) {
  return absl::StrCat(shown, " is not a duration (ms, or 500ms, 10s, 2m, 1h; at most 24h)");
}

std::optional<size_t> ParseChoice(absl::string_view text,
                                  std::initializer_list<absl::string_view> choices) {
  size_t position = 0;
  for (absl::string_view choice : choices) {
    if (text == choice) return position;
    ++position;
  }
  return std::nullopt;
}

std::string NotAChoice(absl::string_view shown, std::initializer_list<absl::string_view> choices) {
  std::string listed;
  size_t position = 0;
  for (absl::string_view choice : choices) {
    absl::StrAppend(&listed,
                    position == 0                    ? ""
                    : position + 1 == choices.size() ? " or "
                                                     : ", ",
                    choice);
    ++position;
  }
  return absl::StrCat(shown, " is not ", listed);
}

std::optional<uint64_t> ParseSize(absl::string_view text) {
  uint64_t unit = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(text.back())) {
      case 'K':
        unit = 1ull << 10;
        break;
      case 'M':
        unit = 1ull << 20;
        break;
      case 'G':
        unit = 1ull << 30;
        break;
    }
    if (unit > 1) text.remove_suffix(1);
  }
  std::optional<uint64_t> count = ParseCount(text, (1ull << 50) / unit);
  if (!count || *count == 0) return std::nullopt;
  return *count * unit;
}

bool ParseHostPort(absl::string_view text, std::string* host, uint32_t* port) {
  absl::string_view name, number = text;
  if (absl::ConsumePrefix(&number, "[")) {
    size_t close = number.find("]:");
    if (close == absl::string_view::npos) return false;
    name = number.substr(0, close);
    number.remove_prefix(close + 2);
  } else if (size_t colon = text.rfind(':'); colon != absl::string_view::npos) {
    name = text.substr(0, colon);
    number = text.substr(colon + 1);
  }
  std::optional<uint64_t> value = ParseCount(number, 65535);
  if (!value) return false;
  *host = std::string(name);
  *port = static_cast<uint32_t>(*value);
  return true;
}

std::optional<uint32_t> ParseMillis(absl::string_view text) {
  constexpr uint64_t kMaxMs = 24ull * 3600 * 1000;
  uint64_t unit = 1;
  if (absl::ConsumeSuffix(&text, "ms")) {
    unit = 1;
  } else if (absl::ConsumeSuffix(&text, "s")) {
    unit = 1000;
  } else if (absl::ConsumeSuffix(&text, "m")) {
    unit = 60 * 1000;
  } else if (absl::ConsumeSuffix(&text, "h")) {
    unit = 3600 * 1000;
  }
  std::optional<uint64_t> count = ParseCount(text, kMaxMs / unit);
  if (!count) return std::nullopt;
  return static_cast<uint32_t>(*count * unit);
}

std::string NameFromScript(const std::string& script) {
  std::string base = script.substr(script.rfind('/') + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

}  // namespace tend::config
