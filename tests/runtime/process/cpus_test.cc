#include "runtime/process/cpus.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace tend::process {
namespace {

// A cgroup tree of files the test writes, as a container sees its own at the root.
class CpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::string(getenv("TEST_TMPDIR")) + "/" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mkdir(root_.c_str(), 0755);
    mkdir((root_ + "/cpu").c_str(), 0755);
  }
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(root_ + "/" + path) << text;
  }
  std::string root_;
};

TEST_F(CpusTest, V2QuotaRoundsDown) {
  Write("cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 1);
  Write("cpu.max", "400000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 4);
}

TEST_F(CpusTest, V2MaxMeansNoLimit) {
  Write("cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 0);
}

TEST_F(CpusTest, SmallQuotaIsStillOneCpu) {
  Write("cpu.max", "20000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 1);
}

TEST_F(CpusTest, V1QuotaAndPeriod) {
  Write("cpu/cpu.cfs_quota_us", "250000\n");
  Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 2);
  Write("cpu/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(CgroupCpuLimit(root_), 0);
}

TEST_F(CpusTest, AvailableCpusIsCappedByTheQuotaAndAtLeastOne) {
  Write("cpu.max", "100000 100000\n");
  EXPECT_EQ(AvailableCpus(root_), 1);
  Write("cpu.max", "max 100000\n");
  EXPECT_GE(AvailableCpus(root_), 1);
}

}  // namespace
}  // namespace tend::process
