#include "runtime/http/routes.h"

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
  EXPECT_EQ(Get(snapshot, "/livez", {{"verbose", ""}}).body, "[+]event-loop ok\nlivez check passed\n");
  EXPECT_EQ(Get(snapshot, "/readyz").body, "ok\n");
  Response unready = Get(OneApp(0, false), "/readyz");
  EXPECT_EQ(unready.status, 503);
  EXPECT_EQ(unready.body, "api: 0 ready workers, 1 needed\n");
  EXPECT_EQ(Get(OneApp(2, true), "/readyz", {{"verbose", ""}}).body,
            "[-]shutdown failed: tend is shutting down\n[+]app:api ok\nreadyz check failed\n");
  EXPECT_EQ(Get(snapshot, "/metrics").content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Get(snapshot, "/elsewhere").status, 404);
}

}  // namespace
}  // namespace tend::http
