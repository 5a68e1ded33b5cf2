#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tend::logs {

// Who wrote a line.
struct Source {
  std::string app;
  int instance = 0;
  pid_t pid = 0;
};

// How a worker's line is written out: by the relay to tend's stdout and stderr, and by
// `tend ctl logs`, alike.
struct LineFormat {
  enum Kind { kRaw, kPrefixed, kJson, kKeyValue };
  Kind kind = kRaw;
  bool time = false;  // an ISO-8601 UTC timestamp first (raw and prefixed)
};

// One line, with its newline; `unix_ms`: when tend relayed it.
std::string FormatLine(const LineFormat& format, const Source& source, bool is_stderr,
                       absl::string_view text, int64_t unix_ms);

// A worker's text made inert for an operator's terminal: control characters (C0 but tab,
// DEL, and C1 as UTF-8 writes them) shown as \xNN, so a line cannot move the cursor, set the
// title, write the clipboard (OSC 52) or hide what came before it.
std::string Inert(absl::string_view text);

// Now, in milliseconds since the epoch.
int64_t NowUnixMs();

}  // namespace tend::logs
