#include "runtime/config/ecosystem.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/config/app_options.h"
#include "runtime/config/ecosystem_file.h"
#include "runtime/config/pm2_normalize.h"
#include "runtime/config/values.h"

namespace tend::config {
namespace {

// A value as JSON text, for messages and env values. YAML strings may hold bytes that are
// not UTF-8, which nlohmann's dump() would throw on: they are replaced instead.
std::string Show(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

using Json = nlohmann::json;

// An option's value as text for its parser (app_options.h): a string as it is, a list's
// items joined with commas, anything else as JSON writes it (3, true).
std::string OptionText(const Json& value) {
  auto text = [](const Json& item) {
    return item.is_string() ? item.get<std::string>() : Show(item);
  };
  if (!value.is_array()) return text(value);
  return absl::StrJoin(value, ",",
                       [&text](std::string* out, const Json& item) { out->append(text(item)); });
}

// Options pm2 knows that mean nothing in a container, and why.
const std::map<std::string, std::string>& Ignored() {
  static const std::map<std::string, std::string> ignored = {
      {"error_file", "worker output goes to tend's stdout and stderr, the container's log"},
      {"out_file", "worker output goes to tend's stdout and stderr, the container's log"},
      {"log_file", "worker output goes to tend's stdout and stderr, the container's log"},
      {"log", "worker output goes to tend's stdout and stderr, the container's log"},
      {"merge_logs", "lines are always relayed whole, from every instance"},
      {"combine_logs", "lines are always relayed whole, from every instance"},
      {"log_date_format", "--time writes ISO-8601 UTC timestamps"},
      {"pid_file", "tend is the container's init; no pid files"},
      {"pmx", "no pm2.io"},
      {"automation", "no pm2.io"},
      {"vizion", "no version-control metadata"},
      {"autodump", "no pm2 dump file"},
      {"treekill", "tend always ends a worker's whole process group"},
      {"source_map_support", "use NODE_OPTIONS=--enable-source-maps"},
      {"disable_source_map_support", "tend adds no source-map support"},
      {"namespace", "tend runs one container's apps"},
      {"filter_env", "workers get tend's environment and the app's env"},
      {"append_env_to_name", "names are what the file says"},
      {"force", "tend starts each app once"},
      {"post_update", "no pm2 deploy"},
  };
  return ignored;
}

// A whole number >= 0 as pm2's validator takes one: a JSON or YAML number (integral), or a
// string of digits ("3000"), which pm2 parses too.
std::optional<uint64_t> WholeNumber(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    int64_t n = value.get<int64_t>();
    return n >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(n)) : std::nullopt;
  }
  if (value.is_number_float()) {
    double n = value.get<double>();
    if (n >= 0 && n < 9e15 && n == static_cast<double>(static_cast<uint64_t>(n))) {
      return static_cast<uint64_t>(n);
    }
    return std::nullopt;
  }
  uint64_t n;
  if (value.is_string() && !value.get<std::string>().empty() &&
      absl::ascii_isdigit(value.get<std::string>()[0]) &&
      absl::SimpleAtoi(value.get<std::string>(), &n)) {
    return n;
  }
  return std::nullopt;
}

// One app's options, read and checked; errors name the file, the app and the field.
class AppReader {
 public:
  AppReader(const std::string& path, const Json& app, std::string label)
      : path_(path), app_(app), label_(std::move(label)) {}

