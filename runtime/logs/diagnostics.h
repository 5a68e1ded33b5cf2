#pragma once

#include "absl/strings/string_view.h"

namespace tend::logs {

// tend's own one-line messages on stderr, "tend: ..." like any Unix tool's. Each line goes out
// in one write(2), so it never interleaves with a worker's output.
void Info(absl::string_view message);
void Warn(absl::string_view message);   // "tend: warning: ..."
void Error(absl::string_view message);  // "tend: error: ..."

}  // namespace tend::logs
