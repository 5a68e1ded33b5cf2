// max_memory_restart's check, in simulated time: no sleeping for its 2 s period.
#include "runtime/supervise/memory_limit.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/simulated_time.h"

namespace tend::supervise {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t kMib = 1024 * 1024;

class MemoryLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_ = std::move(*loop::EventLoop::Create(time_)); }

  std::vector<MemoryLimit::Candidate> Candidates() const {
    std::vector<MemoryLimit::Candidate> candidates;
    for (size_t i = 0; i < resident_.size(); ++i) {
      candidates.push_back({i, static_cast<pid_t>(100 + i), [this, i] {
                              return resident_[i] ? std::optional<process::Usage>({*resident_[i]})
                                                  : std::nullopt;
                            }});
    }
    return candidates;
  }

  void Watch(uint64_t limit_bytes) {
    limit_ = std::make_unique<MemoryLimit>(
        *loop_, limit_bytes, [this] { return Candidates(); },
        [this](size_t instance, std::string why) {
          over_.push_back({instance, why});
        });
  }

  testing::SimulatedTime time_;  // outlives the loop
  std::unique_ptr<loop::EventLoop> loop_;
  std::vector<std::optional<uint64_t>> resident_;  // nullopt: its /proc entry is gone
  std::unique_ptr<MemoryLimit> limit_;
  std::vector<std::pair<size_t, std::string>> over_;
};

TEST_F(MemoryLimitTest, EveryTwoSecondsTheFirstWorkerOverTheLimitIsReported) {
  resident_ = {10 * kMib, 300 * kMib, 400 * kMib};
  Watch(256 * kMib);
  time_.RunFor(*loop_, 1900ms);
  EXPECT_TRUE(over_.empty());
  time_.RunFor(*loop_, 100ms);
  ASSERT_EQ(over_.size(), 1u);  // one at a time: the next check finds the next
  EXPECT_EQ(over_[0].first, 1u);
  EXPECT_EQ(over_[0].second, "pid 101 uses 300 MiB, over the 256 MiB limit");
  resident_[1] = 20 * kMib;  // replaced
  time_.RunFor(*loop_, 2s);
  ASSERT_EQ(over_.size(), 2u);
  EXPECT_EQ(over_[1].first, 2u);
}

TEST_F(MemoryLimitTest, AtTheLimitOrUnreadableIsNotOver) {
  resident_ = {256 * kMib, std::nullopt};
  Watch(256 * kMib);
  time_.RunFor(*loop_, 10s);
  EXPECT_TRUE(over_.empty());
}

TEST_F(MemoryLimitTest, StoppedItChecksNoMore) {
  resident_ = {300 * kMib};
  Watch(256 * kMib);
  limit_.reset();
  time_.RunFor(*loop_, 10s);
  EXPECT_TRUE(over_.empty());
}

}  // namespace
}  // namespace tend::supervise