  absl::Status Error(const std::string& field, const std::string& problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": app ", label_, ": ", field, ": ", problem));
  }

  // The field as written, null included; every field looked for is remembered (Asked).
  const Json* Find(const std::string& field) const {
    asked_.insert(field);
    auto it = app_.find(field);
    return it == app_.end() ? nullptr : &*it;
  }
  const Json* Get(const std::string& field) const {
    const Json* value = Find(field);
    return value && !value->is_null() ? value : nullptr;
  }
  bool Asked(const std::string& field) const { return asked_.count(field) != 0; }

  absl::Status String(const std::string& field, const std::function<void(std::string)>& set) const {
    const Json* value = Get(field);
    if (!value) return absl::OkStatus();
    if (!value->is_string()) return Error(field, "expected a string");
    set(value->get<std::string>());
    return absl::OkStatus();
  }

  absl::Status Millis(const std::string& field, const std::function<void(uint32_t)>& set) const {
    const Json* value = Get(field);
    if (!value) return absl::OkStatus();
    std::optional<uint32_t> ms;
    if (std::optional<uint64_t> number = WholeNumber(*value)) {
      ms = ParseMillis(absl::StrCat(*number));
    } else if (value->is_string()) {
      ms = ParseMillis(value->get<std::string>());
    }
    if (!ms) return Error(field, NotADuration(Show(*value)));
    set(*ms);
    return absl::OkStatus();
  }

  // A string of words, or a list of strings.
  absl::Status Words(const std::string& field, std::vector<std::string>* words) const {
    const Json* value = Get(field);
    if (!value) return absl::OkStatus();
    if (value->is_string()) {
      for (absl::string_view word :
           absl::StrSplit(value->get<std::string>(), ' ', absl::SkipEmpty())) {
        words->emplace_back(word);
      }
      return absl::OkStatus();
    }
    if (!value->is_array()) return Error(field, "expected a string or a list of strings");
    for (const Json& word : *value) {
      if (!word.is_string() && !word.is_number())
        return Error(field, "expected strings in the list");
      words->push_back(word.is_string() ? word.get<std::string>() : Show(word));
    }
    return absl::OkStatus();
  }

  absl::Status Env(const std::string& field, v1::App& app) const {
    const Json* value = Get(field);
    if (!value) return absl::OkStatus();
    if (!value->is_object()) return Error(field, "expected an object of NAME: value");
    for (const auto& [name, setting] : value->items()) {
      if (setting.is_null()) continue;
      std::string text = setting.is_string() ? setting.get<std::string>() : Show(setting);
      // execve() cannot carry these: the worker would see another variable or a cut value.
      if (name.empty()) return Error(field, "a variable with an empty name");
      if (name.find_first_of(std::string("=\0", 2)) != std::string::npos) {
        return Error(field, absl::StrCat("variable '", absl::CEscape(name),
                                         "': a name cannot contain '=' or a NUL byte"));
      }
      if (text.find('\0') != std::string::npos) {
        return Error(field, absl::StrCat("variable ", name, ": the value contains a NUL byte"));
      }
      (*app.mutable_env())[name] = std::move(text);
    }
    return absl::OkStatus();
  }

 private:
  const std::string& path_;
  const Json& app_;
  std::string label_;
  mutable std::set<std::string> asked_;
};

// The kernel's ids run from 0 to 4294967294: 4294967295 is (uid_t)-1, "leave unchanged".
constexpr uint64_t kMaxId = 4294967294;

// An id from /etc/passwd or /etc/group, or a number in a config file: digits only, in range.
std::optional<uint32_t> IdNumber(absl::string_view digits) {
  uint64_t id;
  if (digits.empty() || digits.size() > 10 ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &id) || id > kMaxId) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(id);
}

struct Account {
  uint32_t id;
  std::optional<uint32_t> primary_gid;  // a user's group in /etc/passwd
};

