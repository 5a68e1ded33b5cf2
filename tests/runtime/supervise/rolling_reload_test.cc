// A rolling reload's steps against a fake app: every path, no process and no clock.
#include "runtime/supervise/rolling_reload.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tend::supervise {
namespace {

using Started = ReloadTarget::Started;

// An app of `instances` instances, each serving a worker of some generation. It records
// what the reload asked, and checks the invariants a user relies on as it goes.
class FakeApp : public ReloadTarget {
 public:
  explicit FakeApp(size_t instances) : generation_(instances, 1) {}

  bool Runs(size_t index) const override {
    return index < generation_.size() && generation_[index] > 0;
  }
  Started StartNextTo(size_t index, std::string* why) override {
    Started result = Next(&next_beside_);
    if (result == Started::kFailed) {
      *why = "no such file";
    } else {
      starting_.push_back(index);
      max_starting_ = std::max(max_starting_, starting_.size());
    }
    log_.push_back("start " + std::to_string(index));
    return result;
  }
  void Promote(size_t index) override {
    ASSERT_NE(std::find(starting_.begin(), starting_.end(), index), starting_.end());
    starting_.erase(std::find(starting_.begin(), starting_.end(), index));
    ++generation_[index];
    log_.push_back("promote " + std::to_string(index));
  }
  pid_t StopFirst(size_t index) override {
    generation_[index] = 0;
    ++down_;
    max_down_ = std::max(max_down_, down_);
    log_.push_back("stop " + std::to_string(index));
    return PidOf(index);
  }
  Started StartInPlace(size_t index) override {
    if (on_start_in_place_) on_start_in_place_(index);
    Started result = Next(&next_in_place_);
    if (result != Started::kFailed) {
      generation_[index] = 2;
      --down_;
    }
    log_.push_back("start in place " + std::to_string(index));
    return result;
  }
  void Replaced(size_t index) override {
    if (!Serving(index)) ADD_FAILURE() << "instance " << index << " replaced but not serving";
    replaced_.push_back(index);
  }
  void Failed(const std::string& why) override { failures_.push_back(why); }

  static pid_t PidOf(size_t index) { return static_cast<pid_t>(1000 + index); }
  bool Serving(size_t index) const { return generation_[index] > 0; }
  size_t ServingCount() const {
    return std::count_if(generation_.begin(), generation_.end(), [](int g) { return g > 0; });
  }
  void Remove(size_t index) { generation_[index] = 0; }  // exited, or scaled away

  std::deque<Started> next_beside_;    // what the next starts next to old workers do
  std::deque<Started> next_in_place_;  // what the next in-place starts do
  std::function<void(size_t)> on_start_in_place_;
  std::vector<int> generation_;   // 0: nothing runs
  std::vector<size_t> starting_;  // replacements starting next to their old worker
  std::vector<size_t> replaced_;
  std::vector<std::string> failures_;
  std::vector<std::string> log_;
  size_t max_starting_ = 0;
  size_t down_ = 0;  // stopped first, and not yet started again
  size_t max_down_ = 0;

 private:
  static Started Next(std::deque<Started>* outcomes) {
    if (outcomes->empty()) return Started::kStarting;
    Started next = outcomes->front();
    outcomes->pop_front();
    return next;
  }
};

RollingReload::Plan AllOf(size_t instances, size_t surge, bool stop_first = false) {
  RollingReload::Plan plan;
  for (size_t i = 0; i < instances; ++i) plan.instances.push_back(i);
  plan.surge = surge;
  plan.stop_first = stop_first;
  return plan;
}

TEST(RollingReloadTest, SurgeBoundsTheReplacementsUnderWayAndEachInstanceIsReplacedOnce) {
  FakeApp app(5);
  RollingReload reload(app, AllOf(5, 2));
  reload.Begin();
  EXPECT_EQ(app.starting_, (std::vector<size_t>{0, 1}));
  for (size_t ready : {1, 0, 2, 3, 4}) {
    EXPECT_FALSE(reload.done());
    EXPECT_TRUE(reload.OnReplacementReady(ready));
  }
  EXPECT_TRUE(reload.done());
  EXPECT_FALSE(reload.failed());
  EXPECT_EQ(app.max_starting_, 2u);
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{1, 0, 2, 3, 4}));
  EXPECT_EQ(app.generation_, (std::vector<int>{2, 2, 2, 2, 2}));
}

