#include "runtime/http/routes.h"

#include <thread>

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

// The routes, answered by a loop running on its own thread as tend's main thread would.
class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create());
    bridge_ = std::move(*loop::CrossThread::Create(*loop_));
  }
  void TearDown() override {
    if (running_.joinable()) {
      bridge_->Post([this] { loop_->Stop(); });
      running_.join();
    }
  }
  void RunLoop() { running_ = std::thread([this] { EXPECT_TRUE(loop_->Run().ok()); }); }
  Response Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    return Routes(*bridge_, [this](bool) { return snapshot_; })({"GET", path, std::move(query)});
  }

  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<loop::CrossThread> bridge_;
  std::thread running_;
  Snapshot snapshot_ = OneApp(2, false);
};

TEST_F(RoutesTest, LivezFailsWhenTheLoopDoesNotAnswer) {
  // The loop never runs: as if it were stuck.
  Response stuck = Get("/livez");
  EXPECT_EQ(stuck.status, 503);
  EXPECT_EQ(stuck.body, "tend's event loop did not answer within 900 ms\n");
  EXPECT_EQ(Get("/readyz").status, 503);
  EXPECT_EQ(Get("/metrics").status, 503);
}

TEST_F(RoutesTest, LivezAndReadyzWithARunningLoop) {
  RunLoop();
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/readyz").body, "ok\n");
  snapshot_ = OneApp(0, false);
  Response unready = Get("/readyz");
  EXPECT_EQ(unready.status, 503);
  EXPECT_EQ(unready.body, "api: 0 ready workers, 1 needed\n");
  snapshot_ = OneApp(2, true);
  EXPECT_EQ(Get("/readyz", {{"verbose", ""}}).body,
            "[-]shutdown failed: tend is shutting down\n[+]app:api ok\nreadyz check failed\n");
  EXPECT_EQ(Get("/metrics").content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Get("/elsewhere").status, 404);
}

}  // namespace
}  // namespace tend::http
