#include "runtime/config/command_line.h"

#include <signal.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "runtime/config/app_options.h"
#include "runtime/config/values.h"
#include "runtime/signals/signals.h"

namespace tend::config {

const char kVersion[] = "tend 0.1.0";

const char kUsage[] = R"(Usage: tend [FLAGS] -- CMD [ARGS...]
       tend [FLAGS] SCRIPT [-- ARGS...]
       tend -i N [FLAGS] -- node SCRIPT [ARGS...]
       tend [FLAGS] ECOSYSTEM_FILE [--env NAME] [--only APP,...]
       tend ctl [--control unix:PATH] [--json] COMMAND    (tend ctl --help)
       tend probe [--control unix:PATH] live|ready

tend is a container init and Node.js runtime: run it as the image's ENTRYPOINT. With
`-- CMD` it starts CMD once, reaps every zombie, forwards signals to CMD, and exits with
CMD's exit code. With a SCRIPT or -i it supervises workers as pm2-runtime does: restarts
them by policy, runs N Node cluster workers on one shared port, and reloads them one at a
time on SIGHUP with no failed request. An ECOSYSTEM_FILE (*.config.js, .cjs, .mjs, .json,
.yml, .yaml) runs every app of a pm2 ecosystem file, with pm2's options.

Init flags:
  -g, --pgroup              Forward signals to CMD's whole process group, not CMD alone.
  -r, --rewrite FROM:TO     Forward signal FROM as TO (names or numbers, e.g. TERM:INT);
                            TO=0 drops FROM. Repeatable.
  -t, --kill-timeout MS     After SIGTERM, SIGINT or SIGQUIT, wait MS milliseconds for CMD
                            and its descendants to exit, then SIGKILL them (default 8000).
  -e, --remap-exit N[:M]    Exit with M (default 0) when CMD's exit code is N. Repeatable.
  -h, --help                Print this help.
  -V, --version             Print tend's version.

Worker flags:
  -i, --instances N         Run N workers in cluster mode; max, 0 or -1: as many as the
                            CPUs the container may use (cgroup quota, affinity), -1 one less.
  -n, --name NAME           The app's name in logs (default: the script's).
      --wait-ready          A worker is ready when it sends process.send('ready'), not when
                            it listens.
      --listen-timeout MS   A worker not ready after MS has failed to start (default 30000).
      --no-autorestart      Do not restart workers that exit.
      --stop-exit-codes N,M Exit codes after which a worker is not restarted.
      --min-uptime MS       A worker up less than MS had an unstable run (default 1000).
      --max-restarts N      After N unstable runs in a row the instance is errored
                            (default 16); when every app is errored, tend exits non-zero.
      --restart-delay MS    Wait MS before each restart (default 0).
      --exp-backoff-restart-delay MS
                            Wait MS before a restart, then 1.5 times longer each time, up to
                            15 s; reset after 30 s up.
      --max-memory-restart SIZE
                            Replace a worker whose resident memory exceeds SIZE (200M, 1G)
                            by a graceful reload of that worker.
      --cron-restart EXPR   Reload the app at the times a cron expression names (5 fields,
                            or 6 with seconds first, or @daily, @hourly...; local time).
      --reload-surge N      Start up to N replacements at once during a reload (default 1).
      --shutdown-with-message
                            Stop a Node worker with process.send('shutdown') instead of its
                            stop signal (pm2's shutdown_with_message).
      --instance-var NAME   The variable holding the instance index (default
                            NODE_APP_INSTANCE).
      --increment-var NAME  A numeric variable (PORT) that each instance gets plus its index.
      --watch-delay MS      With --watch: how long changes must settle (default 1000).
      --listen [ADDR:]PORT  Listen on PORT and hand the socket to every worker as fd 3 with
                            LISTEN_FDS=1 and LISTEN_PID (systemd's socket activation): any
                            program can share one port; with -i, N workers of it do.
      --no-preload          Do not load tend's drain helper into Node workers.
      --allow-privileged-ports
                            Let workers that do not run as root listen on ports below
                            1024 (ip_unprivileged_port_start) through tend.
      --balance rr|shared   Cluster mode: tend accepts each connection and hands it to the
                            least busy ready worker, in turn (rr, the default, as Node's
                            and pm2's), or every worker accepts on the shared socket
                            (shared). NODE_CLUSTER_SCHED_POLICY=none also means shared.
Each app option above is also an ecosystem file key (min_uptime, reload_surge...), read by
the same parser: both take the same forms and refuse others in the same words.
      --app-metrics aggregated|per-worker|off
                            The app's own prom-client metrics on tend's /metrics, summed
                            over its workers by prom-client's aggregators (aggregated, the
                            default), or each worker's apart (per-worker), or not at all.
      --log-buffer LINES[,SIZE]
                            The last lines of each app's output kept for `tend ctl logs`
                            (default 1000,1M: whichever bound comes first; 0: none).
      --env NAME            With an ecosystem file: env_NAME over env, as pm2 does.
      --only APP,APP        With an ecosystem file: start only these apps.
      --node-args "ARGS"    Arguments for node before the script (pm2's --node-args).
      --interpreter PROGRAM Run SCRIPT with PROGRAM (bash, python3...); none: run it as is.
      -c, --cron EXPR       Same as --cron-restart.
      --no-auto-exit        Keep running when every app has stopped or errored.
      --watch               Reload the app when files in its folder change (development).
      --delay SECONDS       Start the apps that much later.
      --prefix, --formatted Prefix each line of worker output with "app:instance| ".
      --format              Relay worker output as key=value lines (pm2's --format).
      --raw                 Relay worker output as it is (the default).
      --json                Relay worker output as JSON lines (timestamp, app, instance,
                            pid, stream, message).
      --time                Prefix each line with an ISO-8601 UTC timestamp.

Durations (MS) are milliseconds, or take a unit as in ecosystem files: 500ms, 10s, 2m, 1h.

Endpoints (served while tend supervises workers; `-- CMD` opens nothing):
      --http [ADDR:]PORT|off
                            GET /livez, /readyz (?verbose) and /metrics (Prometheus) on
                            ADDR:PORT (default 0.0.0.0:9615; if that default is taken tend
                            warns and goes on without it).
      --control unix:PATH|off
                            The gRPC control socket, mode 0600, for `tend ctl` and
                            `tend probe`: Control, grpc.health.v1 and reflection (default
                            unix:/run/tend/control.sock; if that default cannot be made,
                            tend warns and goes on without it).
      --grpc [ADDR:]PORT|off
                            Also serve gRPC on TCP: health to anyone, Control only with
                            the bearer token (default off).
      --grpc-reflection     Serve gRPC reflection on TCP too (grpcurl without .proto
                            files); the Unix socket always serves it.
      --control-token-file FILE
                            The bearer token that Control over TCP requires.
      --grpc-tls-cert FILE, --grpc-tls-key FILE
                            TLS on --grpc, with this certificate chain and key (PEM),
                            read again when the files change. Plaintext connections on
                            the port then get health only (the kubelet's gRPC probe
                            speaks no TLS); Control needs TLS and the token.
      --grpc-client-ca FILE With TLS, also require a client certificate that chains to
                            these CAs (mutual TLS).
      --min-ready N         Ready workers an app needs for /readyz (default 1).
      --shutdown-delay MS   On SIGTERM, turn /readyz to 503 at once and wait MS before
                            draining workers, so load balancers stop sending first
                            (default 0). Allow MS + --kill-timeout before the orchestrator's
                            SIGKILL.

Signals to a supervising tend: SIGHUP reloads every app; SIGTERM, SIGINT and SIGQUIT drain
and stop every worker (exit 0 when all stopped cleanly); others go to every worker.

Exit status: CMD's exit code (or, supervising, that of the last worker to exit); 128+N when CMD died of signal N; 126 when CMD cannot be
executed, 127 when it does not exist; 2 for a bad command line.
)";

namespace {

using Apply = std::function<absl::Status(absl::string_view value, CommandLine& parsed)>;

struct Flag {
  char short_name;  // '\0' for none
  absl::string_view long_name;
  bool takes_value;
  Apply apply;
  bool worker = false;  // a worker flag: tend supervises workers
};

absl::Status Invalid(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", problem));
}

// The one whole-number parser (values.h), as the flags use it: false when `value` is not
// digits from 0 to `max`.
bool ParseCount(absl::string_view value, uint64_t max, uint64_t* count) {
  std::optional<uint64_t> parsed = config::ParseCount(value, max);
  if (parsed) *count = *parsed;
  return parsed.has_value();
}

// A flag whose value is a duration, in the forms ecosystem files take, stored by `set`.
Apply Millis(absl::string_view flag, void (*set)(CommandLine&, uint32_t)) {
  return [flag, set](absl::string_view value, CommandLine& parsed) {
    std::optional<uint32_t> ms = ParseMillis(value);
    if (!ms) return Invalid(flag, NotADuration(absl::StrCat("'", value, "'")));
    set(parsed, *ms);
    return absl::OkStatus();
  };
}

// A flag that takes no value and only sets something.
Apply Switch(void (*set)(CommandLine&)) {
  return [set](absl::string_view, CommandLine& parsed) {
    set(parsed);
    return absl::OkStatus();
  };
}

v1::App& Worker(CommandLine& parsed) { return parsed.worker; }

// The flag of an app option (app_options.h), named `flag` in its errors.
Apply OptionFlag(const AppOption& option, std::string flag) {
  return [&option, flag = std::move(flag)](absl::string_view value, CommandLine& parsed) {
    if (option.switch_value) value = option.switch_value;
    absl::Status applied = option.apply(value, absl::StrCat("'", value, "'"), Worker(parsed));
    return applied.ok() ? applied : Invalid(flag, applied.message());
  };
}

absl::Status ParseInstances(absl::string_view value, CommandLine& parsed) {
  uint64_t count;
  if (value == "max" || value == "0") {
    parsed.instances = 0;
  } else if (value == "-1") {
    parsed.instances = -1;
  } else if (ParseCount(value, 4096, &count) && count > 0) {
    parsed.instances = static_cast<int>(count);
  } else {
    return Invalid("--instances",
                   absl::StrCat("'", value, "' is not a number from 1 to 4096, max, 0 or -1"));
  }
  return absl::OkStatus();
}

// "ADDR:PORT" for a server, every IPv4 address when ADDR is left out; "" for off.
Apply Endpoint(absl::string_view flag, void (*set)(CommandLine&, std::string)) {
  return [flag, set](absl::string_view value, CommandLine& parsed) {
    if (value == "off") {
      set(parsed, "");
      return absl::OkStatus();
    }
    std::string address;
    uint32_t port;
    if (!ParseHostPort(value, &address, &port)) {
      return Invalid(flag, absl::StrCat("'", value, "' is not [ADDR:]PORT or off"));
    }
    bool v6 = address.find(':') != std::string::npos;
    set(parsed, v6 ? absl::StrCat("[", address, "]:", port)
                   : absl::StrCat(address.empty() ? "0.0.0.0" : address, ":", port));
    return absl::OkStatus();
  };
}

// A PEM file for --grpc's TLS.
Apply TlsFile(absl::string_view flag, void (v1::Endpoints::*set)(const std::string&)) {
  return [flag, set](absl::string_view value, CommandLine& parsed) {
    if (value.empty()) return Invalid(flag, "the path is empty");
    (parsed.config.mutable_endpoints()->*set)(std::string(value));
    return absl::OkStatus();
  };
}

// TLS needs its certificate and key together, and a TCP port to serve.
absl::Status CheckTls(const v1::Endpoints& endpoints) {
  bool cert = !endpoints.grpc_tls_cert().empty(), key = !endpoints.grpc_tls_key().empty();
  if (cert != key) {
    return Invalid(cert ? "--grpc-tls-cert" : "--grpc-tls-key",
                   cert ? "needs --grpc-tls-key too" : "needs --grpc-tls-cert too");
  }
  if (!endpoints.grpc_client_ca().empty() && !cert) {
    return Invalid("--grpc-client-ca", "needs --grpc-tls-cert and --grpc-tls-key");
  }
  if (cert && endpoints.grpc().empty()) {
    return Invalid("--grpc-tls-cert", "TLS is for --grpc, which is off");
  }
  return absl::OkStatus();
}

absl::Status ParseListen(absl::string_view value, CommandLine& parsed) {
  std::string address;
  uint32_t port;
  if (!ParseHostPort(value, &address, &port)) {
    return Invalid("--listen", absl::StrCat("'", value,
                                            "' is not [ADDR:]PORT with a port from 0 "
                                            "to 65535 (IPv6: [ADDR]:PORT)"));
  }
  v1::Listen* listen = Worker(parsed).mutable_listen();
  listen->set_address(address);
  listen->set_port(port);
  return absl::OkStatus();
}

// unix:PATH or an absolute PATH; off.
absl::Status ParseControl(absl::string_view value, CommandLine& parsed) {
  absl::string_view path = value;
  absl::ConsumePrefix(&path, "unix:");
  if (value == "off") {
    path = "";
  } else if (path.empty() || path[0] != '/') {
    return Invalid("--control", absl::StrCat("'", value, "' is not unix:/ABSOLUTE/PATH or off"));
  }
  parsed.config.mutable_endpoints()->set_control(std::string(path));
  return absl::OkStatus();
}

absl::Status ParseRewrite(absl::string_view value, CommandLine& parsed) {
  if (value.find(':') == absl::string_view::npos) {
    return Invalid("--rewrite", absl::StrCat("'", value, "' is not FROM:TO (e.g. TERM:INT)"));
  }
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ':');
  std::optional<int> from = signals::ParseSignal(parts.first);
  std::optional<int> to = signals::ParseSignal(parts.second, /*allow_zero=*/true);
  if (!from) return Invalid("--rewrite", absl::StrCat("'", parts.first, "' names no signal"));
  if (!to) return Invalid("--rewrite", absl::StrCat("'", parts.second, "' names no signal"));
  if (!sigismember(&signals::HandledSignals(), *from) || *from == SIGCHLD) {
    return Invalid("--rewrite", absl::StrCat(signals::SignalName(*from),
                                             " is not forwarded, so it cannot be rewritten"));
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

// A pm2-runtime flag that means nothing in a container: accepted, with a warning saying why.
Apply Ignored(absl::string_view flag, absl::string_view why) {
  return [flag, why](absl::string_view, CommandLine& parsed) {
    parsed.warnings.push_back(absl::StrCat(flag, " ignored: ", why));
    return absl::OkStatus();
  };
}

const std::vector<Flag>& Flags() {
  static const std::vector<Flag> flags = [] {
    std::vector<Flag> flags = {
        {'g', "pgroup", false,
         Switch([](CommandLine& p) { p.config.mutable_init()->set_process_group(true); })},
        {'r', "rewrite", true, ParseRewrite},
        {'t', "kill-timeout", true,
         Millis("--kill-timeout",
                [](CommandLine& p, uint32_t ms) {
                  p.config.mutable_init()->set_kill_timeout_ms(ms);
                })},
        {'e', "remap-exit", true, ParseRemapExit},
        {'i', "instances", true, ParseInstances, true},
        {'n', "name", true,
         [](absl::string_view value, CommandLine& parsed) {
           if (value.empty()) return Invalid("--name", "the name is empty");
           Worker(parsed).set_name(std::string(value));
           return absl::OkStatus();
         },
         true},
        {'\0', "listen", true, ParseListen, true},
        {'\0', "env", true,
         [](absl::string_view value, CommandLine& parsed) {
           if (value.empty()) return Invalid("--env", "the name is empty");
           parsed.env_name = std::string(value);
           return absl::OkStatus();
         },
         true},
        {'\0', "only", true,
         [](absl::string_view value, CommandLine& parsed) {
           for (absl::string_view name : absl::StrSplit(value, ',', absl::SkipEmpty())) {
             parsed.only.emplace_back(name);
           }
           if (parsed.only.empty()) return Invalid("--only", "no app named");
           return absl::OkStatus();
         },
         true},
        {'\0', "http", true,
         Endpoint("--http",
                  [](CommandLine& p, std::string a) {
                    p.config.mutable_endpoints()->set_http(std::move(a));
                  })},
        {'\0', "grpc", true,
         Endpoint("--grpc",
                  [](CommandLine& p, std::string a) {
                    p.config.mutable_endpoints()->set_grpc(std::move(a));
                  })},
        {'\0', "grpc-reflection", false,
         Switch([](CommandLine& p) { p.config.mutable_endpoints()->set_grpc_reflection(true); })},
        {'\0', "control", true, ParseControl},
        {'\0', "control-token-file", true,
         [](absl::string_view value, CommandLine& parsed) {
           if (value.empty()) return Invalid("--control-token-file", "the path is empty");
           parsed.config.mutable_endpoints()->set_control_token_file(std::string(value));
           return absl::OkStatus();
         }},
        {'\0', "grpc-tls-cert", true,
         TlsFile("--grpc-tls-cert", &v1::Endpoints::set_grpc_tls_cert)},
        {'\0', "grpc-tls-key", true, TlsFile("--grpc-tls-key", &v1::Endpoints::set_grpc_tls_key)},
        {'\0', "grpc-client-ca", true,
         TlsFile("--grpc-client-ca", &v1::Endpoints::set_grpc_client_ca)},
        {'\0', "shutdown-delay", true,
         Millis("--shutdown-delay",
                [](CommandLine& p, uint32_t ms) {
                  p.config.mutable_init()->set_shutdown_delay_ms(ms);
                })},
        // pm2-runtime's names for the flags above, and its flags with no meaning here.
        {'c', "cron", true, OptionFlag(*FindAppOption("cron-restart"), "--cron"), true},
        {'\0', "node-args", true,
         [](absl::string_view value, CommandLine& parsed) {
           for (absl::string_view arg : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
             parsed.node_args.emplace_back(arg);
           }
           return absl::OkStatus();
         },
         true},
        {'\0', "interpreter", true,
         [](absl::string_view value, CommandLine& parsed) {
           if (value.empty()) return Invalid("--interpreter", "the interpreter is empty");
           parsed.interpreter = std::string(value);
           return absl::OkStatus();
         },
         true},
        {'\0', "formatted", false, Switch([](CommandLine& p) {
           p.config.mutable_logs()->set_format(v1::LogOptions::PREFIXED);
         }),
         true},
        {'\0', "format", false, Switch([](CommandLine& p) {
           p.config.mutable_logs()->set_format(v1::LogOptions::KEY_VALUE);
         }),
         true},
        {'\0', "raw", false,
         Switch([](CommandLine& p) { p.config.mutable_logs()->set_format(v1::LogOptions::RAW); }),
         true},
        {'\0', "web", true,
         Endpoint("--web",
                  [](CommandLine& p, std::string a) {
                    p.config.mutable_endpoints()->set_http(std::move(a));
                  })},
        {'\0', "no-auto-exit", false,
         Switch([](CommandLine& p) { p.config.set_no_auto_exit(true); }), true},
        {'\0', "delay", true,
         [](absl::string_view value, CommandLine& parsed) {
           uint64_t seconds;
           if (!ParseCount(value, 3600, &seconds)) {
             return Invalid("--delay", absl::StrCat("'", value, "' is not a number of seconds"));
           }
           parsed.config.set_start_delay_ms(static_cast<uint32_t>(seconds * 1000));
           return absl::OkStatus();
         },
         true},
        {'\0', "no-autostart", false, Ignored("--no-autostart", "in a container every app starts"),
         true},
        {'\0', "watch", false, Switch([](CommandLine& p) { p.watch = true; }), true},
        {'\0', "error", true,
         Ignored("--error", "worker output goes to tend's stderr, the container's log"), true},
        {'\0', "output", true,
         Ignored("--output", "worker output goes to tend's stdout, the container's log"), true},
        {'\0', "secret", true, Ignored("--secret", "no pm2.io monitoring"), true},
        {'\0', "public", true, Ignored("--public", "no pm2.io monitoring"), true},
        {'\0', "machine-name", true, Ignored("--machine-name", "no pm2.io monitoring"), true},
        {'\0', "trace", false, Ignored("--trace", "no pm2.io monitoring"), true},
        {'\0', "v8", false, Ignored("--v8", "no pm2.io monitoring"), true},
        {'\0', "deep-monitoring", false,
         Ignored("--deep-monitoring", "no pm2.io monitoring; see /metrics"), true},
        {'\0', "prefix", false, Switch([](CommandLine& p) {
           p.config.mutable_logs()->set_format(v1::LogOptions::PREFIXED);
         }),
         true},
        {'\0', "json", false,
         Switch([](CommandLine& p) { p.config.mutable_logs()->set_format(v1::LogOptions::JSON); }),
         true},
        {'\0', "time", false,
         Switch([](CommandLine& p) { p.config.mutable_logs()->set_time(true); }), true},
        {'\0', "no-preload", false, Switch([](CommandLine& p) { Worker(p).set_preload(false); }),
         true},
        {'\0', "log-buffer", true,
         [](absl::string_view value, CommandLine& parsed) {
           std::pair<absl::string_view, absl::string_view> parts =
               absl::StrSplit(value, absl::MaxSplits(',', 1));
           std::optional<uint64_t> lines = config::ParseCount(parts.first, 1000000);
           std::optional<uint64_t> bytes =
               parts.second.empty() ? kDefaultLogBufferBytes : ParseSize(parts.second);
           if (!lines || !bytes || *bytes > (1ull << 30)) {
             return Invalid("--log-buffer", absl::StrCat("'", value,
                                                         "' is not LINES[,SIZE] (1000,1M; at most "
                                                         "1000000 lines and 1G)"));
           }
           parsed.config.mutable_logs()->set_buffer_lines(static_cast<uint32_t>(*lines));
           parsed.config.mutable_logs()->set_buffer_bytes(*bytes);
           return absl::OkStatus();
         }},
        {'h', "help", false, Switch([](CommandLine& p) { p.action = CommandLine::Action::kHelp; })},
        {'V', "version", false,
         Switch([](CommandLine& p) { p.action = CommandLine::Action::kVersion; })},
    };
    for (const AppOption& option : AppOptions()) {
      flags.push_back({'\0', option.flag, option.switch_value == nullptr,
                       OptionFlag(option, absl::StrCat("--", option.flag)), true});
    }
    return flags;
  }();
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
    if (flag.short_name != '\0' && flag.short_name == arg[1]) return &flag;
  }
  return nullptr;
}

// pm2's rule for telling an ecosystem file from a script.
bool IsEcosystemFileName(const std::string& path) {
  for (const char* ending :
       {".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs"}) {
    if (absl::EndsWith(path, ending)) return true;
  }
  return false;
}

}  // namespace

bool MayEvaluateJavaScript(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (absl::EndsWith(arg, ".config.js") || absl::EndsWith(arg, ".config.cjs") ||
        absl::EndsWith(arg, ".config.mjs")) {
      return true;
    }
  }
  return false;
}

namespace {

bool IsNode(const std::string& program) {
  std::string base = program.substr(program.rfind('/') + 1);
  return base == "node" || base == "nodejs";
}

// The script of `node [NODE-FLAGS] SCRIPT ...`: the first word that is no flag nor a
// flag's value (node's flags that take a separate value are the module loaders').
std::string NodeScriptOf(const v1::App& app) {
  for (int i = 1; i < app.command_size(); ++i) {
    const std::string& word = app.command(i);
    if (word == "-r" || word == "--require" || word == "--import" || word == "--loader") {
      ++i;
    } else if (!absl::StartsWith(word, "-")) {
      return word;
    }
  }
  return app.command(0);
}

// Fills the app a SCRIPT or -i asked for, with pm2's defaults where no flag spoke.
absl::Status ResolveWorker(CommandLine& parsed, const std::string& script,
                           std::vector<std::string> args, const CpuCount& available_cpus) {
  parsed.config.set_start_concurrency(std::max(1, available_cpus.get()));
  v1::App& app = parsed.worker;
  if (!script.empty()) {
    // As pm2 picks it: node unless --interpreter says otherwise ("none": run SCRIPT itself).
    if (parsed.interpreter != "none")
      app.add_command(parsed.interpreter.empty() ? "node" : parsed.interpreter);
    for (const std::string& arg : parsed.node_args) app.add_command(arg);
    app.add_command(script);
  } else if (args.empty()) {
    return absl::InvalidArgumentError(
        "missing script or command: tend [FLAGS] SCRIPT, or tend [FLAGS] -- CMD [ARGS...]");
  }
  for (std::string& arg : args) app.add_command(std::move(arg));
  app.set_node(IsNode(app.command(0)));
  if (parsed.watch) {
    const std::string& watched = script.empty() ? "." : script;
    app.add_watch(watched.rfind('/') == std::string::npos ? "."
                                                          : watched.substr(0, watched.rfind('/')));
  }
  if (!parsed.node_args.empty() && !app.node()) {
    return absl::InvalidArgumentError("--node-args are for node, and the interpreter is not node");
  }
  // Named after SCRIPT, never after --node-args or --interpreter; after the program itself
  // when there is no SCRIPT (`tend -i 2 -- node app.js` is named after app.js).
  if (app.name().empty()) {
    app.set_name(NameFromScript(!script.empty() ? script
                                : app.node()    ? NodeScriptOf(app)
                                                : app.command(0)));
  }
  if (parsed.instances.has_value()) {
    app.set_exec_mode(v1::App::CLUSTER);
    int instances =
        *parsed.instances > 0 ? *parsed.instances : available_cpus.get() + *parsed.instances;
    app.set_instances(std::max(1, instances));
  } else {
    app.set_exec_mode(v1::App::FORK);
    app.set_instances(1);
  }
  if (app.exec_mode() == v1::App::CLUSTER && !app.node()) {
    if (!app.has_listen()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-i runs Node cluster workers, and '", app.command(0),
          "' is not node: give --listen [ADDR:]PORT to share a socket with other programs"));
    }
    app.set_exec_mode(v1::App::FORK);  // each worker accepts on the socket tend hands it
  }
  app.set_kill_timeout_ms(parsed.config.init().kill_timeout_ms());
  *parsed.config.add_apps() = app;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             const CpuCount& available_cpus) {
  CommandLine parsed;
  parsed.config.mutable_init()->set_kill_timeout_ms(kDefaultKillTimeoutMs);
  parsed.config.mutable_logs()->set_buffer_lines(kDefaultLogBufferLines);
  parsed.config.mutable_logs()->set_buffer_bytes(kDefaultLogBufferBytes);
  parsed.config.mutable_endpoints()->set_http(kDefaultHttp);
  parsed.config.mutable_endpoints()->set_control(kDefaultControl);
  v1::App& worker = parsed.worker;
  worker.set_autorestart(true);
  worker.set_preload(true);
  worker.set_min_uptime_ms(kDefaultMinUptimeMs);
  worker.set_max_restarts(kDefaultMaxRestarts);
  worker.set_listen_timeout_ms(kDefaultListenTimeoutMs);
  // Node's own variable picks the default, as Node's primary reads it: "none" is shared,
  // anything else round-robin. --balance overrides it.
  if (const char* policy = getenv("NODE_CLUSTER_SCHED_POLICY");
      policy && absl::string_view(policy) == "none") {
    worker.set_balance(v1::App::SHARED);
  }

  std::string script;
  std::vector<std::string> rest;
  // `pm2-runtime start app.js` means `pm2-runtime app.js`: a first "start" is pm2's command
  // word, unless nothing else comes (then it is a script named start).
  bool saw_start = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      rest.assign(args.begin() + i + 1, args.end());
      break;
    }
    if (arg.empty() || arg[0] != '-' || arg == "-") {
      if (script.empty() && !saw_start && arg == "start") {
        saw_start = true;
        continue;
      }
      if (!script.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unexpected argument '", arg, "': give one SCRIPT, and its arguments after --"));
      }
      script = arg;
      parsed.supervised = true;
      continue;
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
    parsed.supervised |= flag->worker;
  }
  if (parsed.action != CommandLine::Action::kRun) return parsed;
  if (absl::Status tls = CheckTls(parsed.config.endpoints()); !tls.ok()) return tls;
  if (saw_start && script.empty()) {
    script = "start";
    parsed.supervised = true;
  }
  if (!script.empty() && IsEcosystemFileName(script)) {
    if (!rest.empty()) {
      return absl::InvalidArgumentError("arguments after -- go to a SCRIPT, not an ecosystem file");
    }
    parsed.ecosystem_file = script;
    return parsed;
  }
  if (!parsed.env_name.empty() || !parsed.only.empty()) {
    return absl::InvalidArgumentError(
        "--env and --only choose from an ecosystem file, and none was given");
  }
  if (parsed.supervised) {
    if (absl::Status resolved = ResolveWorker(parsed, script, std::move(rest), available_cpus);
        !resolved.ok()) {
      return resolved;
    }
    return parsed;
  }
  if (rest.empty()) {
    return absl::InvalidArgumentError("missing command: tend [FLAGS] -- CMD [ARGS...]");
  }
  v1::App* app = parsed.config.add_apps();
  app->set_name(rest[0].substr(rest[0].rfind('/') + 1));
  for (const std::string& word : rest) app->add_command(word);
  return parsed;
}

}  // namespace tend::config
