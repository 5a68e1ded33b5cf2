#include "runtime/config/values.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace tend::config {
namespace {

std::optional<uint64_t> Count(absl::string_view digits, uint64_t max) {
  uint64_t count;
  if (digits.empty() || !absl::ascii_isdigit(digits[0]) || !absl::SimpleAtoi(digits, &count) ||
      count > max) {
    return std::nullopt;
  }
  return count;
}

}  // namespace

std::optional<uint64_t> ParseSize(absl::string_view text) {
  uint64_t unit = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(text.back())) {
      case 'K': unit = 1ull << 10; break;
      case 'M': unit = 1ull << 20; break;
      case 'G': unit = 1ull << 30; break;
    }
    if (unit > 1) text.remove_suffix(1);
  }
  std::optional<uint64_t> count = Count(text, (1ull << 50) / unit);
  if (!count || *count == 0) return std::nullopt;
  return *count * unit;
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
  std::optional<uint64_t> count = Count(text, kMaxMs / unit);
  if (!count) return std::nullopt;
  return static_cast<uint32_t>(*count * unit);
}

}  // namespace tend::config
