#include "runtime/config/command_line.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tend::config {
namespace {

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) { return ParseCommandLine(args); }

std::string ErrorOf(std::vector<std::string> args) {
  auto parsed = Parse(args);
  return parsed.ok() ? "(parsed)" : std::string(parsed.status().message());
}

TEST(CommandLineTest, CommandAfterDoubleDashWithDefaults) {
  auto parsed = Parse({"--", "node", "app.js", "--port", "80"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::Config& config = parsed->config;
  ASSERT_EQ(config.apps_size(), 1);
  EXPECT_EQ(config.apps(0).name(), "node");
  EXPECT_EQ(
      std::vector<std::string>(config.apps(0).command().begin(), config.apps(0).command().end()),
      (std::vector<std::string>{"node", "app.js", "--port", "80"}));
  EXPECT_EQ(config.init().kill_timeout_ms(), kDefaultKillTimeoutMs);
  EXPECT_FALSE(config.init().process_group());
}

TEST(CommandLineTest, InitFlagsInEveryForm) {
  auto parsed = Parse({"-g", "--kill-timeout=250", "-r", "TERM:INT", "--rewrite", "USR1:0", "-e",
                       "143", "--remap-exit=1:7", "--", "/bin/app"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::InitOptions& init = parsed->config.init();
  EXPECT_TRUE(init.process_group());
  EXPECT_EQ(init.kill_timeout_ms(), 250u);
  EXPECT_EQ(init.signal_rewrite().at(SIGTERM), SIGINT);
  EXPECT_EQ(init.signal_rewrite().at(SIGUSR1), 0);
  EXPECT_EQ(init.exit_remap().at(143), 0);
  EXPECT_EQ(init.exit_remap().at(1), 7);
  EXPECT_EQ(parsed->config.apps(0).name(), "app");
  EXPECT_EQ(Parse({"-t500", "--", "x"})->config.init().kill_timeout_ms(), 500u);
}

// As pm2 names it, and as an ecosystem file's app is named: without the last extension.
// One model of durations: the flags take the forms ecosystem files take, with the same error.
TEST(CommandLineTest, DurationsTakeTheFormsOfEcosystemFiles) {
  EXPECT_EQ(Parse({"--min-uptime", "10s", "app.js"})->worker.min_uptime_ms(), 10000u);
  EXPECT_EQ(Parse({"-t", "2m", "--", "x"})->config.init().kill_timeout_ms(), 120000u);
  EXPECT_EQ(Parse({"--restart-delay", "500ms", "app.js"})->worker.restart_delay_ms(), 500u);
  auto refused = Parse({"--min-uptime", "25h", "app.js"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "--min-uptime: '25h' is not a duration (ms, or 500ms, 10s, 2m, 1h; at most 24h)");
}

TEST(CommandLineTest, AppMetricsAndLogBuffer) {
  EXPECT_EQ(Parse({"app.js"})->worker.app_metrics(), v1::App::APP_METRICS_AGGREGATED);
  EXPECT_EQ(Parse({"--app-metrics", "per-worker", "app.js"})->worker.app_metrics(),
            v1::App::APP_METRICS_PER_WORKER);
  EXPECT_EQ(Parse({"--app-metrics=off", "app.js"})->worker.app_metrics(), v1::App::APP_METRICS_OFF);
  EXPECT_EQ(Parse({"--app-metrics", "sum", "app.js"}).status().message(),
            "--app-metrics: 'sum' is not aggregated, per-worker or off");
  v1::LogOptions defaults = Parse({"app.js"})->config.logs();
  EXPECT_EQ(defaults.buffer_lines(), 1000u);
  EXPECT_EQ(defaults.buffer_bytes(), 1u << 20);
  v1::LogOptions set = Parse({"--log-buffer", "50,64K", "app.js"})->config.logs();
  EXPECT_EQ(set.buffer_lines(), 50u);
  EXPECT_EQ(set.buffer_bytes(), 64u << 10);
  EXPECT_EQ(Parse({"--log-buffer", "0", "app.js"})->config.logs().buffer_lines(), 0u);
  for (const char* bad : {"", "x", "10,2X", "10,2G", "-1"}) {
    EXPECT_FALSE(Parse({"--log-buffer", bad, "app.js"}).ok()) << bad;
  }
}

TEST(CommandLineTest, AnAppIsNamedAfterItsScriptWithoutTheLastExtension) {
  EXPECT_EQ(Parse({"dist/server.prod.js"})->config.apps(0).name(), "server.prod");
  EXPECT_EQ(
      Parse({"-i", "2", "--", "node", "--max-old-space-size=100", "app.js"})->config.apps(0).name(),
      "app");
}

TEST(CommandLineTest, InitModeUnlessAScriptOrWorkerFlagIsGiven) {
  EXPECT_FALSE(Parse({"--", "node", "app.js"})->supervised);
  EXPECT_TRUE(Parse({"app.js"})->supervised);
  EXPECT_TRUE(Parse({"--no-autorestart", "--", "./server"})->supervised);
}

TEST(CommandLineTest, ScriptRunsOneForkWorkerWithPm2Defaults) {
  auto parsed = Parse({"server/api.js", "--", "--verbose"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::App& app = parsed->config.apps(0);
  EXPECT_EQ(std::vector<std::string>(app.command().begin(), app.command().end()),
            (std::vector<std::string>{"node", "server/api.js", "--verbose"}));
  EXPECT_EQ(app.name(), "api");
  EXPECT_TRUE(app.node());
  EXPECT_EQ(app.exec_mode(), v1::App::FORK);
  EXPECT_EQ(app.instances(), 1u);
  EXPECT_TRUE(app.autorestart());
  EXPECT_TRUE(app.preload());
  EXPECT_EQ(app.min_uptime_ms(), kDefaultMinUptimeMs);
  EXPECT_EQ(app.max_restarts(), kDefaultMaxRestarts);
  EXPECT_EQ(app.listen_timeout_ms(), kDefaultListenTimeoutMs);
  EXPECT_EQ(app.kill_timeout_ms(), kDefaultKillTimeoutMs);
}

TEST(CommandLineTest, InstancesCountTheAvailableCpus) {
  auto instances = [](std::vector<std::string> args) {
    return ParseCommandLine(args, /*available_cpus=*/3)->config.apps(0).instances();
  };
  EXPECT_EQ(instances({"-i", "4", "app.js"}), 4u);
  EXPECT_EQ(instances({"-i", "max", "app.js"}), 3u);
  EXPECT_EQ(instances({"-i", "0", "app.js"}), 3u);
  EXPECT_EQ(instances({"app.js", "-i", "-1"}), 2u);
  EXPECT_EQ(ParseCommandLine({"-i", "-1", "app.js"}, 1)->config.apps(0).instances(), 1u);
  auto parsed = Parse({"-i", "2", "-n", "api", "--", "node", "--max-old-space-size=100", "a.js"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.apps(0).exec_mode(), v1::App::CLUSTER);
  EXPECT_EQ(parsed->config.apps(0).name(), "api");
}

TEST(CommandLineTest, RestartFlags) {
  auto parsed = Parse({"--no-autorestart", "--stop-exit-codes", "0,3", "--min-uptime", "500",
                       "--max-restarts", "5", "--restart-delay=100", "--exp-backoff-restart-delay",
                       "50", "--wait-ready", "--listen-timeout", "900", "--no-preload", "app.js"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::App& app = parsed->config.apps(0);
  EXPECT_FALSE(app.autorestart());
  EXPECT_EQ(std::vector<int>(app.stop_exit_codes().begin(), app.stop_exit_codes().end()),
            (std::vector<int>{0, 3}));
  EXPECT_EQ(app.min_uptime_ms(), 500u);
  EXPECT_EQ(app.max_restarts(), 5u);
  EXPECT_EQ(app.restart_delay_ms(), 100u);
  EXPECT_EQ(app.exp_backoff_restart_delay_ms(), 50u);
  EXPECT_TRUE(app.wait_ready());
  EXPECT_EQ(app.listen_timeout_ms(), 900u);
  EXPECT_FALSE(app.preload());
}

TEST(CommandLineTest, ReloadTriggerAndListenFlags) {
  auto parsed =
      Parse({"--max-memory-restart", "200M", "--cron-restart", "0 3 * * *", "--reload-surge", "2",
             "--listen", "[::1]:8080", "-i", "3", "--", "./server"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::App& app = parsed->config.apps(0);
  EXPECT_EQ(app.max_memory_bytes(), 200u << 20);
  EXPECT_EQ(app.cron_restart(), "0 3 * * *");
  EXPECT_EQ(app.reload_surge(), 2u);
  EXPECT_EQ(app.listen().address(), "::1");
  EXPECT_EQ(app.listen().port(), 8080u);
  // Not node: N workers of the program, each accepting on tend's socket.
  EXPECT_EQ(app.exec_mode(), v1::App::FORK);
  EXPECT_EQ(app.instances(), 3u);
  auto memory = [](const char* size) {
    return Parse({"--max-memory-restart", size, "a.js"})->config.apps(0).max_memory_bytes();
  };
  EXPECT_EQ(memory("512k"), 512u << 10);
  EXPECT_EQ(memory("1G"), 1ull << 30);
  EXPECT_EQ(memory("1000000"), 1000000u);
  auto listen = [](const char* value) {
    return Parse({"--listen", value, "--", "x"})->config.apps(0).listen();
  };
  EXPECT_EQ(listen("9000").address(), "");
  EXPECT_EQ(listen("9000").port(), 9000u);
  EXPECT_EQ(listen("127.0.0.1:0").address(), "127.0.0.1");
}

TEST(CommandLineTest, HelpAndVersionNeedNoCommand) {
  EXPECT_EQ(Parse({"--help"})->action, CommandLine::Action::kHelp);
  EXPECT_EQ(Parse({"-V"})->action, CommandLine::Action::kVersion);
}

TEST(CommandLineTest, BadInputNamesTheProblem) {
  EXPECT_EQ(ErrorOf({"--bogus", "--", "x"}), "unknown flag '--bogus'");
  EXPECT_EQ(ErrorOf({"-z", "--", "x"}), "unknown flag '-z'");
  EXPECT_EQ(ErrorOf({}), "missing command: tend [FLAGS] -- CMD [ARGS...]");
  EXPECT_EQ(ErrorOf({"-g", "--"}), "missing command: tend [FLAGS] -- CMD [ARGS...]");
  EXPECT_EQ(ErrorOf({"app.js", "1"}),
            "unexpected argument '1': give one SCRIPT, and its arguments after --");
  EXPECT_EQ(ErrorOf({"-i", "2"}),
            "missing script or command: tend [FLAGS] SCRIPT, or tend [FLAGS] -- CMD [ARGS...]");
  for (const char* bad : {"lots", "-2", "0x3", "4097", ""}) {
    EXPECT_EQ(ErrorOf({"-i", bad, "app.js"}), std::string("--instances: '") + bad +
                                                  "' is not a number from 1 to 4096, max, 0 or -1")
        << bad;
  }
  EXPECT_EQ(ErrorOf({"-i", "2", "--", "./server"}),
            "-i runs Node cluster workers, and './server' is not node: give --listen "
            "[ADDR:]PORT to share a socket with other programs");
  for (const char* bad : {"", "M", "0", "12Q", "-5M", "1.5G", "99999999999G"}) {
    EXPECT_EQ(
        ErrorOf({"--max-memory-restart", bad, "a.js"}),
        absl::StrCat("--max-memory-restart: '", bad, "' is not a size such as 200M, 1G or 512K"));
  }
  for (const char* bad : {"", "http", ":", "1.2.3.4:", "[::1]", "[::1:80", "70000", "-1"}) {
    EXPECT_NE(ErrorOf({"--listen", bad, "--", "x"}).find("--listen: '"), std::string::npos) << bad;
  }
  EXPECT_EQ(ErrorOf({"--reload-surge", "0", "a.js"}),
            "--reload-surge: '0' is not a whole number from 1 to 4096");
  EXPECT_EQ(ErrorOf({"--cron-restart", "61 * * * *", "a.js"}),
            "--cron-restart: cron minute field '61': expected 0 to 59");
  EXPECT_EQ(ErrorOf({"--stop-exit-codes", "0,x", "a.js"}),
            "--stop-exit-codes: '0,x' is not a list of exit codes from 0 to 255");
  EXPECT_EQ(ErrorOf({"--kill-timeout"}), "flag '--kill-timeout' needs a value");
  EXPECT_EQ(ErrorOf({"--pgroup=yes", "--", "x"}), "flag '--pgroup=yes' takes no value");
  for (const char* bad : {"abc", "-5", "1.5", "", "99999999999", "10 s", "+3"}) {
    EXPECT_NE(ErrorOf({"--kill-timeout", bad, "--", "x"}).find("--kill-timeout: '"),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(ErrorOf({"-r", "FOO:INT", "--", "x"}), "--rewrite: 'FOO' names no signal");
  EXPECT_EQ(ErrorOf({"-r", "TERM:BAR", "--", "x"}), "--rewrite: 'BAR' names no signal");
  EXPECT_EQ(ErrorOf({"-r", "TERM", "--", "x"}), "--rewrite: 'TERM' is not FROM:TO (e.g. TERM:INT)");
  EXPECT_EQ(ErrorOf({"-r", "KILL:TERM", "--", "x"}),
            "--rewrite: SIGKILL is not forwarded, so it cannot be rewritten");
  EXPECT_EQ(ErrorOf({"-r", "CHLD:TERM", "--", "x"}),
            "--rewrite: SIGCHLD is not forwarded, so it cannot be rewritten");
  for (const char* bad : {"256", "-1", "1:", "1:x", "x", "1:256"}) {
    EXPECT_NE(ErrorOf({"-e", bad, "--", "x"}).find("--remap-exit: '"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace tend::config
