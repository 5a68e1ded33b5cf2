#include "runtime/config/ecosystem_file.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/process/spawn.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

namespace tend::config {
namespace {

// Bounds on what a config file may make tend hold: a file is small, and neither nesting
// nor YAML's aliases (each may stand for a whole tree: "a billion laughs") may expand it
// without limit.
constexpr size_t kMaxFileBytes = 4 << 20;
constexpr size_t kMaxNodes = 100000;
constexpr int kMaxDepth = 64;

// Imports the file (CommonJS or ESM alike) and writes its export as JSON on fd 3, a channel
// of its own, so that whatever the file prints (console.log) goes to tend's stderr instead
// of into the result: `module.exports`, an ESM default export, or the ESM namespace's named
// exports; or the error that stopped it.
constexpr char kPrintExports[] = R"js(
const fs = require('fs');
const answer = (result) => {
  const bytes = Buffer.from(JSON.stringify(result));
  for (let at = 0; at < bytes.length;) at += fs.writeSync(3, bytes, at);
  process.exit(0);
};
import(require('url').pathToFileURL(process.argv[1]).href).then(
  (m) => {
    const config = m.default !== undefined ? m.default : m;
    answer({ config: config === undefined ? null : config });
  },
  (error) => answer({ error: String((error && error.message) || error).split('\n')[0] }));
)js";

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::string content(kMaxFileBytes + 1, '\0');
  file.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(file.gcount()));
  if (content.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxFileBytes >> 20, " MiB: not an ecosystem file"));
  }
  return content;
}

absl::Status TooDeep(const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": nested deeper than ", kMaxDepth, " levels"));
}

absl::StatusOr<nlohmann::json> ParseJson(const std::string& path, const std::string& text) {
  bool too_deep = false;
  auto limit_depth = [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) too_deep = true;
    return !too_deep;  // false discards the value: nothing deeper is kept
  };
  try {
    nlohmann::json parsed = nlohmann::json::parse(text, limit_depth);
    if (too_deep) return TooDeep(path);
    return parsed;
  } catch (const nlohmann::json::parse_error& error) {
    // The byte offset, as line and column.
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < error.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = error.what();
    size_t detail = what.find("syntax error");
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", line, ":", column, ": ",
                     detail == std::string::npos ? what : what.substr(detail)));
  } catch (const nlohmann::json::exception& error) {  // a number out of range: 1e400
    std::string what = error.what();
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what.substr(what.find(']') + 2)));
  }
}

// Thrown when a YAML document expands past the bounds.
struct YamlTooLarge {
  std::string why;
};

// YAML as JSON, counting every node it writes: an alias is expanded (a copy of what it
// names) each time it is used, so `nodes` bounds the expansion, not the text.
nlohmann::json FromYaml(const YAML::Node& node, size_t& nodes, int depth) {
  if (++nodes > kMaxNodes) {
    throw YamlTooLarge{
        absl::StrCat("more than ", kMaxNodes, " values once its aliases are expanded")};
  }
  if (depth > kMaxDepth)
    throw YamlTooLarge{absl::StrCat("nested deeper than ", kMaxDepth, " levels")};
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) {
        object[entry.first.as<std::string>()] = FromYaml(entry.second, nodes, depth + 1);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(FromYaml(item, nodes, depth + 1));
      return array;
    }
    case YAML::NodeType::Scalar: {
      // YAML 1.2's core schema, as pm2's js-yaml reads it: plain true/false, null and
      // numbers are those; anything else, and anything quoted, is a string ("y" too).
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      if (text == "null" || text == "Null" || text == "NULL" || text == "~") return nullptr;
      int64_t whole;
      if (absl::SimpleAtoi(text, &whole)) return whole;
      double number;
      if (!text.empty() && (absl::ascii_isdigit(text[0]) || text[0] == '-' || text[0] == '.') &&
          absl::SimpleAtod(text, &number)) {
        return number;
      }
      return text;
    }
    case YAML::NodeType::Null:
      return nullptr;
    default:
      return nullptr;
  }
}

absl::StatusOr<nlohmann::json> ParseYaml(const std::string& path, const std::string& text) {
  try {
    size_t nodes = 0;
    return FromYaml(YAML::Load(text), nodes, 0);
  } catch (const YamlTooLarge& error) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", error.why));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", error.mark.line + 1, ":", error.mark.column + 1, ": ", error.msg));
  }
}

absl::StatusOr<nlohmann::json> EvaluateJavaScript(const std::string& path, int timeout_ms) {
  Pipe result;
  if (int error = MakePipe(&result); error != 0) {
    return errors::FromErrno(absl::StrCat(path, ": pipe"), error);
  }
  process::SpawnOptions options;
  options.argv = {"node", "-e", kPrintExports, path};
  for (char** var = environ; *var; ++var) options.env.emplace_back(*var);
  options.stdout_fd = STDERR_FILENO;  // what the file prints is no part of the result
  options.pass_fds = {result.write_end.get()};
  absl::StatusOr<pid_t> pid = process::Spawn(options);
  result.write_end.reset();
  if (!pid.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": a JavaScript ecosystem file needs node: ", pid.status().message()));
  }
  std::string printed;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  enum { kReading, kDone, kTimedOut, kTooLarge } state = kReading;
  while (state == kReading) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      state = kTimedOut;
      break;
    }
    pollfd readable{result.read_end.get(), POLLIN, 0};
    int ready = poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[65536];
    ssize_t n = read(result.read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      state = kDone;
    } else if (printed.size() + n > kMaxFileBytes) {
      state = kTooLarge;
    } else {
      printed.append(buffer, n);
    }
  }
  // The file's own timers or servers may keep node running after it answered.
  kill(-*pid, SIGKILL);
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (state == kTimedOut) {
    return absl::DeadlineExceededError(absl::StrCat(path, ": did not finish evaluating within ",
                                                    timeout_ms % 1000 == 0
                                                        ? absl::StrCat(timeout_ms / 1000, " s")
                                                        : absl::StrCat(timeout_ms, " ms")));
  }
  if (state == kTooLarge) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": exports more than ", kMaxFileBytes >> 20, " MiB of JSON"));
  }
  if (printed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": node ended before it exported anything"));
  }
  absl::StatusOr<nlohmann::json> answer = ParseJson(path, printed);
  if (!answer.ok()) return answer.status();
  if (answer->contains("error")) {
    const nlohmann::json& error = (*answer)["error"];
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ",
        error.is_string() ? error.get<std::string>()
                          : error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  }
  return (*answer)["config"];
}

}  // namespace

absl::StatusOr<nlohmann::json> ReadEcosystemFile(const std::string& path, int timeout_ms) {
  if (absl::EndsWith(path, ".js") || absl::EndsWith(path, ".cjs") || absl::EndsWith(path, ".mjs")) {
    if (access(path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
    }
    return EvaluateJavaScript(path, timeout_ms);
  }
  absl::StatusOr<std::string> text = ReadWhole(path);
  if (!text.ok()) return text.status();
  return ParseEcosystemText(path, *text);
}

absl::StatusOr<nlohmann::json> ParseEcosystemText(const std::string& path,
                                                  const std::string& text) {
  if (absl::EndsWith(path, ".json")) return ParseJson(path, text);
  return ParseYaml(path, text);
}

}  // namespace tend::config
