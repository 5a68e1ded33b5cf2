#include "runtime/config/command_line.h"

#include <signal.h>

#include <functional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/init/signals.h"

namespace tend::config {

const char kVersion[] = "tend 0.1.0";

const char kUsage[] = R"(Usage: tend [FLAGS] -- CMD [ARGS...]

tend is a container init: run it as the image's ENTRYPOINT. It starts CMD, reaps every
zombie, forwards signals to CMD, and exits with CMD's exit code.

Flags:
  -g, --pgroup              Forward signals to CMD's whole process group, not CMD alone.
  -r, --rewrite FROM:TO     Forward signal FROM as TO (names or numbers, e.g. TERM:INT);
                            TO=0 drops FROM. Repeatable.
  -t, --kill-timeout MS     After SIGTERM, SIGINT or SIGQUIT, wait MS milliseconds for CMD
                            and its descendants to exit, then SIGKILL them (default 8000).
  -e, --remap-exit N[:M]    Exit with M (default 0) when CMD's exit code is N. Repeatable.
  -h, --help                Print this help.
  -V, --version             Print tend's version.

Exit status: CMD's exit code; 128+N when CMD died of signal N; 126 when CMD cannot be
executed, 127 when it does not exist; 2 for a bad command line.
)";

namespace {

using Apply = std::function<absl::Status(absl::string_view value, CommandLine& parsed)>;

struct Flag {
  char short_name;  // '\0' for none
  absl::string_view long_name;
  bool takes_value;
  Apply apply;
};

absl::Status Invalid(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", problem));
}

absl::Status ParseKillTimeout(absl::string_view value, CommandLine& parsed) {
  constexpr uint64_t kMaxMs = 24ull * 3600 * 1000;
  uint64_t ms;
  if (value.empty() || !absl::ascii_isdigit(value[0]) || !absl::SimpleAtoi(value, &ms) ||
      ms > kMaxMs) {
    return Invalid("--kill-timeout", absl::StrCat("'", value, "' is not a number of milliseconds",
                                                  " from 0 to ", kMaxMs));
  }
  parsed.config.mutable_init()->set_kill_timeout_ms(static_cast<uint32_t>(ms));
  return absl::OkStatus();
}

absl::Status ParseRewrite(absl::string_view value, CommandLine& parsed) {
  if (value.find(':') == absl::string_view::npos) {
    return Invalid("--rewrite", absl::StrCat("'", value, "' is not FROM:TO (e.g. TERM:INT)"));
  }
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ':');
  std::optional<int> from = init::ParseSignal(parts.first);
  std::optional<int> to = init::ParseSignal(parts.second, /*allow_zero=*/true);
  if (!from) return Invalid("--rewrite", absl::StrCat("'", parts.first, "' names no signal"));
  if (!to) return Invalid("--rewrite", absl::StrCat("'", parts.second, "' names no signal"));
  if (!sigismember(&init::HandledSignals(), *from) || *from == SIGCHLD) {
    return Invalid("--rewrite",
                   absl::StrCat(init::SignalName(*from), " is not forwarded, so it cannot be rewritten"));
  }
  (*parsed.config.mutable_init()->mutable_signal_rewrite())[*from] = *to;
  return absl::OkStatus();
}

absl::Status ParseRemapExit(absl::string_view value, CommandLine& parsed) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ':');
  bool has_to = value.find(':') != absl::string_view::npos;
  int from, to = 0;
  auto is_code = [](absl::string_view text, int* code) {
    return !text.empty() && absl::ascii_isdigit(text[0]) && absl::SimpleAtoi(text, code) &&
           *code >= 0 && *code <= 255;
  };
  if (!is_code(parts.first, &from) || (has_to && !is_code(parts.second, &to))) {
    return Invalid("--remap-exit",
                   absl::StrCat("'", value, "' is not N or N:M with exit codes from 0 to 255"));
  }
  (*parsed.config.mutable_init()->mutable_exit_remap())[from] = to;
  return absl::OkStatus();
}

const std::vector<Flag>& Flags() {
  static const std::vector<Flag> flags = {
      {'g', "pgroup", false,
       [](absl::string_view, CommandLine& parsed) {
         parsed.config.mutable_init()->set_process_group(true);
         return absl::OkStatus();
       }},
      {'r', "rewrite", true, ParseRewrite},
      {'t', "kill-timeout", true, ParseKillTimeout},
      {'e', "remap-exit", true, ParseRemapExit},
      {'h', "help", false,
       [](absl::string_view, CommandLine& parsed) {
         parsed.action = CommandLine::Action::kHelp;
         return absl::OkStatus();
       }},
      {'V', "version", false,
       [](absl::string_view, CommandLine& parsed) {
         parsed.action = CommandLine::Action::kVersion;
         return absl::OkStatus();
       }},
  };
  return flags;
}

// Finds the flag `arg` names; `inline_value` gets what follows '=' (or a short flag's letter).
const Flag* FindFlag(absl::string_view arg, std::optional<absl::string_view>* inline_value) {
  if (absl::ConsumePrefix(&arg, "--")) {
    size_t equals = arg.find('=');
    if (equals != absl::string_view::npos) {
      *inline_value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    }
    for (const Flag& flag : Flags()) {
      if (flag.long_name == arg) return &flag;
    }
    return nullptr;
  }
  if (arg.size() < 2 || arg[0] != '-') return nullptr;
  if (arg.size() > 2) *inline_value = arg.substr(2);
  for (const Flag& flag : Flags()) {
    if (flag.short_name == arg[1]) return &flag;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine parsed;
  parsed.config.mutable_init()->set_kill_timeout_ms(kDefaultKillTimeoutMs);
  std::vector<std::string> command;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      command.assign(args.begin() + i + 1, args.end());
      break;
    }
    if (arg.empty() || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "': put the command after --"));
    }
    std::optional<absl::string_view> value;
    const Flag* flag = FindFlag(arg, &value);
    if (!flag) return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    if (!flag->takes_value && value) {
      return absl::InvalidArgumentError(absl::StrCat("flag '", arg, "' takes no value"));
    }
    if (flag->takes_value && !value) {
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag '", arg, "' needs a value"));
      }
      value = args[++i];
    }
    if (absl::Status applied = flag->apply(value.value_or(""), parsed); !applied.ok()) {
      return applied;
    }
  }
  if (parsed.action != CommandLine::Action::kRun) return parsed;
  if (command.empty()) {
    return absl::InvalidArgumentError("missing command: tend [FLAGS] -- CMD [ARGS...]");
  }
  v1::App* app = parsed.config.add_apps();
  app->set_name(command[0].substr(command[0].rfind('/') + 1));
  for (const std::string& word : command) app->add_command(word);
  return parsed;
}

}  // namespace tend::config
