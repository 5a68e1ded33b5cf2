// One frame of `tend ctl top`, laid out for the terminal it gets.
#include "runtime/control/top_screen.h"

#include "gtest/gtest.h"

namespace tend::control {
namespace {

TopView Workers(int count) {
  TopView view;
  view.clock = "12:00:00";
  view.now_unix_ms = 100000;
  v1::AppState* app = view.list.add_apps();
  app->set_name("web");
  app->set_desired(count);
  app->set_ready(count);
  app->set_last_reload_unix_ms(40000);
  app->set_last_reload_ok(true);
  for (int i = 0; i < count; ++i) {
    v1::WorkerState* worker = app->add_workers();
    worker->set_instance(i);
    worker->set_pid(1000 + i);
    worker->set_state("ready");
    worker->set_restarts(i);
    worker->set_uptime_seconds(90);
    worker->set_memory_bytes(50 << 20);
    view.cpu_percent[{"web", i}] = 12.5;
  }
  view.events = {"11:59:00 WORKER_READY web[0] pid 1000", "11:59:01 WORKER_READY web[1] pid 1001"};
  return view;
}

TEST(TopScreenTest, EveryWorkerAppAndEventWhenThereIsRoom) {
  std::vector<std::string> lines = RenderTop(Workers(2), 120, 40);
  ASSERT_GE(lines.size(), 10u);
  EXPECT_NE(lines[0].find("12:00:00  1 apps, 2 workers"), std::string::npos);
  EXPECT_EQ(lines[2], "web                 0     1000 ready         90s        0   12.5     50.0M");
  EXPECT_NE(lines[3].find(" 1001 "), std::string::npos);
  EXPECT_NE(lines[6].find("2/2 no         60s ago, ok"), std::string::npos) << lines[6];
  EXPECT_EQ(lines.back(), "11:59:01 WORKER_READY web[1] pid 1001");
}

TEST(TopScreenTest, FitsASmallTerminal) {
  std::vector<std::string> lines = RenderTop(Workers(50), 30, 10);
  ASSERT_EQ(lines.size(), 10u);
  for (const std::string& line : lines) EXPECT_LE(line.size(), 30u);
  EXPECT_EQ(lines.back(), "... 43 more workers");
}

TEST(TopScreenTest, ASnapshotHasNoBound) {
  EXPECT_EQ(RenderTop(Workers(50), 1000, 0).size(), 2u + 50 + 3 + 4);
}

}  // namespace
}  // namespace tend::control