TEST(RollingReloadTest, ASurgeOfZeroMeansOneAtATime) {
  FakeApp app(3);
  RollingReload reload(app, AllOf(3, 0));
  reload.Begin();
  EXPECT_EQ(app.starting_.size(), 1u);
}

TEST(RollingReloadTest, BesideTheOldWorkersEveryInstanceServesThroughout) {
  // The old worker drains only once its replacement is ready: no instance is ever down, so
  // the app never has fewer ready workers than it needs.
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 2));
  reload.Begin();
  while (!app.starting_.empty()) {
    EXPECT_EQ(app.ServingCount(), 4u);  // no old worker was stopped before its replacement
    ASSERT_TRUE(reload.OnReplacementReady(app.starting_.front()));
  }
  EXPECT_EQ(app.ServingCount(), 4u);
  EXPECT_TRUE(reload.done());
}

TEST(RollingReloadTest, StoppingFirstTakesDownAtMostSurgeInstancesAtATime) {
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 2, /*stop_first=*/true));
  reload.Begin();
  EXPECT_EQ(app.log_, (std::vector<std::string>{"stop 0", "stop 1"}));
  for (size_t index = 0; index < 4; ++index) {
    EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(index)));
    EXPECT_TRUE(reload.OnInstanceReady(index));
  }
  EXPECT_TRUE(reload.done());
  EXPECT_EQ(app.max_down_, 2u);
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{0, 1, 2, 3}));
}

TEST(RollingReloadTest, AReplacementThatNeverGetsReadyHoldsTheReloadAndTheOldWorkerServes) {
  FakeApp app(3);
  RollingReload reload(app, AllOf(3, 1));
  reload.Begin();
  // Other instances' events, and pids it never stopped, are no step of this reload.
  EXPECT_FALSE(reload.OnReplacementReady(2));
  EXPECT_FALSE(reload.OnStoppedExited(4242));
  EXPECT_FALSE(reload.OnInstanceReady(0));
  EXPECT_FALSE(reload.done());
  EXPECT_EQ(app.starting_, (std::vector<size_t>{0}));
  EXPECT_TRUE(app.Serving(0));
  // Its ready timeout kills it: the reload fails, and begins no other instance.
  EXPECT_TRUE(reload.OnReplacementExited(0, "the new worker for instance 0 exited"));
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.failures_, (std::vector<std::string>{"the new worker for instance 0 exited"}));
  EXPECT_EQ(app.generation_, (std::vector<int>{1, 1, 1}));
  EXPECT_TRUE(app.replaced_.empty());
}

TEST(RollingReloadTest, AFailureLetsTheReplacementsUnderWayFinish) {
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 2));
  reload.Begin();
  EXPECT_TRUE(reload.OnReplacementExited(1, "crashed"));
  EXPECT_FALSE(reload.done());  // instance 0's replacement is still starting
  EXPECT_TRUE(reload.OnReplacementReady(0));
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{0}));
  EXPECT_EQ(app.generation_, (std::vector<int>{2, 1, 1, 1}));
}

TEST(RollingReloadTest, AStartThatFailsEndsTheReloadAndNamesWhy) {
  FakeApp app(3);
  app.next_beside_ = {Started::kReady, Started::kFailed};
  RollingReload reload(app, AllOf(3, 1));
  reload.Begin();
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.failures_, (std::vector<std::string>{"no such file"}));
  EXPECT_EQ(app.log_, (std::vector<std::string>{"start 0", "promote 0", "start 1"}));
}

