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
#include "runtime/http/routes.h"
#include "runtime/http/server.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/loop/cross_thread.h"
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

  tend::init::Init init(config.init(), **loop, **signals, *descendants);
  if (!parsed->supervised) {
    const tend::v1::App& app = config.apps(0);
    tend::supervise::Command command(
        std::vector<std::string>(app.command().begin(), app.command().end()), Environment(),
        config.init().process_group());
    return init.Run(command);
  }
  tend::supervise::Supervisor supervisor(config, **loop, Environment());
  auto bridge = tend::loop::CrossThread::Create(**loop);
  if (!bridge.ok()) {
    tend::logs::Error(bridge.status().message());
    return kInternalError;
  }
  std::unique_ptr<tend::http::Server> http;
  if (!config.endpoints().http().empty()) {
    auto snapshot = [&] {
      tend::http::Snapshot now;
      now.apps = supervisor.Status();
      now.init = {init.reaped(), init.forwarded(), supervisor.log_sink().relayed(),
                  supervisor.log_sink().dropped()};
      now.stopping = init.stopping();
      return now;
    };
    auto started = tend::http::Server::Start(config.endpoints().http(),
                                             tend::http::Routes(**bridge, snapshot));
    if (started.ok()) {
      http = std::move(*started);
      const std::string& address = config.endpoints().http();
      tend::logs::Info(absl::StrCat("serving /livez, /readyz and /metrics on http://",
                                    address.substr(0, address.rfind(':')), ":", http->port()));
    } else if (config.endpoints().http() == tend::config::kDefaultHttp) {
      tend::logs::Warn(absl::StrCat("--http: ", started.status().message(),
                                    "; going on without /livez, /readyz and /metrics"));
    } else {
      tend::logs::Error(absl::StrCat("--http: ", started.status().message()));
      return kInternalError;
    }
  }
  int exit_code = init.Run(supervisor);
  (*bridge)->Close();  // requests still in flight get their 503 at once
  return exit_code;
}
