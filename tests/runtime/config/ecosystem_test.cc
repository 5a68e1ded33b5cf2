// Every pm2 option of an ecosystem file lands in the config model as pm2 means it. (What
// each field then does is tested through the command-line flags and the integration tests.)
#include "runtime/config/ecosystem.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"
#include "runtime/config/pm2_normalize.h"

namespace tend::config {
namespace {

class EcosystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = ::testing::TempDir() + "ecosystem";  // TempDir() ends with a slash
    mkdir(folder_.c_str(), 0755);
    std::ofstream(folder_ + "/app.js") << "// an app\n";
    std::ofstream(folder_ + "/job.sh") << "exit 0\n";
    parsed_ = *ParseCommandLine({"ecosystem.json"}, 4);
  }

  absl::Status Apply(const std::string& json, const std::string& env = "",
                     std::vector<std::string> only = {}) {
    return ApplyEcosystem(folder_ + "/ecosystem.json", nlohmann::json::parse(json), env, only,
                          /*available_cpus=*/4, parsed_, &warnings_);
  }

  std::string folder_;
  CommandLine parsed_;
  std::vector<std::string> warnings_;
};

TEST_F(EcosystemTest, EveryOption) {
  ASSERT_TRUE(Apply(R"({"apps": [{
    "name": "api", "script": "app.js", "args": "--a b", "node_args": ["--x"],
    "instances": 3, "exec_mode": "cluster_mode", "env": {"A": "1", "N": 2},
    "env_production": {"A": "prod"}, "port": 8080, "instance_var": "ID",
    "increment_var": "PORT", "wait_ready": true, "listen_timeout": "5s", "kill_timeout": 3000,
    "shutdown_with_message": true, "autorestart": false, "stop_exit_codes": [0, 3],
    "min_uptime": "2s", "max_restarts": 4, "restart_delay": 100,
    "exp_backoff_restart_delay": 150, "max_memory_restart": "300M",
    "cron_restart": "0 3 * * *", "watch": ["lib"], "ignore_watch": ["*.log"],
    "watch_delay": 250, "log_type": "json", "time": true, "app_metrics": "per-worker"
  }]})",
                    "production")
                  .ok());
  ASSERT_EQ(parsed_.config.apps_size(), 1);
  const v1::App& app = parsed_.config.apps(0);
  EXPECT_EQ(app.name(), "api");
  EXPECT_EQ(std::vector<std::string>(app.command().begin(), app.command().end()),
            (std::vector<std::string>{"node", "--x", folder_ + "/app.js", "--a", "b"}));
  EXPECT_TRUE(app.node());
  EXPECT_EQ(app.instances(), 3u);
  EXPECT_EQ(app.exec_mode(), v1::App::CLUSTER);
  EXPECT_EQ(app.app_metrics(), v1::App::APP_METRICS_PER_WORKER);
  EXPECT_EQ(app.env().at("A"), "prod");
  EXPECT_EQ(app.env().at("N"), "2");
  EXPECT_EQ(app.env().at("PORT"), "8080");
  EXPECT_EQ(app.instance_var(), "ID");
  EXPECT_EQ(app.increment_var(), "PORT");
  EXPECT_TRUE(app.wait_ready());
  EXPECT_EQ(app.listen_timeout_ms(), 5000u);
  EXPECT_EQ(app.kill_timeout_ms(), 3000u);
  EXPECT_TRUE(app.shutdown_with_message());
  EXPECT_FALSE(app.autorestart());
  EXPECT_EQ(app.stop_exit_codes_size(), 2);
  EXPECT_EQ(app.min_uptime_ms(), 2000u);
  EXPECT_EQ(app.max_restarts(), 4u);
  EXPECT_EQ(app.restart_delay_ms(), 100u);
  EXPECT_EQ(app.exp_backoff_restart_delay_ms(), 150u);
  EXPECT_EQ(app.max_memory_bytes(), 300u << 20);
  EXPECT_EQ(app.cron_restart(), "0 3 * * *");
  EXPECT_EQ(app.watch(0), folder_ + "/lib");
  EXPECT_EQ(app.ignore_watch(0), "*.log");
  EXPECT_EQ(app.watch_delay_ms(), 250u);
  EXPECT_EQ(parsed_.config.logs().format(), v1::LogOptions::JSON);
  EXPECT_TRUE(parsed_.config.logs().time());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(EcosystemTest, Pm2Defaults) {
  ASSERT_TRUE(Apply(R"([{"script": "app.js", "cwd": "."},
                        {"name": "job", "script": "job.sh", "instances": 2},
                        {"name": "ls", "script": "ls", "args": ["-l"]},
                        {"name": "many", "script": "app.js", "instances": "max"},
                        {"name": "fewer", "script": "app.js", "instances": -1,
                         "exec_mode": "fork"}])")
                  .ok());
  const auto& apps = parsed_.config.apps();
  EXPECT_EQ(apps[0].name(), "app");
  EXPECT_EQ(apps[0].exec_mode(), v1::App::FORK);
  EXPECT_EQ(apps[0].cwd(), folder_);
  EXPECT_EQ(apps[0].kill_timeout_ms(), kDefaultKillTimeoutMs);
  EXPECT_EQ(apps[0].max_restarts(), kDefaultMaxRestarts);
  EXPECT_EQ(apps[1].command(0), "bash");
  EXPECT_EQ(apps[1].exec_mode(), v1::App::FORK) << "cluster mode is for node";
  EXPECT_EQ(apps[1].instances(), 2u);
  EXPECT_EQ(apps[2].command(0), FindInPath("ls")) << "a binary on PATH runs as it is";
  EXPECT_FALSE(apps[2].node());
  EXPECT_EQ(apps[3].instances(), 4u);
  EXPECT_EQ(apps[3].exec_mode(), v1::App::CLUSTER);
  EXPECT_EQ(apps[4].instances(), 3u);
  EXPECT_EQ(apps[4].exec_mode(), v1::App::FORK);
}