TEST(RollingReloadTest, WorkersReadyAtOnceAreReplacedInOneCall) {
  FakeApp app(3);
  app.next_beside_ = {Started::kReady, Started::kReady, Started::kReady};
  RollingReload reload(app, AllOf(3, 1));
  reload.Begin();
  EXPECT_TRUE(reload.done());
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{0, 1, 2}));

  FakeApp fork_mode(2);
  fork_mode.next_in_place_ = {Started::kReady, Started::kReady};
  RollingReload stop_first(fork_mode, AllOf(2, 1, /*stop_first=*/true));
  stop_first.Begin();
  EXPECT_TRUE(stop_first.OnStoppedExited(FakeApp::PidOf(0)));
  EXPECT_EQ(fork_mode.log_, (std::vector<std::string>{"stop 0", "start in place 0", "stop 1"}));
  EXPECT_TRUE(stop_first.OnStoppedExited(FakeApp::PidOf(1)));
  EXPECT_TRUE(stop_first.done());
}

TEST(RollingReloadTest, ANewWorkerThatExitsBeforeItIsReadyMidReloadFailsIt) {
  FakeApp app(3);
  RollingReload reload(app, AllOf(3, 1, /*stop_first=*/true));
  reload.Begin();
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(0)));
  EXPECT_FALSE(reload.OnInstanceExited(1));  // not the one it waits for
  EXPECT_TRUE(reload.OnInstanceExited(0));
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.failures_,
            (std::vector<std::string>{"the new worker for instance 0 exited before it was ready"}));
  EXPECT_EQ(app.log_, (std::vector<std::string>{"stop 0", "start in place 0"}));
}

TEST(RollingReloadTest, ANewWorkerThatCannotStartInPlaceFailsTheReload) {
  FakeApp app(2);
  app.next_in_place_ = {Started::kFailed};
  RollingReload reload(app, AllOf(2, 1, /*stop_first=*/true));
  reload.Begin();
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(0)));
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.failures_,
            (std::vector<std::string>{"the new worker for instance 0 could not start"}));
}

TEST(RollingReloadTest, AFailedStartLetsTheReplacementAlreadyStartingFinish) {
  FakeApp app(4);
  app.next_beside_ = {Started::kStarting, Started::kFailed};
  RollingReload reload(app, AllOf(4, 2));
  reload.Begin();
  EXPECT_EQ(app.failures_, (std::vector<std::string>{"no such file"}));
  EXPECT_FALSE(reload.done());
  EXPECT_TRUE(reload.OnReplacementReady(0));
  EXPECT_TRUE(reload.done());
  EXPECT_TRUE(reload.failed());
  EXPECT_EQ(app.log_, (std::vector<std::string>{"start 0", "start 1", "promote 0"}));
}

TEST(RollingReloadTest, AWorkerStoppedBeforeAFailureStillGetsItsNewWorker) {
  // Stopped first, its instance runs nothing: the failure must not leave it so.
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 2, /*stop_first=*/true));
  reload.Begin();
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(0)));
  EXPECT_TRUE(reload.OnInstanceExited(0));
  EXPECT_TRUE(reload.failed());
  EXPECT_FALSE(reload.done());
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(1)));
  EXPECT_TRUE(app.Serving(1));
  EXPECT_TRUE(reload.OnInstanceReady(1));
  EXPECT_TRUE(reload.done());
  EXPECT_EQ(app.log_,
            (std::vector<std::string>{"stop 0", "stop 1", "start in place 0", "start in place 1"}));
}

TEST(RollingReloadTest, NothingToReplaceIsDoneAtOnce) {
  FakeApp none(0);
  RollingReload empty(none, AllOf(0, 1));
  empty.Begin();
  EXPECT_TRUE(empty.done());

  FakeApp idle(2);
  idle.Remove(0);
  idle.Remove(1);
  RollingReload nothing_runs(idle, AllOf(2, 1));
  nothing_runs.Begin();
  EXPECT_TRUE(nothing_runs.done());
  EXPECT_FALSE(nothing_runs.failed());
  EXPECT_TRUE(idle.log_.empty());
}

