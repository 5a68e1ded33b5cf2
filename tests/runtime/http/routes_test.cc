#include "runtime/http/routes.h"

#include <memory>
#include <set>

#include "gtest/gtest.h"

namespace tend::http {
namespace {

Snapshot OneApp(int ready, bool stopping) {
  Snapshot snapshot;
  supervise::AppStatus app;
  app.name = "api";
  app.desired = 2;
  app.ready = ready;
  app.min_ready = 1;
  snapshot.apps = {app};
  snapshot.stopping = stopping;
  return snapshot;
}

Response Get(const Snapshot& snapshot, const std::string& path,
             std::map<std::string, std::string> query = {}) {
  Response answer;
  Routes([&snapshot](bool) { return snapshot; })({"GET", path, std::move(query)},
                                                 [&answer](Response r) { answer = r; });
  return answer;
}

TEST(RoutesTest, LivezReadyzMetrics) {
  Snapshot snapshot = OneApp(2, false);
  EXPECT_EQ(Get(snapshot, "/livez").status, 200);
  EXPECT_EQ(Get(snapshot, "/livez", {{"verbose", ""}}).body,
            "[+]event-loop ok\nlivez check passed\n");
  EXPECT_EQ(Get(snapshot, "/readyz").body, "ok\n");
  Response unready = Get(OneApp(0, false), "/readyz");
  EXPECT_EQ(unready.status, 503);
  EXPECT_EQ(unready.body, "api: 0 ready workers, 1 needed\n");
  EXPECT_EQ(Get(OneApp(2, true), "/readyz", {{"verbose", ""}}).body,
            "[-]shutdown failed: tend is shutting down\n[+]app:api ok\nreadyz check failed\n");
  EXPECT_EQ(Get(snapshot, "/metrics").content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Get(snapshot, "/elsewhere").status, 404);
}

// A client still reading the last body shares it for a second; slow readers that each keep
// a body of their own make tend hold at most four.
TEST(RoutesTest, MetricsBodiesAreSharedAndBounded) {
  Snapshot snapshot = OneApp(2, false);
  std::chrono::steady_clock::time_point now{};
  Server::Handler routes =
      Routes([&snapshot](bool) { return snapshot; }, nullptr, [&now] { return now; });
  auto scrape = [&routes] {
    std::shared_ptr<const std::string> body;
    routes({"GET", "/metrics", {}}, [&body](Response r) { body = r.shared_body; });
    return body;
  };
  std::shared_ptr<const std::string> first = scrape();
  now += std::chrono::milliseconds(900);
  EXPECT_EQ(scrape(), first);
  now += std::chrono::milliseconds(200);
  EXPECT_NE(scrape(), first);  // over a second since it was made

  std::vector<std::shared_ptr<const std::string>> readers{first};
  std::set<const std::string*> distinct{first.get()};
  for (int i = 0; i < 20; ++i) {
    now += std::chrono::seconds(2);
    readers.push_back(scrape());
    distinct.insert(readers.back().get());
  }
  EXPECT_EQ(distinct.size(), 4u);
  readers.clear();  // the readers are done: the next scrape is fresh again
  std::shared_ptr<const std::string> last = scrape();
  now += std::chrono::seconds(2);
  EXPECT_NE(scrape(), last);
}

}  // namespace
}  // namespace tend::http
