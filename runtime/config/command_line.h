#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tend/v1/config.pb.h"

namespace tend::config {

// Fits inside Docker's and podman's 10 s stop timeout and Kubernetes' 30 s grace period, with
// time left for SIGKILL and an exit status that says what happened.
constexpr uint32_t kDefaultKillTimeoutMs = 8000;

struct CommandLine {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  v1::Config config;
};

// Parses tend's arguments (without argv[0]). An error names the offending argument in one
// line; the caller prints it and exits 2.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// `tend --help`.
extern const char kUsage[];
// `tend --version`.
extern const char kVersion[];

}  // namespace tend::config
