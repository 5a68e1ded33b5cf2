#include "runtime/http/routes.h"

#include <chrono>

#include "probes/health.h"

namespace tend::http {
namespace {

using namespace std::chrono_literals;

// Probes' default timeout in Kubernetes is 1 s: answer within it either way.
constexpr std::chrono::milliseconds kLoopDeadline = 900ms;

const char kUnresponsive[] = "tend's event loop did not answer within 900 ms";

Response Plain(bool ok, std::string body) {
  return {ok ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
}

bool Verbose(const Request& request) { return request.query.count("verbose") > 0; }

}  // namespace

Server::Handler Routes(loop::CrossThread& bridge, std::function<Snapshot(bool)> snapshot) {
  return [&bridge, snapshot = std::move(snapshot)](const Request& request) -> Response {
    if (request.path == "/livez") {
      bool responsive = bridge.Call<bool>([] { return true; }, kLoopDeadline).value_or(false);
      probes::Verdict verdict =
          probes::Judge("livez", {{"event-loop", responsive, kUnresponsive}}, Verbose(request));
      return Plain(verdict.ok, verdict.body);
    }
    if (request.path == "/readyz") {
      std::optional<Snapshot> now =
          bridge.Call<Snapshot>([&snapshot] { return snapshot(false); }, kLoopDeadline);
      if (!now) return Plain(false, std::string(kUnresponsive) + "\n");
      probes::Verdict verdict = probes::Judge(
          "readyz", probes::ReadinessChecks(now->apps, now->stopping), Verbose(request));
      return Plain(verdict.ok, verdict.body);
    }
    if (request.path == "/metrics") {
      std::optional<std::string> text = bridge.Call<std::string>(
          [&snapshot] {
            Snapshot now = snapshot(true);
            return metrics::Exposition(now.apps, now.init);
          },
          kLoopDeadline);
      if (!text) return Plain(false, std::string(kUnresponsive) + "\n");
      return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(*text)};
    }
    return {404, "text/plain; charset=utf-8", "not found; try /livez, /readyz or /metrics\n"};
  };
}

}  // namespace tend::http