// pm2's prepareAppConf and validateJSON, point by point: what pm2 starts, tend starts alike.
TEST_F(EcosystemTest, NormalisedAsPm2Does) {
  // A launcher without an extension, not executable, in JavaScript (express's bin/www).
  mkdir((folder_ + "/bin").c_str(), 0755);
  std::ofstream(folder_ + "/bin/www") << "#!/usr/bin/env node\nrequire('../app.js');\n";
  std::ofstream(folder_ + "/tool.py") << "print(1)\n";
  std::ofstream(folder_ + "/worker") << "#!/usr/bin/env python3\nprint(1)\n";
  std::ofstream(folder_ + "/server.prod.js") << "// an app\n";
  ASSERT_TRUE(Apply(R"([{"name": "www", "script": "./bin/www", "instances": 2},
                        {"cmd": "app.js", "name": "cmd"},
                        {"command": "app.js", "name": "command"},
                        {"script": "npm run start"},
                        {"name": "strings", "script": "app.js", "port": "3000",
                         "restart_delay": "1000", "kill_timeout": 5000.0, "instances": "2",
                         "max_restarts": "5", "min_uptime": "2s"},
                        {"name": "camel", "script": "app.js", "maxMemoryRestart": "100M",
                         "killTimeout": 700, "execMode": "fork", "interpreterArgs": "--x"},
                        {"name": "exec", "script": "app.js", "instances": 2,
                         "execute_command": true},
                        {"script": "server.prod.js"},
                        {"name": "py", "script": "tool.py"},
                        {"name": "shebang", "script": "worker"},
                        {"name": "www-fork", "script": "bin/www"}])")
                  .ok());
  const auto& apps = parsed_.config.apps();
  EXPECT_EQ(apps[0].command(0), "node");
  EXPECT_EQ(apps[0].command(1), folder_ + "/bin/www");
  EXPECT_EQ(apps[0].exec_mode(), v1::App::CLUSTER) << "a JavaScript launcher runs under node";
  EXPECT_EQ(apps[1].command(1), folder_ + "/app.js");
  EXPECT_EQ(apps[2].command(1), folder_ + "/app.js");
  // "npm run start" runs as bash -c, named after the whole script (pm2's name for it).
  EXPECT_EQ(apps[3].name(), "npm run start");
  EXPECT_EQ(apps[3].command(0), FindInPath("bash"));
  EXPECT_EQ(apps[3].command(1), "-c");
  EXPECT_EQ(apps[3].command(2), "npm run start");
  EXPECT_FALSE(apps[3].node());
  EXPECT_EQ(apps[4].env().at("PORT"), "3000");
  EXPECT_EQ(apps[4].restart_delay_ms(), 1000u);
  EXPECT_EQ(apps[4].kill_timeout_ms(), 5000u);
  EXPECT_EQ(apps[4].instances(), 2u);
  EXPECT_EQ(apps[4].max_restarts(), 5u);
  EXPECT_EQ(apps[4].min_uptime_ms(), 2000u);
  EXPECT_EQ(apps[5].max_memory_bytes(), 100u << 20);
  EXPECT_EQ(apps[5].kill_timeout_ms(), 700u);
  EXPECT_EQ(apps[5].exec_mode(), v1::App::FORK);
  EXPECT_EQ(apps[5].command(1), "--x");
  EXPECT_EQ(apps[6].exec_mode(), v1::App::FORK) << "execute_command is fork mode";
  EXPECT_EQ(apps[7].name(), "server.prod") << "without its last extension";
  EXPECT_EQ(apps[8].command(0), FindInPath("python").empty() ? "python3" : "python");
  // A #! line naming another interpreter is followed (pm2 would use node).
  EXPECT_EQ(apps[9].command(0), "python3");
  EXPECT_EQ(apps[9].command(1), folder_ + "/worker");
  // Fork mode too: the non-executable launcher runs under node, not as a program.
  EXPECT_EQ(apps[10].command(0), "node");
  EXPECT_EQ(apps[10].exec_mode(), v1::App::FORK);
  EXPECT_TRUE(warnings_.empty()) << warnings_[0];
}

