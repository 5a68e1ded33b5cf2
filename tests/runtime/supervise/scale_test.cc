// The scaling API the control plane exposes, driven with real worker processes.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <limits>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "runtime/loop/event_loop.h"
#include "runtime/supervise/supervisor.h"
#include "tests/testing/faults.h"

namespace tend::supervise {
namespace {

using namespace std::chrono_literals;

class ScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create());
    v1::App* app = config_.add_apps();
    app->set_name("sleeper");
    app->add_command("sleep");
    app->add_command("1000");
    app->set_instances(2);
    app->set_autorestart(true);
    app->set_min_uptime_ms(1000);
    app->set_max_restarts(16);
    app->set_kill_timeout_ms(5000);
    supervisor_ = std::make_unique<Supervisor>(config_, *loop_,
                                               std::vector<std::string>{"PATH=/usr/bin:/bin"});
    ASSERT_TRUE(supervisor_->Start().ok());
    ASSERT_TRUE(RunUntil([this] { return Pids().size() == 2; }));
  }

  void TearDown() override {
    supervisor_->Stop(SIGTERM);
    EXPECT_TRUE(RunUntil([this] { return supervisor_->Finished(); }));
  }

  // Runs the loop, reaping exited workers as tend's init does, until `done` holds; false
  // after 10 s.
  bool RunUntil(const std::function<bool()>& done) {
    bool met = false;
    auto poll = loop_->Every(10ms, [&] {
      int status;
      for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) supervisor_->OnExit(pid, status);
      if (done()) {
        met = true;
        loop_->Stop();
      }
    });
    auto give_up = loop_->After(10s, [this] { loop_->Stop(); });
    EXPECT_TRUE(loop_->Run().ok());
    return met;
  }

  const App& app() const { return *supervisor_->apps()[0]; }

  std::set<pid_t> Pids() const {
    std::set<pid_t> pids;
    for (const WorkerInfo& worker : app().Workers()) pids.insert(worker.pid);
    return pids;
  }

  static bool AllGone(const std::set<pid_t>& pids) {
    for (pid_t pid : pids) {
      if (kill(pid, 0) == 0) return false;
    }
    return true;
  }

  v1::Config config_;
  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<Supervisor> supervisor_;
};

TEST_F(ScaleTest, AbsoluteCountStartsAndStopsWorkers) {
  std::set<pid_t> first = Pids();
  ASSERT_TRUE(supervisor_->Scale("sleeper", 4, /*relative=*/false).ok());
  ASSERT_TRUE(RunUntil([this] { return Pids().size() == 4; }));
  std::vector<int> instances;
  for (const WorkerInfo& worker : app().Workers()) instances.push_back(worker.instance);
  EXPECT_EQ(instances, (std::vector<int>{0, 1, 2, 3}));

  ASSERT_TRUE(supervisor_->Scale("sleeper", 1, false).ok());
  std::set<pid_t> kept = Pids();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(app().Workers()[0].instance, 0);
  EXPECT_TRUE(first.count(*kept.begin())) << "instance 0 kept its worker";
  std::set<pid_t> removed = first;
  removed.erase(*kept.begin());
  EXPECT_TRUE(RunUntil([&] { return AllGone(removed); }));
}

TEST_F(ScaleTest, AScaleUpStartsAFewWorkersATurnNotAllInOne) {
  // Workers that are ready at once (fork mode) hold no turn of the pacing for long: were
  // they all spawned in the call, a scale to thousands would stall the loop for seconds.
  ASSERT_TRUE(supervisor_->Scale("sleeper", 66, false).ok());
  EXPECT_LE(Pids().size(), 2 + App::kSpawnsPerTurn);
  ASSERT_TRUE(RunUntil([this] { return Pids().size() == 66; }));
}

