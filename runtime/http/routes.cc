#include "runtime/http/routes.h"

#include <chrono>
#include <memory>
#include <string>

#include "probes/health.h"

namespace tend::http {
namespace {

Response Plain(bool ok, std::string body) {
  return {ok ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
}

bool Verbose(const Request& request) { return request.query.count("verbose") > 0; }

// The last /metrics body, and when and from which collection it was made.
struct RenderedMetrics {
  uint64_t collection = 0;
  std::chrono::steady_clock::time_point at;
  std::shared_ptr<const std::string> body;

  // Every scrape that joined a collection gets one body; so does one that comes while a
  // client is still reading the last body (for up to kReuseFor), so clients that never
  // read can make tend hold a body a second at most, not one each.
  static constexpr std::chrono::seconds kReuseFor{1};
  bool Reusable(uint64_t for_collection) const {
    if (!body) return false;
    if (for_collection != 0 && for_collection == collection) return true;
    return body.use_count() > 1 && std::chrono::steady_clock::now() - at < kReuseFor;
  }
};

}  // namespace

Server::Handler Routes(std::function<Snapshot(bool)> snapshot,
                       metrics::AppCollector* app_metrics) {
  auto rendered = std::make_shared<RenderedMetrics>();
  return [snapshot = std::move(snapshot), app_metrics, rendered](const Request& request,
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
      auto answer = [snapshot, respond, rendered](const metrics::AppMetricsHarvest* harvest) {
        uint64_t collection = harvest ? harvest->collection : 0;
        if (!rendered->Reusable(collection)) {
          Snapshot now = snapshot(true);
          rendered->body = std::make_shared<const std::string>(
              metrics::Exposition(now.apps, now.init, harvest));
          rendered->collection = collection;
          rendered->at = std::chrono::steady_clock::now();
        }
        Response response{200, "text/plain; version=0.0.4; charset=utf-8", ""};
        response.shared_body = rendered->body;
        respond(std::move(response));
      };
      if (!app_metrics) return answer(nullptr);
      return app_metrics->Collect(
          [answer](const metrics::AppMetricsHarvest& harvest) { answer(&harvest); });
    }
    respond({404, "text/plain; charset=utf-8", "not found; try /livez, /readyz or /metrics\n"});
  };
}

}  // namespace tend::http
