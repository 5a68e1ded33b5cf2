#include "runtime/http/routes.h"

#include "probes/health.h"

namespace tend::http {
namespace {

Response Plain(bool ok, std::string body) {
  return {ok ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
}

bool Verbose(const Request& request) { return request.query.count("verbose") > 0; }

}  // namespace

Server::Handler Routes(std::function<Snapshot(bool)> snapshot) {
  return [snapshot = std::move(snapshot)](const Request& request) -> Response {
    if (request.path == "/livez") {
      probes::Verdict verdict = probes::Judge("livez", {{"event-loop", true, ""}}, Verbose(request));
      return Plain(verdict.ok, verdict.body);
    }
    if (request.path == "/readyz") {
      Snapshot now = snapshot(false);
      probes::Verdict verdict = probes::Judge(
          "readyz", probes::ReadinessChecks(now.apps, now.stopping), Verbose(request));
      return Plain(verdict.ok, verdict.body);
    }
    if (request.path == "/metrics") {
      Snapshot now = snapshot(true);
      return {200, "text/plain; version=0.0.4; charset=utf-8",
              metrics::Exposition(now.apps, now.init)};
    }
    return {404, "text/plain; charset=utf-8", "not found; try /livez, /readyz or /metrics\n"};
  };
}

}  // namespace tend::http
