#include "runtime/config/command_line.h"

#include <signal.h>

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
  EXPECT_EQ(std::vector<std::string>(config.apps(0).command().begin(),
                                     config.apps(0).command().end()),
            (std::vector<std::string>{"node", "app.js", "--port", "80"}));
  EXPECT_EQ(config.init().kill_timeout_ms(), kDefaultKillTimeoutMs);
  EXPECT_FALSE(config.init().process_group());
}

TEST(CommandLineTest, InitFlagsInEveryForm) {
  auto parsed = Parse({"-g", "--kill-timeout=250", "-r", "TERM:INT", "--rewrite", "USR1:0",
                       "-e", "143", "--remap-exit=1:7", "--", "/bin/app"});
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

TEST(CommandLineTest, HelpAndVersionNeedNoCommand) {
  EXPECT_EQ(Parse({"--help"})->action, CommandLine::Action::kHelp);
  EXPECT_EQ(Parse({"-V"})->action, CommandLine::Action::kVersion);
}

TEST(CommandLineTest, BadInputNamesTheProblem) {
  EXPECT_EQ(ErrorOf({"--bogus", "--", "x"}), "unknown flag '--bogus'");
  EXPECT_EQ(ErrorOf({"-z", "--", "x"}), "unknown flag '-z'");
  EXPECT_EQ(ErrorOf({}), "missing command: tend [FLAGS] -- CMD [ARGS...]");
  EXPECT_EQ(ErrorOf({"-g", "--"}), "missing command: tend [FLAGS] -- CMD [ARGS...]");
  EXPECT_EQ(ErrorOf({"sleep", "1"}), "unexpected argument 'sleep': put the command after --");
  EXPECT_EQ(ErrorOf({"--kill-timeout"}), "flag '--kill-timeout' needs a value");
  EXPECT_EQ(ErrorOf({"--pgroup=yes", "--", "x"}), "flag '--pgroup=yes' takes no value");
  for (const char* bad : {"abc", "-5", "1.5", "", "99999999999", "10s", "+3"}) {
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
