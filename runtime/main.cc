// tend's entry point: wiring only. Parse the command line, build the parts, run the init.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "probes/probe_command.h"
#include "runtime/config/command_line.h"
#include "runtime/config/ecosystem.h"
#include "runtime/control/ctl.h"
#include "runtime/control/plane.h"
#include "runtime/errors/errno_status.h"
#include "runtime/http/routes.h"
#include "runtime/http/server.h"
#include "runtime/init/descendants.h"
#include "runtime/init/init.h"
#include "runtime/init/reaper.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/loop/cross_thread.h"
#include "runtime/loop/event_loop.h"
#include "runtime/net/listen.h"
#include "runtime/net/tls.h"
#include "runtime/process/cpus.h"
#include "runtime/process/descriptor_limit.h"
#include "runtime/signals/signals.h"
#include "runtime/startup/deferred_initializers.h"
#include "runtime/startup/startup_pages.h"
#include "runtime/supervise/command.h"
#include "runtime/supervise/supervisor.h"

extern char** environ;

namespace tend {
namespace {

constexpr int kUsageError = 2;
constexpr int kInternalError = 1;

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** var = environ; *var; ++var) env.emplace_back(*var);
  return env;
}

// tend's own lines that had to wait for a slow reader go out as soon as it has room. On the
// loop's thread only.
void WatchDiagnostics(loop::EventLoop& loop) {
  int fd = logs::DiagnosticsFd();
  if (!loop.Watch(fd, nullptr).ok()) return;  // then with the next line, or at exit
  absl::Status watched = loop.WatchWritable(fd, [&loop, fd] {
    if (logs::FlushDiagnostics()) loop.Unwatch(fd);
  });
  if (!watched.ok()) loop.Unwatch(fd);
}

// An endpoint that could not start, by the rule in config/endpoints.h: false when fatal.
bool GoesOnWithout(const std::string& flag, const absl::Status& failed, bool only_the_default,
                   const std::string& without) {
  if (only_the_default) {
    logs::Warn(absl::StrCat(flag, ": ", failed.message(), "; going on without ", without));
    return true;
  }
  logs::Error(absl::StrCat(flag, ": ", failed.message()));
  return false;
}

// Workers under supervision, with the HTTP and gRPC endpoints around them.
int RunSupervised(const v1::Config& config, loop::EventLoop& loop, init::Init& init) {
  const v1::Endpoints& endpoints = config.endpoints();
  absl::StatusOr<std::string> token = control::ReadToken(endpoints.control_token_file());
  if (!token.ok()) {
    logs::Error(absl::StrCat("--control-token-file: ", token.status().message()));
    return kInternalError;
  }
  // TLS for --grpc, loaded now so that files that do not load stop tend before anything runs.
  std::shared_ptr<net::TlsContext> tls;
  if (!endpoints.grpc_tls_cert().empty()) {
    absl::StatusOr<std::unique_ptr<net::TlsContext>> loaded = net::TlsContext::Load(
        {endpoints.grpc_tls_cert(), endpoints.grpc_tls_key(), endpoints.grpc_client_ca()});
    if (!loaded.ok()) {
      logs::Error(absl::StrCat("--grpc-tls-cert: ", loaded.status().message()));
      return kUsageError;
    }
    tls = std::move(*loaded);
  } else if (!token->empty() && !endpoints.grpc().empty() &&
             !config::IsLoopback(endpoints.grpc())) {
    logs::Warn(absl::StrCat("--control-token-file: the token crosses the network in plaintext on ",
                            endpoints.grpc(), "; give --grpc-tls-cert and --grpc-tls-key"));
  }
  supervise::Supervisor supervisor(config, loop, Environment());
  auto bridge = loop::CrossThread::Create(loop);
  if (!bridge.ok()) {
    logs::Error(bridge.status().message());
    return kInternalError;
  }
  // gRPC's threads may log too: the loop's watch is set from the loop's thread, while the
  // bridge lives.
  logs::SetDiagnosticsWake(
      [bridge = bridge->get(), &loop] { bridge->Post([&loop] { WatchDiagnostics(loop); }); });
  auto snapshot = [&](bool with_usage) {
    http::Snapshot now;
    now.apps = supervisor.Status(with_usage);
    now.init = {init.reaped(), init.forwarded(), supervisor.log_sink().relayed(),
                supervisor.log_sink().dropped() + logs::DroppedDiagnostics()};
    now.stopping = init.stopping();
    return now;
  };
  // The apps' own prom-client metrics, asked of the workers at each scrape.
  metrics::AppCollector app_metrics(loop,
                                    [&supervisor](const metrics::AppCollector::Answer& answer) {
                                      return supervisor.RequestAppMetrics(answer);
                                    });
  std::unique_ptr<http::Server> http_server;
  if (!endpoints.http().empty()) {
    auto started =
        http::Server::Start(loop, endpoints.http(), http::Routes(snapshot, &app_metrics));
    if (started.ok()) {
      http_server = std::move(*started);
      logs::Info(absl::StrCat("serving /livez, /readyz and /metrics on http://",
                              net::WithPort(endpoints.http(), http_server->port())));
    } else if (!GoesOnWithout("--http", started.status(),
                              config::HttpIsOnlyTheDefault(endpoints.http()),
                              "/livez, /readyz and /metrics")) {
      return kInternalError;
    }
  }
  // `tend probe` speaks HTTP on the control socket: the same routes, and no gRPC.
  std::unique_ptr<http::Server> unix_http =
      http::Server::ForConnections(loop, http::Routes(snapshot, &app_metrics));
  std::unique_ptr<control::Plane> plane;
  control::Listeners listeners{
      endpoints.control(), endpoints.grpc(), endpoints.grpc_reflection(),
      [&unix_http](UniqueFd fd) { unix_http->Adopt(std::move(fd), "unix"); }, tls};
  if (!listeners.unix_path.empty() || !listeners.tcp_address.empty()) {
    auto started = control::Plane::Start(
        loop, **bridge, supervisor, config, [&init] { return init.stopping(); }, listeners, *token);
    if (started.ok()) {
      plane = std::move(*started);
      init.OnStopBegun([&plane] { plane->PublishHealth(); });
      if (!endpoints.grpc().empty()) {
        logs::Info(
            absl::StrCat("serving gRPC on ", net::WithPort(endpoints.grpc(), plane->tcp_port())));
      }
    } else if (!GoesOnWithout(
                   "--control", started.status(),
                   config::ControlIsOnlyTheDefault(endpoints.control(), endpoints.grpc()),
                   "the control socket")) {
      return kInternalError;
    }
  }
  int exit_code = init.Run(supervisor);
  logs::SetDiagnosticsWake([&loop] { WatchDiagnostics(loop); });  // the bridge goes now
  (*bridge)->Close();  // calls still in flight get their answer at once
  return exit_code;
}

}  // namespace
}  // namespace tend

