#include "runtime/http/routes.h"

#include <algorithm>
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
  std::vector<std::weak_ptr<const std::string>> held;  // bodies made, some still being read

  // Every scrape that joined a collection gets one body; so does one that comes while a
  // client is still reading the last body (for up to kReuseFor), so clients that never
  // read can make tend hold a body a second at most, not one each. Slow readers that each
  // still hold a body of their own make tend keep at most kMaxBodiesHeld: past it, the
  // newest is shared, however old.
  static constexpr std::chrono::seconds kReuseFor{1};
  static constexpr size_t kMaxBodiesHeld = 4;
  bool Reusable(uint64_t for_collection, std::chrono::steady_clock::time_point now) {
    if (!body) return false;
    if (for_collection != 0 && for_collection == collection) return true;
    if (body.use_count() > 1 && now - at < kReuseFor) return true;
    held.erase(std::remove_if(held.begin(), held.end(), [](auto& b) { return b.expired(); }),
               held.end());
    return held.size() >= kMaxBodiesHeld;
  }
};

}  // namespace

Server::Handler Routes(std::function<Snapshot(bool)> snapshot, metrics::AppCollector* app_metrics,
                       Clock clock) {
  auto rendered = std::make_shared<RenderedMetrics>();
  return [snapshot = std::move(snapshot), app_metrics, rendered, clock](const Request& request,
                                                                        Server::Respond respond) {
    if (request.path == "/livez") {
      probes::Verdict verdict =
          probes::Judge("livez", {{"event-loop", true, ""}}, Verbose(request));
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
      auto answer = [snapshot, respond, rendered,
                     clock](const metrics::AppMetricsHarvest* harvest) {
        uint64_t collection = harvest ? harvest->collection : 0;
        std::chrono::steady_clock::time_point at = clock();
        if (!rendered->Reusable(collection, at)) {
          Snapshot now = snapshot(true);
          rendered->body =
              std::make_shared<const std::string>(metrics::Exposition(now.apps, now.init, harvest));
          rendered->collection = collection;
          rendered->at = at;
          rendered->held.push_back(rendered->body);
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
