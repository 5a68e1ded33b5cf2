#include "runtime/control/top_screen.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tend::control {
namespace {

std::string Ago(int64_t then_ms, int64_t now_ms) {
  return absl::StrCat(ShortDuration(std::max<int64_t>(0, now_ms - then_ms) / 1000.0), " ago");
}

}  // namespace

std::string ShortDuration(double seconds) {
  int64_t s = static_cast<int64_t>(seconds);
  if (s < 120) return absl::StrCat(s, "s");
  if (s < 7200) return absl::StrCat(s / 60, "m");
  if (s < 172800) return absl::StrCat(s / 3600, "h");
  return absl::StrCat(s / 86400, "d");
}

std::vector<std::string> RenderTop(const TopView& view, size_t width, size_t height) {
  std::vector<std::string> head, workers, apps;
  size_t worker_count = 0;
  for (const v1::AppState& app : view.list.apps()) worker_count += app.workers_size();
  head.push_back(absl::StrCat("tend top  ", view.clock, "  ", view.list.apps_size(), " apps, ",
                              worker_count, " workers  (q quits)"));
  head.push_back(absl::StrFormat("%-16s %4s %8s %-9s %7s %8s %6s %9s", "APP", "INST", "PID",
                                 "STATE", "UPTIME", "RESTARTS", "CPU%", "MEMORY"));
  for (const v1::AppState& app : view.list.apps()) {
    for (const v1::WorkerState& worker : app.workers()) {
      bool up = worker.pid() > 0;
      auto cpu = view.cpu_percent.find({app.name(), worker.instance()});
      workers.push_back(absl::StrFormat(
          "%-16s %4d %8s %-9s %7s %8d %6s %9s", app.name(), worker.instance(),
          up ? absl::StrCat(worker.pid()) : "-", worker.state(),
          up ? ShortDuration(worker.uptime_seconds()) : "-", worker.restarts(),
          up && cpu != view.cpu_percent.end() ? absl::StrFormat("%.1f", cpu->second) : "-",
          up ? absl::StrFormat("%.1fM", worker.memory_bytes() / 1048576.0) : "-"));
    }
  }
  apps.push_back("");
  apps.push_back(absl::StrFormat("%-16s %7s %-10s %s", "APP", "READY", "RELOADING", "LAST RELOAD"));
  for (const v1::AppState& app : view.list.apps()) {
    std::string last = "never";
    if (app.last_reload_unix_ms() > 0) {
      last = absl::StrCat(Ago(app.last_reload_unix_ms(), view.now_unix_ms),
                          app.last_reload_ok() ? ", ok" : ", failed");
    }
    apps.push_back(absl::StrFormat("%-16s %7s %-10s %s", app.name(),
                                   absl::StrCat(app.ready(), "/", app.desired()),
                                   app.errored()     ? "errored"
                                   : app.reloading() ? "yes"
                                                     : "no",
                                   last));
  }

  std::vector<std::string> lines = head;
  size_t room = height == 0 ? SIZE_MAX : height > lines.size() ? height - lines.size() : 0;
  // Workers first; the app summary and events only in the room left.
  if (workers.size() > room) {
    size_t shown = room > 0 ? room - 1 : 0;
    lines.insert(lines.end(), workers.begin(), workers.begin() + shown);
    if (room > 0) lines.push_back(absl::StrCat("... ", workers.size() - shown, " more workers"));
    room = 0;
  } else {
    lines.insert(lines.end(), workers.begin(), workers.end());
    room -= workers.size();
  }
  for (size_t i = 0; i < apps.size() && room > 0; ++i, --room) lines.push_back(apps[i]);
  if (room > 2 && !view.events.empty()) {
    lines.push_back("");
    lines.push_back("EVENTS");
    room -= 2;
    size_t shown = std::min(room, view.events.size());
    lines.insert(lines.end(), view.events.end() - shown, view.events.end());
  }
  if (height > 0 && lines.size() > height) lines.resize(height);
  for (std::string& line : lines) {
    if (line.size() > width) line.resize(width);
  }
  return lines;
}

}  // namespace tend::control
