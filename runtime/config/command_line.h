#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/config/endpoints.h"
#include "tend/v1/config.pb.h"

namespace tend::config {

// Fits inside Docker's and podman's 10 s stop timeout and Kubernetes' 30 s grace period, with
// time left for SIGKILL and an exit status that says what happened.
constexpr uint32_t kDefaultKillTimeoutMs = 8000;

// What `-i max` means, and how many workers start at once: the CPUs tend may use. Read on first
// use only, so that init mode never opens the cgroup files.
class CpuCount {
 public:
  CpuCount(int known) : value_(known) {}  // a number stands for itself (tests)
  explicit CpuCount(std::function<int()> read) : read_(std::move(read)) {}
  int get() const {
    if (!value_) value_ = read_();
    return *value_;
  }

 private:
  mutable std::optional<int> value_;
  std::function<int()> read_;
};

struct CommandLine {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  v1::Config config;
  // Whether tend supervises workers (a SCRIPT, -i or a worker flag was given) rather than
  // running one command as an init.
  bool supervised = false;
  // While parsing: the worker flags, and -i (0: every CPU, -1: one less).
  v1::App worker;
  std::optional<int> instances;
  // A pm2 ecosystem file given as the SCRIPT, and what --env and --only ask of it: the apps
  // come from the file (config/ecosystem.h), read after parsing.
  std::string ecosystem_file;
  std::string env_name;
  std::vector<std::string> only;
  // --node-args and --interpreter, for a SCRIPT.
  std::vector<std::string> node_args;
  std::string interpreter;
  bool watch = false;  // --watch
  // pm2-runtime flags accepted for compatibility that do nothing here, one line each.
  std::vector<std::string> warnings;
};

// pm2's defaults for supervised apps.
constexpr uint32_t kDefaultMinUptimeMs = 1000;
constexpr uint32_t kDefaultMaxRestarts = 16;
// What `tend ctl logs` can show of each app, by default.
constexpr uint32_t kDefaultLogBufferLines = 1000;
constexpr uint64_t kDefaultLogBufferBytes = 1 << 20;
// How long a worker may take to listen (or send 'ready') before it counts as a failed start.
constexpr uint32_t kDefaultListenTimeoutMs = 30000;

// Parses tend's arguments (without argv[0]); `available_cpus` is what `-i max` means. An
// error names the offending argument in one line; the caller prints it and exits 2.
// Whether loading `args` may run node on a JavaScript ecosystem file (a cheap look at the
// words: a false yes costs a look at /proc, never a wrong result).
bool MayEvaluateJavaScript(const std::vector<std::string>& args);

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             const CpuCount& available_cpus = 1);

// `tend --help`.
extern const char kUsage[];
// `tend --version`.
extern const char kVersion[];

}  // namespace tend::config