// A user or group by name or number, from /etc/passwd or /etc/group (read here: a static
// binary cannot use the system's name services). A number need not be listed.
absl::StatusOr<Account> LookUp(const Json& value, const char* file, absl::string_view what) {
  std::string wanted;
  if (value.is_number_unsigned()) {
    wanted = std::to_string(value.get<uint64_t>());
  } else if (value.is_string()) {
    wanted = value.get<std::string>();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(Show(value), " is no ", what, ": expected a name or a number"));
  }
  std::optional<uint32_t> number = IdNumber(wanted);
  if (!number && !wanted.empty() && absl::ascii_isdigit(wanted[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(Show(value), " is no ", what, " id: expected 0 to ", kMaxId));
  }
  std::ifstream entries(file);
  std::string line;
  while (std::getline(entries, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() < 3) continue;
    std::optional<uint32_t> id = IdNumber(fields[2]);
    if (!id || (number ? *id != *number : fields[0] != wanted)) continue;
    Account found{*id, std::nullopt};
    if (fields.size() > 3) found.primary_gid = IdNumber(fields[3]);
    return found;
  }
  if (number) return Account{*number, std::nullopt};
  return absl::InvalidArgumentError(absl::StrCat(Show(value), " is no ", what, " in ", file));
}

// Workers run as the user and group given; a user's group is its own from /etc/passwd, and
// never tend's (root's) by default.
absl::Status ReadRunAs(const AppReader& read, v1::App& app) {
  if (geteuid() != 0) return read.Error("uid", "switching users needs tend to run as root");
  std::optional<uint32_t> gid;
  uint32_t uid = getuid();
  if (const Json* user = read.Get("uid")) {
    absl::StatusOr<Account> found = LookUp(*user, "/etc/passwd", "user");
    if (!found.ok()) return read.Error("uid", std::string(found.status().message()));
    uid = found->id;
    gid = found->primary_gid;
  }
  if (const Json* group = read.Get("gid")) {
    absl::StatusOr<Account> found = LookUp(*group, "/etc/group", "group");
    if (!found.ok()) return read.Error("gid", std::string(found.status().message()));
    gid = found->id;
  } else if (!gid) {
    if (read.Get("uid")) {
      return read.Error("uid", absl::StrCat("user ", uid,
                                            " is not in /etc/passwd, so it has no group: give "
                                            "gid too"));
    }
    gid = getgid();  // only a group asked for: the user stays tend's
  }
  app.mutable_run_as()->set_uid(uid);
  app.mutable_run_as()->set_gid(*gid);
  return absl::OkStatus();
}

