#include "runtime/logs/diagnostics.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace tend::logs {
namespace {

void WriteLine(absl::string_view level, absl::string_view message) {
  std::string line = absl::StrCat("tend: ", level, message, "\n");
  // Best effort: there is nowhere else to report a failed write of a diagnostic.
  [[maybe_unused]] ssize_t written = write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void Info(absl::string_view message) { WriteLine("", message); }
void Warn(absl::string_view message) { WriteLine("warning: ", message); }
void Error(absl::string_view message) { WriteLine("error: ", message); }

}  // namespace tend::logs
