#include "runtime/control/ctl.h"

#include <cstdio>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "runtime/config/endpoints.h"
#include "runtime/control/ctl_commands.h"
#include "runtime/control/top_screen.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {
namespace {

const char kCtlHelp[] = R"(Usage: tend ctl [--control unix:PATH] [--wait SECONDS] [--json] COMMAND
Commands:
  list                     every app's workers: state, pid, restarts, uptime, memory, CPU
  reload [APP]             rolling reload of APP or every app; prints progress until done
  restart APP[:INSTANCE]   replace APP's workers (or one instance's) gracefully
  scale APP N|+N|-N        set APP's instance count, or change it
  signal SIG [APP]         send SIG to every worker of APP or of every app
  events                   print what happens, as it happens, until interrupted
  logs [APP[:N]] [--lines N] [--follow]
                           the last N lines (default 15) of every app's output, of APP's,
                           or of one instance's, each marked app:instance|out or |err;
                           --follow: then each new line as it comes, until interrupted
  top [--once]             a live view of every worker (q or Ctrl-C quits); --once, or
                           without a terminal: one plain snapshot
  config                   the effective configuration
--control: the control socket (default unix:/run/tend/control.sock).
--wait: how long to wait for tend to answer on the socket, which may not exist yet (a
        sidecar started before tend); default 30, 0: not at all. Then exit 1.
--json: JSON output, one object per line for streams.
)";

constexpr int kDefaultWaitSeconds = 30;

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

void PrintTable(const v1::ListWorkersResponse& list) {
  std::printf("%-16s %-8s %-8s %-10s %-8s %-8s %-10s %s\n", "APP", "INSTANCE", "PID", "STATE",
              "RESTARTS", "UPTIME", "MEMORY", "CPU");
  for (const v1::AppState& app : list.apps()) {
    for (const v1::WorkerState& worker : app.workers()) {
      std::string pid = worker.pid() ? absl::StrCat(worker.pid()) : "-";
      std::string uptime = worker.pid() ? ShortDuration(worker.uptime_seconds()) : "-";
      std::string memory =
          worker.pid() ? absl::StrFormat("%.1fM", worker.memory_bytes() / 1048576.0) : "-";
      std::string cpu = worker.pid() ? absl::StrFormat("%.2fs", worker.cpu_seconds()) : "-";
      std::printf("%-16s %-8d %-8s %-10s %-8llu %-8s %-10s %s\n", app.name().c_str(),
                  worker.instance(), pid.c_str(), worker.state().c_str(),
                  static_cast<unsigned long long>(worker.restarts()), uptime.c_str(),
                  memory.c_str(), cpu.c_str());
    }
  }
}

template <typename Reader>
int PrintStream(Reader& reader, bool json, bool* all_ok) {
  v1::Event event;
  while (reader->Read(&event)) {
    std::puts((json ? Json(event) : DescribeEvent(event)).c_str());
    std::fflush(stdout);
    if (event.kind() == v1::Event::RELOAD_FINISHED && !event.ok()) *all_ok = false;
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : CtlFailed(status);
}

}  // namespace

int CtlUsage(const std::string& problem) {
  std::fprintf(stderr, "tend ctl: %s\n%s", problem.c_str(), kCtlHelp);
  return kCtlUsage;
}

int CtlFailed(const grpc::Status& status) {
  std::fprintf(stderr, "tend ctl: %s\n", status.error_message().c_str());
  return kCtlFailed;
}

std::string DescribeEvent(const v1::Event& event) {
  std::string what = v1::Event::Kind_Name(event.kind());
  std::string who =
      event.instance() >= 0 ? absl::StrCat(event.app(), "[", event.instance(), "]") : event.app();
  std::string line = absl::StrCat(what, " ", who);
  if (event.pid()) absl::StrAppend(&line, " pid ", event.pid());
  if (event.kind() == v1::Event::RELOAD_FINISHED)
    absl::StrAppend(&line, event.ok() ? " ok" : " failed");
  if (!event.detail().empty()) absl::StrAppend(&line, ": ", event.detail());
  return line;
}