int main(int argc, char** argv) {
  using namespace tend;
  using config::CommandLine;
  // The clients of a running tend, in the same binary.
  if (argc > 1 && std::string(argv[1]) == "ctl") {
    startup::RunDeferredInitializers();
    return control::RunCtl(std::vector<std::string>(argv + 2, argv + argc));
  }
  if (argc > 1 && std::string(argv[1]) == "probe") {
    return probes::RunProbe(std::vector<std::string>(argv + 2, argv + argc));
  }
  // Before anything else, so that no stop signal is lost while the configuration loads.
  if (absl::Status blocked = signals::BlockHandledSignals(); !blocked.ok()) {
    logs::Error(blocked.message());
    return kInternalError;
  }
  // The reaper before the configuration: a JavaScript ecosystem file runs node, and what
  // that leaves behind (a detached child) is tend's to end.
  std::string why_not_reaper;
  init::ReaperRole role = init::TakeReaperRole(&why_not_reaper);
  std::unique_ptr<init::Descendants> descendants = init::DescendantsFor(role);
  std::vector<std::string> args(argv + 1, argv + argc);
  bool evaluates = config::MayEvaluateJavaScript(args);
  std::vector<pid_t> inherited;  // what tend did not start: never its to end
  if (evaluates) inherited = init::ListDescendants(getpid());
  absl::StatusOr<CommandLine> parsed =
      config::LoadConfiguration(args, config::CpuCount([] { return process::AvailableCpus(); }));
  if (evaluates) init::EndAllBut(inherited);
  if (!parsed.ok()) {
    if (absl::IsInvalidArgument(parsed.status())) {
      logs::Info(absl::StrCat(parsed.status().message(), " (see tend --help)"));
    } else {
      logs::Error(parsed.status().message());
    }
    return kUsageError;
  }
  if (parsed->action == CommandLine::Action::kHelp) {
    std::fputs(config::kUsage, stdout);
    return 0;
  }
  if (parsed->action == CommandLine::Action::kVersion) {
    std::puts(config::kVersion);
    return 0;
  }
  for (const std::string& warning : parsed->warnings) logs::Warn(warning);
  const v1::Config& config = parsed->config;
  if (role == init::ReaperRole::kNone) {
    logs::Warn(absl::StrCat("not PID 1 and cannot become a child subreaper (", why_not_reaper,
                            "): orphans will not be reaped"));
  }

  if (!process::RaiseDescriptorLimit()) {
    logs::Warn(errors::FromErrno("cannot raise the descriptor limit (RLIMIT_NOFILE)").message());
  }
  // Signals blocked at the start now come from a signalfd.
  auto signals = signals::SignalChannel::Open();
  auto loop = loop::EventLoop::Create();
  if (!signals.ok() || !loop.ok()) {
    logs::Error(!signals.ok() ? signals.status().message() : loop.status().message());
    return kInternalError;
  }
  logs::SetDiagnosticsWake([&event_loop = **loop] { WatchDiagnostics(event_loop); });

  init::Init init(config.init(), **loop, **signals, *descendants);
  int exit_code;
  if (parsed->supervised) {
    // gRPC's, protobuf's and prometheus-cpp's static initializers: init mode never pays them.
    startup::RunDeferredInitializers();
    exit_code = RunSupervised(config, **loop, init);
  } else {
    const v1::App& app = config.apps(0);
    supervise::Command command(std::vector<std::string>(app.command().begin(), app.command().end()),
                               Environment(), config.init().process_group());
    // Once the command has run a second, give back the pages only start-up used
    // (startup_pages.h); a command that ends sooner leaves nothing idle to make lean.
    auto release =
        (*loop)->After(startup::kReleaseStartupPagesAfter, [] { startup::ReleaseStartupPages(); });
    exit_code = init.Run(command);
  }
  // Everything tend made is gone by now; the static destructors of gRPC, protobuf and Abseil
  // that exit() would run cost milliseconds at every container stop and do nothing useful.
  std::fflush(nullptr);
  logs::FinalFlushDiagnostics(std::chrono::seconds(1));
  _exit(exit_code);
}