// A spawn short of descriptors (EMFILE for real; ENOMEM, ENFILE and EAGAIN are the same
// errors::IsTransient, tested there) is tried again later, and the instance is never given up.
TEST_F(ScaleTest, ASpawnShortOfDescriptorsIsTriedAgainUntilItStarts) {
  {
    testing::NoDescriptorsLeft exhausted;
    ASSERT_TRUE(exhausted.ok());
    ASSERT_TRUE(supervisor_->Scale("sleeper", 3, false).ok());
    EXPECT_EQ(Pids().size(), 2u);
  }
  ASSERT_TRUE(RunUntil([this] { return Pids().size() == 3; }));
  EXPECT_FALSE(supervisor_->Finished());
}

TEST(SpawnBackoffTest, DoublesFrom100MsUpTo15s) {
  std::vector<int64_t> steps;
  for (Millis last{0}; steps.size() < 10; steps.push_back(last.count())) {
    last = App::SpawnBackoffAfter(last);
  }
  EXPECT_EQ(steps,
            (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000}));
}

TEST_F(ScaleTest, RelativeCountsAddAndRemove) {
  ASSERT_TRUE(supervisor_->Scale("sleeper", +3, /*relative=*/true).ok());
  EXPECT_TRUE(RunUntil([this] { return Pids().size() == 5; }));
  ASSERT_TRUE(supervisor_->Scale("sleeper", -4, true).ok());
  EXPECT_EQ(app().instances(), 1);
}

TEST_F(ScaleTest, ScaledToZeroTheAppIdlesUntilScaledUp) {
  std::set<pid_t> first = Pids();
  ASSERT_TRUE(supervisor_->Scale("sleeper", 0, false).ok());
  ASSERT_TRUE(RunUntil([&] { return AllGone(first); }));
  EXPECT_FALSE(supervisor_->Finished()) << "tend must not exit";
  ASSERT_TRUE(supervisor_->Scale("sleeper", 2, false).ok());
  EXPECT_TRUE(RunUntil([this] { return Pids().size() == 2; }));
}

TEST_F(ScaleTest, BadRequestsChangeNothing) {
  std::set<pid_t> before = Pids();
  EXPECT_EQ(supervisor_->Scale("nobody", 3, false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(supervisor_->Scale("sleeper", -1, false).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(supervisor_->Scale("sleeper", -3, true).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(supervisor_->Scale("sleeper", 5000, false).code(), absl::StatusCode::kInvalidArgument);
  // Deltas that would overflow an int: refused, never wrapped into a count.
  absl::Status huge = supervisor_->Scale("sleeper", std::numeric_limits<int>::max(), true);
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.message(), "+2147483647 from 2 is 2147483649 instances: expected 0 to 4096");
  EXPECT_EQ(supervisor_->Scale("sleeper", std::numeric_limits<int>::min(), true).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pids(), before);
}

TEST_F(ScaleTest, RefusedDuringAReload) {
  supervisor_->Reload();  // fork mode: stops each old worker before starting its new one
  absl::Status refused = supervisor_->Scale("sleeper", 3, false);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "sleeper is reloading; scale it when the reload is done");
  EXPECT_TRUE(RunUntil([this] { return Pids().size() == 2; }));
  EXPECT_EQ(app().instances(), 2);
}

TEST_F(ScaleTest, RefusedWhileStopping) {
  supervisor_->Stop(SIGTERM);
  EXPECT_EQ(supervisor_->Scale("sleeper", 3, false).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SupervisorThreadTest, ACallOffTheLoopThreadAbortsInCheckedBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "the check is in debug and sanitizer builds";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::unique_ptr<loop::EventLoop> loop = std::move(*loop::EventLoop::Create());
  v1::Config config;
  Supervisor supervisor(config, *loop, {});
  EXPECT_DEATH(std::thread([&] { supervisor.Scale("web", 3, false).IgnoreError(); }).join(),
               "Scale called off the event loop's thread");
  EXPECT_EQ(supervisor.Scale("web", 3, false).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tend::supervise
