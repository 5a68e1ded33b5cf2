#include "runtime/http/routes.h"

#include "probes/health.h"

namespace tend::http {
namespace {

Response Plain(bool ok, std::string body) {
  return {ok ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
}

bool Verbose(const Request& request) { return request.query.count("verbose") > 0; }

}  // namespace

Server::Handler Routes(std::function<Snapshot(bool)> snapshot,
                       metrics::AppCollector* app_metrics) {
  return [snapshot = std::move(snapshot), app_metrics](const Request& request,
                                                       Server::Respond respond) {
    if (request.path == "/livez") {
      probes::Verdict verdict = probes::Judge("livez", {{"event-loop", true, ""}}, Verbose(request));
      return respond(Plain(verdict.ok, verdict.body));
    }
    if (request.path == "/readyz") {
      Snapshot now = snapshot(false);
      probes::Verdict verdict = probes::Judge(
          "readyz", probes::ReadinessChecks(now.apps, now.stopping), Verbose(request));
      return respond(Plain(verdict.ok, verdict.body));
    }
    if (request.path == "/metrics") {
      // The state of the moment the answer is made, after the workers have answered.
      auto answer = [snapshot, respond](const metrics::AppMetricsHarvest* harvest) {
        Snapshot now = snapshot(true);
        respond({200, "text/plain; version=0.0.4; charset=utf-8",
                 metrics::Exposition(now.apps, now.init, harvest)});
      };
      if (!app_metrics) return answer(nullptr);
      return app_metrics->Collect(
          [answer](const metrics::AppMetricsHarvest& harvest) { answer(&harvest); });
    }
    respond({404, "text/plain; charset=utf-8", "not found; try /livez, /readyz or /metrics\n"});
  };
}

}  // namespace tend::http
