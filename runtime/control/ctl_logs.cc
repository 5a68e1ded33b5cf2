// `tend ctl logs`: what pm2 logs shows, from the lines tend keeps of each app.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/control/ctl_commands.h"
#include "runtime/logs/line_format.h"

namespace tend::control {
namespace {

constexpr uint32_t kDefaultLines = 15;  // as pm2 logs

std::string Format(const v1::LogLine& line, bool json) {
  logs::Source source{line.app(), line.instance(), line.pid()};
  if (json) {
    return logs::FormatLine({logs::LineFormat::kJson}, source, line.stderr(), line.text(),
                            line.unix_ms());
  }
  // For a person's terminal: what a worker wrote cannot drive it.
  return absl::StrCat(logs::Inert(line.app()), ":", line.instance(),
                      line.stderr() ? "|err| " : "|out| ", logs::Inert(line.text()), "\n");
}

std::string DroppedMark(uint64_t dropped, bool json) {
  if (json) return absl::StrCat("{\"dropped\":", dropped, "}\n");
  return absl::StrCat("[tend: ", dropped, " lines dropped here: this reader fell behind]\n");
}

}  // namespace

int RunLogs(v1::Control::Stub& stub, const std::vector<std::string>& args, bool json) {
  v1::LogsRequest request;
  request.set_lines(kDefaultLines);
  bool named = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    uint32_t lines;
    if (arg == "--follow" || arg == "-f") {
      request.set_follow(true);
    } else if (arg == "--lines" && i + 1 < args.size()) {
      if (!absl::SimpleAtoi(args[++i], &lines)) {
        return CtlUsage(absl::StrCat("--lines: '", args[i], "' is not a number of lines"));
      }
      request.set_lines(lines);
    } else if (!named && !arg.empty() && arg[0] != '-') {
      named = true;
      size_t colon = arg.rfind(':');
      request.set_app(arg.substr(0, colon));
      if (colon != std::string::npos) {
        int instance;
        if (!absl::SimpleAtoi(arg.substr(colon + 1), &instance) || instance < 0) {
          return CtlUsage(absl::StrCat("'", arg, "' is not APP or APP:INSTANCE"));
        }
        request.set_instance(instance);
        request.set_has_instance(true);
      }
    } else {
      return CtlUsage(absl::StrCat("logs: unexpected '", arg, "'"));
    }
  }
  grpc::ClientContext context;
  auto reader = stub.Logs(&context, request);
  v1::LogLine line;
  while (reader->Read(&line)) {
    if (line.dropped_before() > 0)
      std::fputs(DroppedMark(line.dropped_before(), json).c_str(), stdout);
    std::fputs(Format(line, json).c_str(), stdout);
    if (request.follow()) std::fflush(stdout);
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : CtlFailed(status);
}

}  // namespace tend::control