int RunCtl(const std::vector<std::string>& all_args) {
  std::string socket = config::kDefaultControl;
  bool json = false;
  int wait_seconds = kDefaultWaitSeconds;
  std::vector<std::string> args;
  for (size_t i = 0; i < all_args.size(); ++i) {
    absl::string_view arg = all_args[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--wait" && i + 1 < all_args.size()) {
      if (!absl::SimpleAtoi(all_args[++i], &wait_seconds) || wait_seconds < 0 ||
          wait_seconds > 86400) {
        return CtlUsage(absl::StrCat("--wait: '", all_args[i], "' is not 0 to 86400 seconds"));
      }
    } else if (arg == "--control" && i + 1 < all_args.size()) {
      socket = all_args[++i];
    } else if (absl::ConsumePrefix(&arg, "--control=")) {
      socket = std::string(arg);
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kCtlHelp, stdout);
      return 0;
    } else {
      args.push_back(all_args[i]);
    }
  }
  if (args.empty()) return CtlUsage("missing command");
  absl::string_view path = socket;
  absl::ConsumePrefix(&path, "unix:");
  // gRPC retries connecting (with backoff, at most 1 s apart here) until the deadline.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("unix:", path),
                                           grpc::InsecureChannelCredentials(), arguments);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(wait_seconds))) {
    std::fprintf(stderr, "tend ctl: no tend answers on unix:%s (waited %d s)\n",
                 std::string(path).c_str(), wait_seconds);
    return kCtlFailed;
  }
  auto stub = v1::Control::NewStub(channel);
  grpc::ClientContext context;
  const std::string& command = args[0];
  auto want = [&](size_t min, size_t max) {
    return args.size() >= min + 1 && args.size() <= max + 1;
  };

  if (command == "list" && want(0, 0)) {
    v1::ListWorkersResponse list;
    grpc::Status status = stub->ListWorkers(&context, {}, &list);
    if (!status.ok()) return CtlFailed(status);
    if (json) {
      std::puts(Json(list).c_str());
    } else {
      PrintTable(list);
    }
    return 0;
  }
  if (command == "reload" && want(0, 1)) {
    v1::ReloadRequest request;
    if (args.size() == 2) request.set_app(args[1]);
    auto reader = stub->Reload(&context, request);
    bool all_ok = true;
    int code = PrintStream(reader, json, &all_ok);
    return code != 0 ? code : all_ok ? 0 : kCtlFailed;
  }
  if (command == "restart" && want(1, 1)) {
    v1::RestartRequest request;
    absl::string_view target = args[1];
    size_t colon = target.rfind(':');
    request.set_app(std::string(target.substr(0, colon)));
    if (colon != absl::string_view::npos) {
      int instance;
      if (!absl::SimpleAtoi(target.substr(colon + 1), &instance)) {
        return CtlUsage(absl::StrCat("'", target, "' is not APP or APP:INSTANCE"));
      }
      request.set_instance(instance);
    }
    v1::RestartResponse response;
    grpc::Status status = stub->Restart(&context, request, &response);
    return status.ok() ? 0 : CtlFailed(status);
  }
  if (command == "scale" && want(2, 2)) {
    v1::ScaleRequest request;
    request.set_app(args[1]);
    absl::string_view count = args[2];
    int number;
    bool relative = count[0] == '+' || count[0] == '-';
    if (!absl::SimpleAtoi(relative ? count.substr(1) : count, &number) || number < 0) {
      return CtlUsage(absl::StrCat("'", count, "' is not N, +N or -N"));
    }
    if (relative) {
      request.set_delta(count[0] == '-' ? -number : number);
    } else {
      request.set_instances(number);
    }
    v1::ScaleResponse response;
    grpc::Status status = stub->Scale(&context, request, &response);
    if (!status.ok()) return CtlFailed(status);
    std::puts(json ? Json(response).c_str()
                   : absl::StrCat(args[1], ": ", response.instances(), " instances").c_str());
    return 0;
  }
  if (command == "signal" && want(1, 2)) {
    v1::SignalRequest request;
    request.set_signal(args[1]);
    if (args.size() == 3) request.set_app(args[2]);
    v1::SignalResponse response;
    grpc::Status status = stub->Signal(&context, request, &response);
    return status.ok() ? 0 : CtlFailed(status);
  }
  if (command == "events" && want(0, 0)) {
    auto reader = stub->StreamEvents(&context, {});
    bool all_ok = true;
    return PrintStream(reader, json, &all_ok);
  }
  if (command == "logs") {
    return RunLogs(*stub, std::vector<std::string>(args.begin() + 1, args.end()), json);
  }
  if (command == "top")
    return RunTop(*stub, std::vector<std::string>(args.begin() + 1, args.end()));
  if (command == "config" && want(0, 0)) {
    v1::Config config;
    grpc::Status status = stub->GetConfig(&context, {}, &config);
    if (!status.ok()) return CtlFailed(status);
    std::puts(json ? Json(config).c_str() : config.DebugString().c_str());
    return 0;
  }
  return CtlUsage(absl::StrCat("bad command '", command, "' or arguments"));
}

}  // namespace tend::control