TEST_F(EcosystemTest, AYamlIntegerIsADuration) {
  nlohmann::json content = {{"apps", {{{"script", "app.js"}, {"restart_delay", int64_t{1000}}}}}};
  ASSERT_TRUE(ApplyEcosystem(folder_ + "/e.yml", content, "", {}, 4, parsed_, &warnings_).ok());
  EXPECT_EQ(parsed_.config.apps(0).restart_delay_ms(), 1000u);
}

TEST(InterpreterTest, BinariesRunAsTheyAre) {
  EXPECT_EQ(InterpreterFor(FindInPath("ls")), std::vector<std::string>{"none"});
  std::string script = ::testing::TempDir() + "/plain";
  std::ofstream(script) << "console.log('no #! line, no extension')\n";
  EXPECT_EQ(InterpreterFor(script), std::vector<std::string>{"node"});
  std::ofstream(script) << "#!/bin/sh -e\necho hi\n";
  EXPECT_EQ(InterpreterFor(script), (std::vector<std::string>{"/bin/sh", "-e"}));
  std::ofstream(script) << "#!/usr/bin/env -S node --no-warnings\n1\n";
  EXPECT_EQ(InterpreterFor(script), std::vector<std::string>{"node"});
}

TEST_F(EcosystemTest, EnvAndOnly) {
  ASSERT_TRUE(Apply(R"({"apps": [{"name": "a", "script": "app.js", "env": {"E": "dev"},
                                  "env_staging": {"E": "staging"}},
                                 {"name": "b", "script": "app.js"}]})",
                    "", {"a"})
                  .ok());
  ASSERT_EQ(parsed_.config.apps_size(), 1);
  EXPECT_EQ(parsed_.config.apps(0).env().at("E"), "dev") << "no --env: env alone";
}

TEST_F(EcosystemTest, IgnoredOptionsWarnOnce) {
  ASSERT_TRUE(Apply(R"({"apps": [{"name": "a", "script": "app.js", "out_file": "x",
                                  "pmx": true, "frobnicate": 1, "watch": false}],
                       "deploy": {}})")
                  .ok());
  std::vector<std::string> expected = {
      folder_ + "/ecosystem.json: deploy ignored: no pm2 deploy in a container",
      folder_ + "/ecosystem.json: app 'a': frobnicate ignored: not an option tend knows",
      folder_ +
          "/ecosystem.json: app 'a': out_file ignored: worker output goes to tend's stdout "
          "and stderr, the container's log",
      folder_ + "/ecosystem.json: app 'a': pmx ignored: no pm2.io"};
  EXPECT_EQ(warnings_, expected);
}

// What tend reads is never said to be ignored; an option spelled as its flag is, naming the key.
TEST_F(EcosystemTest, OnlyKeysNoReaderAskedForAreIgnored) {
  ASSERT_TRUE(Apply(R"({"apps": [{"name": "a", "script": "app.js", "args": "x", "cwd": ".",
                                  "interpreter": "node", "node_args": "--no-warnings",
                                  "instances": 1, "exec_mode": "fork", "env": {"A": "1"},
                                  "env_staging": {"B": "2"}, "port": 8080, "kill_timeout": 100,
                                  "log_type": "raw", "time": false, "watch": false,
                                  "ignore_watch": [], "min_uptime": 100, "wait_ready": true,
                                  "max-memory-restart": "200M"}]})")
                  .ok());
  std::vector<std::string> expected = {
      folder_ +
      "/ecosystem.json: app 'a': max-memory-restart ignored: the key is max_memory_restart"};
  EXPECT_EQ(warnings_, expected);
}

