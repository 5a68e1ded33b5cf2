#include "runtime/config/app_options.h"

#include <initializer_list>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/config/values.h"
#include "runtime/cron/cron_schedule.h"

namespace tend::config {
namespace {

using v1::App;

absl::Status Invalid(std::string problem) { return absl::InvalidArgumentError(problem); }

// A setter of App, for the parsers below to share.
template <typename T>
using Setter = void (App::*)(T);

template <Setter<uint32_t> set>
absl::Status Millis(absl::string_view text, absl::string_view shown, App& app) {
  std::optional<uint32_t> ms = ParseMillis(text);
  if (!ms) return Invalid(NotADuration(shown));
  (app.*set)(*ms);
  return absl::OkStatus();
}

template <Setter<uint32_t> set, uint64_t min, uint64_t max>
absl::Status Count(absl::string_view text, absl::string_view shown, App& app) {
  std::optional<uint64_t> count = ParseCount(text, max);
  if (!count || *count < min) {
    return Invalid(absl::StrCat(shown, " is not a whole number from ", min, " to ", max));
  }
  (app.*set)(static_cast<uint32_t>(*count));
  return absl::OkStatus();
}

template <Setter<bool> set>
absl::Status Bool(absl::string_view text, absl::string_view shown, App& app) {
  std::optional<size_t> choice = ParseChoice(text, {"false", "true"});
  if (!choice) return Invalid(NotAChoice(shown, {"true", "false"}));
  (app.*set)(*choice == 1);
  return absl::OkStatus();
}

absl::Status MaxMemory(absl::string_view text, absl::string_view shown, App& app) {
  std::optional<uint64_t> bytes = ParseSize(text);
  if (!bytes) return Invalid(absl::StrCat(shown, " is not a size such as 200M, 1G or 512K"));
  app.set_max_memory_bytes(*bytes);
  return absl::OkStatus();
}

absl::Status CronRestart(absl::string_view text, absl::string_view, App& app) {
  if (!text.empty()) {
    absl::StatusOr<cron::CronSchedule> cron = cron::CronSchedule::Parse(text);
    if (!cron.ok()) return cron.status();
  }
  app.set_cron_restart(std::string(text));
  return absl::OkStatus();
}

absl::Status StopExitCodes(absl::string_view text, absl::string_view shown, App& app) {
  app.clear_stop_exit_codes();
  if (text.empty()) return absl::OkStatus();  // an empty list: none
  for (absl::string_view code : absl::StrSplit(text, ',')) {
    std::optional<uint64_t> number = ParseCount(code, 255);
    if (!number) {
      return Invalid(absl::StrCat(shown, " is not a list of exit codes from 0 to 255"));
    }
    app.add_stop_exit_codes(static_cast<int>(*number));
  }
  return absl::OkStatus();
}

absl::Status Balance(absl::string_view text, absl::string_view shown, App& app) {
  std::optional<size_t> choice = ParseChoice(text, {"rr", "shared"});
  if (!choice) return Invalid(NotAChoice(shown, {"rr", "shared"}));
  app.set_balance(*choice == 0 ? App::ROUND_ROBIN : App::SHARED);
  return absl::OkStatus();
}

absl::Status AppMetrics(absl::string_view text, absl::string_view shown, App& app) {
  static constexpr App::AppMetrics kModes[] = {App::APP_METRICS_AGGREGATED,
                                               App::APP_METRICS_PER_WORKER, App::APP_METRICS_OFF};
  std::optional<size_t> choice = ParseChoice(text, {"aggregated", "per-worker", "off"});
  if (!choice) return Invalid(NotAChoice(shown, {"aggregated", "per-worker", "off"}));
  app.set_app_metrics(kModes[*choice]);
  return absl::OkStatus();
}

}  // namespace

const std::vector<AppOption>& AppOptions() {
  static const std::vector<AppOption> options = {
      {"listen-timeout", "listen_timeout", nullptr, Millis<&App::set_listen_timeout_ms>},
      {"min-uptime", "min_uptime", nullptr, Millis<&App::set_min_uptime_ms>},
      {"restart-delay", "restart_delay", nullptr, Millis<&App::set_restart_delay_ms>},
      {"exp-backoff-restart-delay", "exp_backoff_restart_delay", nullptr,
       Millis<&App::set_exp_backoff_restart_delay_ms>},
      {"watch-delay", "watch_delay", nullptr, Millis<&App::set_watch_delay_ms>},
      {"max-restarts", "max_restarts", nullptr, Count<&App::set_max_restarts, 0, 1000000>},
      {"reload-surge", "reload_surge", nullptr, Count<&App::set_reload_surge, 1, 4096>},
      {"min-ready", "min_ready", nullptr, Count<&App::set_min_ready, 0, 4096>},
      {"max-memory-restart", "max_memory_restart", nullptr, MaxMemory},
      {"cron-restart", "cron_restart", nullptr, CronRestart},
      {"stop-exit-codes", "stop_exit_codes", nullptr, StopExitCodes},
      {"instance-var", "instance_var", nullptr,
       [](absl::string_view text, absl::string_view, App& app) {
         app.set_instance_var(std::string(text));
         return absl::OkStatus();
       }},
      {"increment-var", "increment_var", nullptr,
       [](absl::string_view text, absl::string_view, App& app) {
         app.set_increment_var(std::string(text));
         return absl::OkStatus();
       }},
      {"balance", "balance", nullptr, Balance},
      {"app-metrics", "app_metrics", nullptr, AppMetrics},
      {"wait-ready", "wait_ready", "true", Bool<&App::set_wait_ready>},
      {"no-autorestart", "autorestart", "false", Bool<&App::set_autorestart>},
      {"shutdown-with-message", "shutdown_with_message", "true",
       Bool<&App::set_shutdown_with_message>},
      {"allow-privileged-ports", "allow_privileged_ports", "true",
       Bool<&App::set_allow_privileged_ports>},
  };
  return options;
}

const AppOption* FindAppOption(absl::string_view key_or_flag) {
  for (const AppOption& option : AppOptions()) {
    if (option.key == key_or_flag || option.flag == key_or_flag) return &option;
  }
  return nullptr;
}

}  // namespace tend::config
