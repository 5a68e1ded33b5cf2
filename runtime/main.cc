// tend's entry point: wiring only. Parse the command line, build the parts, run the init.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/config/command_line.h"
#include "runtime/init/descendants.h"
#include "runtime/init/init.h"
#include "runtime/init/reaper.h"
#include "runtime/init/signals.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/loop/event_loop.h"
#include "runtime/process/cpus.h"
#include "runtime/supervise/command.h"
#include "runtime/supervise/supervisor.h"

extern char** environ;

namespace {

constexpr int kUsageError = 2;
constexpr int kInternalError = 1;

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** var = environ; *var; ++var) env.emplace_back(*var);
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  using tend::config::CommandLine;
  absl::StatusOr<CommandLine> parsed = tend::config::ParseCommandLine(
      std::vector<std::string>(argv + 1, argv + argc), tend::process::AvailableCpus());
  if (!parsed.ok()) {
    tend::logs::Info(absl::StrCat(parsed.status().message(), " (see tend --help)"));
    return kUsageError;
  }
  if (parsed->action == CommandLine::Action::kHelp) {
    std::fputs(tend::config::kUsage, stdout);
    return 0;
  }
  if (parsed->action == CommandLine::Action::kVersion) {
    std::puts(tend::config::kVersion);
    return 0;
  }
  const tend::v1::Config& config = parsed->config;

  // Signals are taken over before the first child exists, so none can be missed.
  auto signals = tend::init::SignalChannel::Open();
  auto loop = tend::loop::EventLoop::Create();
  if (!signals.ok() || !loop.ok()) {
    tend::logs::Error(!signals.ok() ? signals.status().message() : loop.status().message());
    return kInternalError;
  }
  std::string why_not_reaper;
  tend::init::ReaperRole role = tend::init::TakeReaperRole(&why_not_reaper);
  if (role == tend::init::ReaperRole::kNone) {
    tend::logs::Warn(absl::StrCat("not PID 1 and cannot become a child subreaper (",
                                  why_not_reaper, "): orphans will not be reaped"));
  }
  std::unique_ptr<tend::init::Descendants> descendants = tend::init::DescendantsFor(role);

  std::unique_ptr<tend::init::Workload> workload;
  if (parsed->supervised) {
    workload = std::make_unique<tend::supervise::Supervisor>(config, **loop, Environment());
  } else {
    const tend::v1::App& app = config.apps(0);
    workload = std::make_unique<tend::supervise::Command>(
        std::vector<std::string>(app.command().begin(), app.command().end()), Environment(),
        config.init().process_group());
  }
  tend::init::Init init(config.init(), **loop, **signals, *descendants);
  return init.Run(*workload);
}