// Every option the command line shares with ecosystem files goes through one parser: the same
// forms are taken, and the same problem is named in the same words.
TEST_F(EcosystemTest, FlagsAndFileKeysShareOneParserEach) {
  const std::string file = folder_ + "/ecosystem.json: app 'a': ";
  struct Case {
    std::vector<std::string> flag;
    const char* key_value;
    std::string problem;  // after the flag's or key's name and the value as written
  } cases[] = {
      {{"--min-uptime", "25h"},
       R"("min_uptime": "25h")",
       " is not a duration (ms, or 500ms, 10s, 2m, 1h; at most 24h)"},
      {{"--reload-surge", "0"}, R"("reload_surge": 0)", " is not a whole number from 1 to 4096"},
      {{"--max-memory-restart", "lots"},
       R"("max_memory_restart": "lots")",
       " is not a size such as 200M, 1G or 512K"},
      {{"--balance", "random"}, R"("balance": "random")", " is not rr or shared"},
      {{"--app-metrics", "all"},
       R"("app_metrics": "all")",
       " is not aggregated, per-worker or off"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.flag;
    args.push_back("app.js");
    absl::StatusOr<CommandLine> flagged = ParseCommandLine(args);
    ASSERT_FALSE(flagged.ok());
    EXPECT_EQ(flagged.status().message(),
              absl::StrCat(c.flag[0], ": '", c.flag[1], "'", c.problem));
    parsed_.config.clear_apps();
    absl::Status filed =
        Apply(absl::StrCat(R"([{"name": "a", "script": "app.js", )", c.key_value, "}]"));
    std::string key(c.key_value + 1, std::string(c.key_value).find('"', 1) - 1);
    std::string shown = std::string(c.key_value).substr(key.size() + 4);
    EXPECT_EQ(filed.message(), absl::StrCat(file, key, ": ", shown, c.problem));
  }
  // And the forms each takes: a duration with a unit, a number, a size.
  ASSERT_TRUE(Apply(R"([{"name": "a", "script": "app.js", "min_uptime": "10s", "reload_surge": "2",
                        "max_memory_restart": "1G", "balance": "shared", "wait_ready": true}])")
                  .ok());
  const v1::App& app = parsed_.config.apps(0);
  EXPECT_EQ(app.min_uptime_ms(),
            ParseCommandLine({"--min-uptime", "10s", "x.js"})->worker.min_uptime_ms());
  EXPECT_EQ(app.reload_surge(), 2u);
  EXPECT_EQ(app.max_memory_bytes(), 1u << 30);
  EXPECT_EQ(app.balance(), v1::App::SHARED);
  EXPECT_TRUE(app.wait_ready());
}

TEST_F(EcosystemTest, BadOptionsNameFileAppAndField) {
  const std::string file = folder_ + "/ecosystem.json: ";
  struct Case {
    const char* json;
    std::string message;
  } cases[] = {
      {R"({"apps": "nope"})", file + "expected {apps: [...]}, a list of apps, or one app"},
      {R"([{"name": "a"}])", file + "app 'a': script: missing: the file or program to run"},
      {R"([{"name": 3, "script": "app.js"}])", file + "app #1: name: expected a string"},
      {R"([{"name": "a", "script": "app.js", "instances": "lots"}])",
       file + "app 'a': instances: \"lots\" is not a number from 1 to 4096, \"max\", 0 or -1"},
      {R"([{"name": "a", "script": "app.js", "exec_mode": "swarm"}])",
       file + "app 'a': exec_mode: 'swarm' is not fork or cluster"},
      {R"([{"name": "a", "script": "job.sh", "exec_mode": "cluster"}])",
       file + "app 'a': exec_mode: cluster mode runs Node workers, and the interpreter is bash"},
      {R"([{"name": "a", "script": "app.js", "min_uptime": "soon"}])",
       file + "app 'a': min_uptime: \"soon\" is not a duration (ms, or 500ms, 10s, 2m, 1h; at most "
              "24h)"},
      {R"([{"name": "a", "script": "app.js", "app_metrics": true}])",
       file + "app 'a': app_metrics: true is not aggregated, per-worker or off"},
      {R"([{"name": "a", "script": "app.js", "autorestart": "yes"}])",
       file + "app 'a': autorestart: \"yes\" is not true or false"},
      {R"([{"name": "a", "script": "app.js", "stop_exit_codes": [300]}])",
       file + "app 'a': stop_exit_codes: [300] is not a list of exit codes from 0 to 255"},
      {R"([{"name": "a", "script": "app.js", "port": "http"}])",
       file + "app 'a': port: \"http\" is not a port number"},
      {R"([{"name": "a", "script": "app.js", "env": ["A=1"]}])",
       file + "app 'a': env: expected an object of NAME: value"},
  };
  for (const Case& c : cases) {
    parsed_.config.clear_apps();
    absl::Status status = Apply(c.json);
    EXPECT_EQ(status.message(), c.message) << c.json;
  }
  parsed_.config.clear_apps();
  EXPECT_EQ(Apply(R"([{"name": "a", "script": "app.js"}])", "", {"b"}).message(),
            "--only: no app named 'b' in " + folder_ + "/ecosystem.json");
}

}  // namespace
}  // namespace tend::config