std::string Folder(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string CurrentDirectory() {
  char buffer[4096];
  return getcwd(buffer, sizeof buffer) ? buffer : ".";
}

// `path` relative to `base`, with "." segments and repeated slashes taken out (lexically:
// symbolic links are left alone, as pm2's path.resolve does).
std::string Resolve(const std::string& base, const std::string& path) {
  std::string joined = path.empty() || path[0] == '/' ? path : absl::StrCat(base, "/", path);
  std::vector<absl::string_view> kept;
  for (absl::string_view segment : absl::StrSplit(joined, '/')) {
    if (segment == "." || segment.empty()) continue;
    kept.push_back(segment);
  }
  std::string normal = absl::StrJoin(kept, "/");
  if (!joined.empty() && joined[0] == '/') return "/" + normal;
  return normal.empty() ? "." : absl::StrCat("./", normal);
}

// The command to run: script, interpreter and their arguments, with paths resolved as pm2
// resolves them. `base` becomes the folder the app's relative paths start from, and
// `interpreter` what runs the script ("none": the script itself).
absl::Status ReadCommand(const std::string& path, AppReader& read, v1::App& app, std::string& base,
                         std::string& interpreter) {
  std::string script, cwd;
  std::vector<std::string> args, interpreter_args;
  absl::Status status = read.String("script", [&](std::string v) { script = std::move(v); });
  if (status.ok()) status = read.String("name", [&](std::string v) { app.set_name(std::move(v)); });
  if (status.ok()) status = read.String("cwd", [&](std::string v) { cwd = std::move(v); });
  if (status.ok())
    status = read.String("interpreter", [&](std::string v) { interpreter = std::move(v); });
  if (status.ok()) status = read.Words("args", &args);
  if (status.ok()) status = read.Words("node_args", &interpreter_args);
  if (!status.ok()) return status;
  if (script.empty()) return read.Error("script", "missing: the file or program to run");

  // Paths are relative to the ecosystem file's folder, as when pm2 is started beside it,
  // and made absolute, as pm2's path.resolve does: a worker runs in its own cwd.
  base = Folder(Resolve(CurrentDirectory(), path));
  if (!cwd.empty()) {
    cwd = Resolve(base, cwd);
    app.set_cwd(cwd);
    base = cwd;
  }
  // A file beside the config (or in cwd), else a program on PATH (npm, ts-node), as pm2.
  std::string program = Resolve(base, script);
  if (access(program.c_str(), F_OK) != 0) {
    std::string found = FindInPath(script);
    if (found.empty()) return read.Error("script", absl::StrCat(program, " does not exist"));
    program = found;
  }
  std::vector<std::string> runner =
      interpreter.empty() ? InterpreterFor(program) : std::vector<std::string>{interpreter};
  if (runner[0] != "none" && runner[0].find('/') == std::string::npos &&
      FindInPath(runner[0]).empty()) {
    return read.Error(interpreter.empty() ? "script" : "interpreter",
                      absl::StrCat(program, " runs with ", runner[0], ", which is not on PATH"));
  }
  app.clear_command();
  if (runner[0] != "none") {
    for (const std::string& word : runner) app.add_command(word);
    for (const std::string& arg : interpreter_args) app.add_command(arg);
  }
  app.add_command(program);
  for (const std::string& arg : args) app.add_command(arg);
  std::string runner_name = runner[0].substr(runner[0].rfind('/') + 1);
  app.set_node(runner_name == "node" || runner_name == "nodejs");
  interpreter = runner[0];
  if (app.name().empty()) app.set_name(NameFromScript(script));
  return absl::OkStatus();
}

// Instances and mode: pm2 runs several instances in cluster mode unless told otherwise.
absl::Status ReadInstances(AppReader& read, const CpuCount& available_cpus,
                           const CommandLine& parsed, const std::string& interpreter,
                           v1::App& app) {
  const Json* found = read.Find("instances");
  bool has_instances = found != nullptr;
  if (has_instances) {
    const Json& instances = *found;
    int count = 0;
    if (instances.is_string() && instances.get<std::string>() == "max") {
      count = available_cpus.get();
    } else if (std::optional<uint64_t> whole = WholeNumber(instances); whole && *whole <= 4096) {
      count = *whole > 0 ? static_cast<int>(*whole) : available_cpus.get();
    } else if (instances.is_number_integer() && instances.get<int64_t>() == -1) {
      count = available_cpus.get() - 1;
    } else {
      return read.Error(
          "instances",
          absl::StrCat(Show(instances), " is not a number from 1 to 4096, \"max\", 0 or -1"));
    }
    app.set_instances(std::max(1, count));
  } else if (parsed.instances) {
    int n = *parsed.instances;
    app.set_instances(std::max(1, n > 0 ? n : available_cpus.get() + n));
  } else {
    app.set_instances(1);
  }
  app.set_exec_mode(has_instances || parsed.instances ? v1::App::CLUSTER : v1::App::FORK);
  if (const Json* mode = read.Get("exec_mode")) {
    std::string name = mode->is_string() ? mode->get<std::string>() : Show(*mode);
    if (name == "fork" || name == "fork_mode") {
      app.set_exec_mode(v1::App::FORK);
    } else if (name == "cluster" || name == "cluster_mode") {
      app.set_exec_mode(v1::App::CLUSTER);
    } else {
      return read.Error("exec_mode", absl::StrCat("'", name, "' is not fork or cluster"));
    }
  }
  if (app.exec_mode() == v1::App::CLUSTER && !app.node()) {
    if (read.Get("exec_mode")) {
      return read.Error("exec_mode", absl::StrCat("cluster mode runs Node workers, and the "
                                                  "interpreter is ",
                                                  interpreter));
    }
    app.set_exec_mode(v1::App::FORK);
  }

  return absl::OkStatus();
}

// env, then env_<name> over it, in pm2's order; `port` sets PORT.
absl::Status ReadEnv(AppReader& read, const std::string& env_name, const CommandLine& parsed,
                     v1::App& app) {
  app.mutable_env()->clear();
  for (const auto& [name, value] : parsed.worker.env()) (*app.mutable_env())[name] = value;
  absl::Status status = read.Env("env", app);
  if (status.ok() && !env_name.empty()) status = read.Env("env_" + env_name, app);
  if (!status.ok()) return status;
  if (const Json* port = read.Get("port")) {
    std::optional<uint64_t> number = WholeNumber(*port);
    if (!number || *number > 65535) {
      return read.Error("port", absl::StrCat(Show(*port), " is not a port number"));
    }
    (*app.mutable_env())["PORT"] = absl::StrCat(*number);
  }

  return absl::OkStatus();
}

// watch: true follows the app's folder; a list, those paths. ignore_watch: patterns.
absl::Status ReadWatch(AppReader& read, const std::string& base, v1::App& app) {
  if (const Json* watch = read.Get("watch")) {
    if (watch->is_boolean()) {
      if (watch->get<bool>()) app.add_watch(base);
    } else {
      std::vector<std::string> paths;
      if (absl::Status words = read.Words("watch", &paths); !words.ok()) return words;
      for (const std::string& watched : paths) app.add_watch(Resolve(base, watched));
    }
  }
  std::vector<std::string> ignore;
  if (absl::Status status = read.Words("ignore_watch", &ignore); !status.ok()) return status;
  for (std::string& pattern : ignore) app.add_ignore_watch(std::move(pattern));

  return absl::OkStatus();
}

// How tend writes every app's lines (there is one stdout): any app may ask.
absl::Status ReadLogOptions(AppReader& read, v1::LogOptions& logs) {
  if (const Json* log_type = read.Get("log_type")) {
    if (!log_type->is_string()) return read.Error("log_type", "expected a string (\"json\")");
    if (*log_type == "json") logs.set_format(v1::LogOptions::JSON);
  }
  if (const Json* time = read.Get("time")) {
    if (!time->is_boolean()) return read.Error("time", "expected true or false");
    if (time->get<bool>()) logs.set_time(true);
  }

  return absl::OkStatus();
}

// What tend does not read is said, with why when pm2 has it (Ignored()).
void WarnOfTheRest(const std::string& path, const Json& object, const AppReader& read,
                   const std::string& label, std::vector<std::string>* warnings) {
  for (const auto& [key, value] : object.items()) {
    if (read.Asked(key) || absl::StartsWith(key, "env_")) continue;
    if (value.is_null() || (value.is_boolean() && !value.get<bool>()))
      continue;  // e.g. watch: false
    auto ignored = Ignored().find(key);
    const AppOption* spelled_as_flag = FindAppOption(key);  // "max-memory-restart"
    std::string why = ignored != Ignored().end() ? ignored->second
                      : spelled_as_flag          ? absl::StrCat("the key is ", spelled_as_flag->key)
                                                 : "not an option tend knows";
    warnings->push_back(absl::StrCat(path, ": app ", label, ": ", key, " ignored: ", why));
  }
}

absl::Status ReadApp(const std::string& path, const Json& as_written, size_t index,
                     const std::string& env_name, const CpuCount& available_cpus,
                     const CommandLine& parsed, v1::App& app, v1::LogOptions& logs,
                     std::vector<std::string>* warnings) {
  const Json object = NormalizeLikePm2(as_written);
  std::string label = as_written.contains("name") && as_written["name"].is_string()
                          ? absl::StrCat("'", as_written["name"].get<std::string>(), "'")
                          : absl::StrCat("#", index + 1);
  AppReader read(path, object, label);
  if (!object.is_object()) return read.Error("app", "expected an object");
  app = parsed.worker;
  app.set_kill_timeout_ms(parsed.config.init().kill_timeout_ms());
  std::string base, interpreter;
  absl::Status status = ReadCommand(path, read, app, base, interpreter);
  if (status.ok()) status = ReadInstances(read, available_cpus, parsed, interpreter, app);
  if (status.ok()) status = ReadEnv(read, env_name, parsed, app);
  if (status.ok()) {
    status = read.Millis("kill_timeout", [&](uint32_t v) { app.set_kill_timeout_ms(v); });
  }
  if (!status.ok()) return status;
  // The options the command line sets too, by the same parsers (app_options.h).
  for (const AppOption& option : AppOptions()) {
    const Json* value = read.Get(option.key);
    if (!value) continue;
    if (absl::Status applied = option.apply(OptionText(*value), Show(*value), app); !applied.ok()) {
      return read.Error(option.key, std::string(applied.message()));
    }
  }
  if (status = ReadWatch(read, base, app); !status.ok()) return status;
  if (read.Get("uid") || read.Get("gid")) {
    if (status = ReadRunAs(read, app); !status.ok()) return status;
  }
  if (status = ReadLogOptions(read, logs); !status.ok()) return status;
  WarnOfTheRest(path, object, read, label, warnings);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyEcosystem(const std::string& path, const Json& content,
                            const std::string& env_name, const std::vector<std::string>& only,
                            const CpuCount& available_cpus, CommandLine& parsed,
                            std::vector<std::string>* warnings) {
  const Json* apps = &content;
  if (content.is_object() && content.contains("apps")) apps = &content["apps"];
  Json single = Json::array();
  if (apps->is_object()) {
    single.push_back(*apps);
    apps = &single;
  }
  if (!apps->is_array() || apps->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected {apps: [...]}, a list of apps, or one app"));
  }
  if (content.is_object()) {
    for (const auto& [key, value] : content.items()) {
      if (key != "apps") {
        warnings->push_back(absl::StrCat(
            path, ": ", key, " ignored: ",
            key == "deploy" ? "no pm2 deploy in a container" : "not an option tend knows"));
      }
    }
  }
  std::set<std::string> names, wanted(only.begin(), only.end());
  for (size_t i = 0; i < apps->size(); ++i) {
    v1::App app;
    if (absl::Status read = ReadApp(path, (*apps)[i], i, env_name, available_cpus, parsed, app,
                                    *parsed.config.mutable_logs(), warnings);
        !read.ok()) {
      return read;
    }
    if (!names.insert(app.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": two apps are named '", app.name(), "': names must differ"));
    }
    if (wanted.empty() || wanted.count(app.name())) *parsed.config.add_apps() = std::move(app);
  }
  for (const std::string& name : wanted) {
    if (!names.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--only: no app named '", name, "' in ", path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CommandLine> LoadConfiguration(const std::vector<std::string>& args,
                                              const CpuCount& available_cpus) {
  absl::StatusOr<CommandLine> parsed = ParseCommandLine(args, available_cpus);
  if (!parsed.ok() || parsed->ecosystem_file.empty() ||
      parsed->action != CommandLine::Action::kRun) {
    return parsed;
  }
  absl::StatusOr<nlohmann::json> content = ReadEcosystemFile(parsed->ecosystem_file);
  absl::Status applied = content.status();
  // The boundary for untrusted files: every value is read by type above, and should a
  // library still throw, it is one more bad file, never std::terminate.
  try {
    if (content.ok()) {
      applied = ApplyEcosystem(parsed->ecosystem_file, *content, parsed->env_name, parsed->only,
                               available_cpus, *parsed, &parsed->warnings);
    }
  } catch (const std::exception& error) {
    applied = absl::InvalidArgumentError(absl::StrCat(parsed->ecosystem_file, ": ", error.what()));
  }
  if (!applied.ok()) return absl::FailedPreconditionError(applied.message());
  parsed->supervised = true;
  parsed->config.set_start_concurrency(std::max(1, available_cpus.get()));
  return parsed;
}

}  // namespace tend::config
