#include "runtime/config/ecosystem_file.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/process/spawn.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

namespace tend::config {
namespace {

// Imports the file (CommonJS or ESM alike) and prints its export as JSON: `module.exports`,
// an ESM default export, or the ESM namespace's named exports.
constexpr char kPrintExports[] = R"js(
import(require('url').pathToFileURL(process.argv[1]).href).then(
  (m) => {
    const config = m.default !== undefined ? m.default : m;
    process.stdout.write(JSON.stringify(config === undefined ? null : config));
  },
  (error) => {
    process.stderr.write(String((error && error.message) || error).split('\n')[0]);
    process.exit(1);
  });
)js";

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::StatusOr<nlohmann::json> ParseJson(const std::string& path, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
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
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", line, ":", column, ": ",
        detail == std::string::npos ? what : what.substr(detail)));
  }
}

nlohmann::json FromYaml(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = FromYaml(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(FromYaml(item));
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
    return FromYaml(YAML::Load(text));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", error.mark.line + 1, ":",
                                                   error.mark.column + 1, ": ", error.msg));
  }
}

absl::StatusOr<nlohmann::json> EvaluateJavaScript(const std::string& path, int timeout_ms) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  process::SpawnOptions options;
  options.argv = {"node", "-e", kPrintExports, path};
  for (char** var = environ; *var; ++var) options.env.emplace_back(*var);
  options.stdout_fd = out[1];
  options.stderr_fd = err[1];
  absl::StatusOr<pid_t> pid = process::Spawn(options);
  close(out[1]);
  close(err[1]);
  if (!pid.ok()) {
    close(out[0]);
    close(err[0]);
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": a JavaScript ecosystem file needs node: ", pid.status().message()));
  }
  std::string printed, errors;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (pollfd& fd : fds) {
      if (fd.fd < 0 || !(fd.revents & (POLLIN | POLLHUP))) continue;
      char buffer[65536];
      ssize_t n = read(fd.fd, buffer, sizeof buffer);
      if (n <= 0) {
        fd.fd = -1;
        --open_fds;
      } else {
        (fd.fd == out[0] ? printed : errors).append(buffer, n);
      }
    }
  }
  close(out[0]);
  close(err[0]);
  if (timed_out) kill(-*pid, SIGKILL);
  int status = 0;
  waitpid(*pid, &status, 0);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(path, ": did not finish evaluating within ", timeout_ms / 1000, " s"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", errors.empty() ? "node failed" : errors));
  }
  return ParseJson(path, printed);
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
  if (absl::EndsWith(path, ".json")) return ParseJson(path, *text);
  return ParseYaml(path, *text);
}

}  // namespace tend::config