TEST(RollingReloadTest, AnEventFromInsideATargetCallIsNoStepOfIt) {
  // App's in-place start announces a worker that is ready at once, reaching back here: the
  // reload must not take a step inside another (it could end, and be destroyed, in it).
  FakeApp app(2);
  app.next_in_place_ = {Started::kStarting, Started::kReady};
  RollingReload reload(app, AllOf(2, 2, /*stop_first=*/true));
  std::vector<bool> nested;
  app.on_start_in_place_ = [&](size_t) { nested.push_back(reload.OnInstanceReady(0)); };
  reload.Begin();
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(0)));
  EXPECT_TRUE(reload.OnStoppedExited(FakeApp::PidOf(1)));  // instance 0 is waited for now
  EXPECT_EQ(nested, (std::vector<bool>{false, false}));
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{1}));
  EXPECT_TRUE(reload.OnInstanceReady(0));
  EXPECT_TRUE(reload.done());
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{1, 0}));
}

TEST(RollingReloadTest, AnInstanceWithNothingRunningWhenItsTurnComesIsPassedOver) {
  // Its worker exited mid-reload (its restart policy has it), or a scale removed it.
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 1));
  reload.Begin();
  app.Remove(1);
  app.Remove(2);
  EXPECT_TRUE(reload.OnReplacementReady(0));
  EXPECT_EQ(app.starting_, (std::vector<size_t>{3}));
  EXPECT_TRUE(reload.OnReplacementReady(3));
  EXPECT_TRUE(reload.done());
  EXPECT_FALSE(reload.failed());
  EXPECT_EQ(app.replaced_, (std::vector<size_t>{0, 3}));
}

TEST(RollingReloadTest, AnOldWorkerThatExitsWhileItsReplacementStartsIsStillReplaced) {
  FakeApp app(2);
  RollingReload reload(app, AllOf(2, 1));
  reload.Begin();
  app.Remove(0);  // the old worker crashed: its replacement fills the slot when ready
  EXPECT_FALSE(reload.OnInstanceExited(0));
  EXPECT_TRUE(reload.OnReplacementReady(0));
  EXPECT_TRUE(app.Serving(0));
  EXPECT_TRUE(reload.OnReplacementReady(1));
  EXPECT_TRUE(reload.done());
}

TEST(RollingReloadTest, AStopCutsItShortAndLaterEventsAreNoStepOfIt) {
  FakeApp app(4);
  RollingReload reload(app, AllOf(4, 2));
  reload.Begin();
  reload.Abort();
  EXPECT_TRUE(reload.done());
  EXPECT_FALSE(reload.OnReplacementReady(0));
  EXPECT_FALSE(reload.OnReplacementExited(1, "stopped"));
  EXPECT_EQ(app.log_, (std::vector<std::string>{"start 0", "start 1"}));
  EXPECT_TRUE(app.failures_.empty());

  FakeApp fork_mode(2);
  RollingReload stop_first(fork_mode, AllOf(2, 1, /*stop_first=*/true));
  stop_first.Begin();
  stop_first.Abort();
  EXPECT_FALSE(stop_first.OnStoppedExited(FakeApp::PidOf(0)));  // no new worker starts
  EXPECT_EQ(fork_mode.log_, (std::vector<std::string>{"stop 0"}));

  FakeApp starting(2);
  RollingReload in_place(starting, AllOf(2, 1, /*stop_first=*/true));
  in_place.Begin();
  EXPECT_TRUE(in_place.OnStoppedExited(FakeApp::PidOf(0)));
  in_place.Abort();
  EXPECT_TRUE(in_place.done());
  EXPECT_FALSE(in_place.OnInstanceReady(0));
  EXPECT_FALSE(in_place.OnInstanceExited(0));
  EXPECT_TRUE(starting.replaced_.empty());
}

}  // namespace
}  // namespace tend::supervise
