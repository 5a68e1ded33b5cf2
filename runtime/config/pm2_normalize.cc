#include "runtime/config/pm2_normalize.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/config/values.h"

namespace tend::config {
namespace {

using Json = nlohmann::json;

// pm2's own aliases (schema.json's "alias" fields and verifyConfs), canonical key first.
const std::vector<std::pair<const char*, std::vector<const char*>>>& Aliases() {
  static const auto* aliases = new std::vector<std::pair<const char*, std::vector<const char*>>>{
      {"script", {"cmd", "command", "exec"}},
      {"interpreter", {"exec_interpreter", "execInterpreter"}},
      {"node_args", {"interpreter_args", "interpreterArgs", "nodeArgs"}},
      {"cron_restart", {"cron"}},
      {"uid", {"user"}},
  };
  return *aliases;
}

// pm2 also accepts every key in camelCase: max_memory_restart as maxMemoryRestart.
std::string CamelCase(const std::string& key) {
  std::string camel;
  bool upper = false;
  for (char c : key) {
    if (c == '_') {
      upper = true;
    } else {
      camel += upper ? absl::ascii_toupper(c) : c;
      upper = false;
    }
  }
  return camel;
}

const char* const kCamelCased[] = {"exec_mode",
                                   "node_args",
                                   "max_memory_restart",
                                   "restart_delay",
                                   "exp_backoff_restart_delay",
                                   "wait_ready",
                                   "kill_timeout",
                                   "listen_timeout",
                                   "cron_restart",
                                   "min_uptime",
                                   "max_restarts",
                                   "ignore_watch",
                                   "watch_delay",
                                   "instance_var",
                                   "increment_var",
                                   "stop_exit_codes",
                                   "shutdown_with_message",
                                   "execute_command",
                                   "log_type",
                                   "error_file",
                                   "out_file",
                                   "log_file",
                                   "pid_file",
                                   "merge_logs",
                                   "log_date_format"};

}  // namespace

Json NormalizeLikePm2(const Json& app) {
  if (!app.is_object()) return app;
  Json out = app;
  for (const auto& [canonical, aliases] : Aliases()) {
    for (const char* alias : aliases) {
      if (out.contains(alias)) {
        if (!out.contains(canonical) || out[canonical].is_null()) out[canonical] = out[alias];
        out.erase(alias);
      }
    }
  }
  for (const char* key : kCamelCased) {
    std::string camel = CamelCase(key);
    if (camel == key || !out.contains(camel)) continue;
    if (!out.contains(key)) out[key] = out[camel];
    out.erase(camel);
  }
  // Named before a script with spaces becomes bash -c: "npm start" stays the name.
  if (!out.contains("name") && out.contains("script") && out["script"].is_string()) {
    out["name"] = NameFromScript(out["script"].get<std::string>());
  }
  if (out.contains("execute_command")) {
    if (out["execute_command"] == true) out["exec_mode"] = "fork";
    out.erase("execute_command");
  }
  if (out.contains("script") && out["script"].is_string()) {
    std::string script = out["script"].get<std::string>();
    if (script.find(' ') != std::string::npos) {
      std::string shell = !FindInPath("bash").empty() ? "bash" : "sh";
      out["script"] = shell;
      out["args"] = Json::array({"-c", script});
    }
  }
  return out;
}

std::string FindInPath(const std::string& program) {
  if (program.empty() || program.find('/') != std::string::npos) return "";
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::vector<std::string> InterpreterFor(const std::string& path) {
  static const std::map<std::string, std::string> kByExtension = {
      {".sh", "bash"}, {".py", "python"},     {".rb", "ruby"}, {".php", "php"}, {".pl", "perl"},
      {".js", "node"}, {".coffee", "coffee"}, {".ls", "lsc"},  {".ts", "bun"},  {".tsx", "bun"}};
  std::string base = path.substr(path.rfind('/') + 1);
  size_t dot = base.rfind('.');
  if (dot != std::string::npos && dot > 0) {
    auto known = kByExtension.find(base.substr(dot));
    if (known != kByExtension.end()) {
      if (known->second == "python" && FindInPath("python").empty() &&
          !FindInPath("python3").empty()) {
        return {"python3"};
      }
      return {known->second};
    }
  }
  // pm2's isBinaryFile, in short: a NUL in the first bytes, or an executable's magic.
  std::ifstream file(path, std::ios::binary);
  char head[512];
  file.read(head, sizeof head);
  std::string start(head, static_cast<size_t>(file.gcount()));
  if (start.find('\0') != std::string::npos || absl::StartsWith(start,
                                                                "\x7f"
                                                                "ELF")) {
    return {"none"};
  }
  absl::string_view line = start;
  if (absl::ConsumePrefix(&line, "#!")) {
    line = line.substr(0, line.find('\n'));
    std::vector<std::string> words =
        absl::StrSplit(absl::StripAsciiWhitespace(line), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    // `#!/usr/bin/env node`, `#!/usr/bin/env -S node --flag`: the program after env's flags.
    size_t program = 0;
    if (!words.empty() && (words[0] == "/usr/bin/env" || words[0] == "/bin/env")) {
      program = 1;
      while (program < words.size() && absl::StartsWith(words[program], "-")) ++program;
    }
    if (program < words.size()) {
      std::string name = words[program].substr(words[program].rfind('/') + 1);
      if (name != "node" && name != "nodejs") {
        return {words.begin() + program, words.end()};
      }
    }
  }
  return {"node"};
}

}  // namespace tend::config
