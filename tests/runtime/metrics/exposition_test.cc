#include "runtime/metrics/exposition.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace tend::metrics {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ExpositionTest, WorkersAppsInitAndProcess) {
  supervise::AppStatus app;
  app.name = "api";
  app.desired = 2;
  app.ready = 1;
  app.reloads_succeeded = 3;
  app.reload_durations.Observe(0.7);
  app.reload_durations.Observe(4);
  supervise::InstanceStatus serving;
  serving.instance = 0;
  serving.pid = 4242;
  serving.state = "ready";
  serving.started_unix_ms = 1700000000500;
  serving.restarts[static_cast<int>(supervise::RestartReason::kExited)] = 2;
  serving.usage = process::Usage{64 << 20, 1.5};
  supervise::InstanceStatus down;
  down.instance = 1;
  app.instances = {serving, down};
  InitCounters init{7, {{SIGHUP, 2}}, 100, 5};

  std::string text = Exposition({app}, init);
  EXPECT_TRUE(Has(text, "# TYPE tend_worker_up gauge")) << text;
  EXPECT_TRUE(Has(text, "tend_worker_up{app=\"api\",app_instance=\"0\"} 1"));
  EXPECT_TRUE(Has(text, "tend_worker_up{app=\"api\",app_instance=\"1\"} 0"));
  EXPECT_TRUE(Has(text, "tend_worker_ready{app=\"api\",app_instance=\"0\"} 1"));
  EXPECT_TRUE(
      Has(text, "tend_worker_restarts_total{app=\"api\",app_instance=\"0\",reason=\"exited\"} 2"));
  EXPECT_TRUE(
      Has(text, "tend_worker_resident_memory_bytes{app=\"api\",app_instance=\"0\"} 67108864"));
  EXPECT_TRUE(Has(text, "tend_worker_cpu_seconds_total{app=\"api\",app_instance=\"0\"} 1.5"));
  EXPECT_TRUE(
      Has(text, "tend_worker_start_time_seconds{app=\"api\",app_instance=\"0\"} 1700000000.5"));
  EXPECT_EQ(text.find("tend_worker_start_time_seconds{app=\"api\",app_instance=\"1\"}"),
            std::string::npos)
      << "no worker, no start time";
  EXPECT_TRUE(Has(text, "tend_app_desired_workers{app=\"api\"} 2"));
  EXPECT_TRUE(Has(text, "tend_app_ready_workers{app=\"api\"} 1"));
  EXPECT_TRUE(Has(text, "tend_app_reloads_total{app=\"api\",result=\"succeeded\"} 3"));
  EXPECT_TRUE(Has(text, "tend_app_reload_duration_seconds_bucket{app=\"api\",le=\"1\"} 1"));
  EXPECT_TRUE(Has(text, "tend_app_reload_duration_seconds_bucket{app=\"api\",le=\"5\"} 2"));
  EXPECT_TRUE(Has(text, "tend_app_reload_duration_seconds_bucket{app=\"api\",le=\"+Inf\"} 2"));
  EXPECT_TRUE(Has(text, "tend_app_reload_duration_seconds_count{app=\"api\"} 2"));
  EXPECT_TRUE(Has(text, "tend_zombies_reaped_total 7"));
  EXPECT_TRUE(Has(text, "tend_signals_forwarded_total{signal=\"SIGHUP\"} 2"));
  EXPECT_TRUE(Has(text, "tend_log_lines_relayed_total 100"));
  EXPECT_TRUE(Has(text, "tend_log_lines_dropped_total 5"));
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_start_time_seconds "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

}  // namespace
}  // namespace tend::metrics
