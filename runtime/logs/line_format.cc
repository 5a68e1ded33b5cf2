#include "runtime/logs/line_format.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace tend::logs {
namespace {

std::string Timestamp(int64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc;
  gmtime_r(&seconds, &utc);
  char text[40];
  size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return text;
}

}  // namespace

std::string Inert(absl::string_view text) {
  std::string shown;
  shown.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // C1 controls are U+0080 to U+009F: 0xC2 then 0x80 to 0x9F in UTF-8.
    bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      absl::StrAppendFormat(&shown, "\\x%02x", c);
    } else if (c1) {
      absl::StrAppendFormat(&shown, "\\u%04x", static_cast<unsigned char>(text[++i]));
    } else {
      shown += static_cast<char>(c);
    }
  }
  return shown;
}

int64_t NowUnixMs() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

std::string FormatLine(const LineFormat& format, const Source& source, bool is_stderr,
                       absl::string_view text, int64_t unix_ms) {
  if (format.kind == LineFormat::kJson) {
    nlohmann::json line = {{"timestamp", Timestamp(unix_ms)},
                           {"app", source.app},
                           {"instance", source.instance},
                           {"pid", source.pid},
                           {"stream", is_stderr ? "stderr" : "stdout"},
                           {"message", std::string(text)}};
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  if (format.kind == LineFormat::kKeyValue) {  // as pm2-runtime --format writes it
    return absl::StrCat("timestamp=", Timestamp(unix_ms), " app=", source.app,
                        " id=", source.instance, " type=", is_stderr ? "err" : "out",
                        " message=", text, "\n");
  }
  std::string prefix;
  if (format.time) prefix = absl::StrCat(Timestamp(unix_ms), " ");
  if (format.kind == LineFormat::kPrefixed) {
    absl::StrAppend(&prefix, source.app, ":", source.instance, "| ");
  }
  return absl::StrCat(prefix, text, "\n");
}

}  // namespace tend::logs
